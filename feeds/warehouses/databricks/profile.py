"""The Delta Sharing recipient profile (the .share file, or its endpoint and bearer token) and its checks."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


# --- the recipient profile ---------------------------------------------------------------------


def validate_name(what: str) -> Any:
    def validate(value: Any) -> None:
        if not _NAME.match(str(value or "")):
            raise ValueError(
                f"Type the {what} name exactly as Databricks shows it: letters, digits, “_” or “-”, "
                "without dots or spaces."
            )

    return validate


def endpoint_problem(endpoint: Any) -> str | None:
    parts = urlsplit(str(endpoint or ""))
    allowed = ("https", "http") if getattr(settings, "WSYNC_ALLOW_PRIVATE_HOSTS", False) else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        return (
            "The endpoint must be an https:// address, as in the activation profile, for example "
            "https://<workspace>.cloud.databricks.com/api/2.0/delta-sharing/metastores/<id>."
        )
    return None


def validate_endpoint(value: Any) -> None:
    if value and (problem := endpoint_problem(value)):
        raise ValueError(problem)


def validate_token(value: Any) -> None:
    if value and re.search(r"\s", str(value).strip()):
        raise ValueError("The bearer token has no spaces; copy it again from the activation profile.")


def profile_dict(text: Any) -> dict[str, Any]:
    """Parse the .share file's JSON; raises ValueError saying how to fix it."""
    try:
        profile = json.loads(text) if isinstance(text, str | bytes) else dict(text)
    except (ValueError, TypeError):
        raise ValueError(
            "This is not a Delta Sharing activation profile: upload the .share file downloaded from the "
            "activation link, unchanged."
        ) from None
    if not isinstance(profile, dict) or "endpoint" not in profile or "shareCredentialsVersion" not in profile:
        raise ValueError(
            "The profile lacks “endpoint” or “shareCredentialsVersion”: upload the .share file unchanged."
        )
    if not profile.get("bearerToken") or profile.get("type", "bearer_token") != "bearer_token":
        raise ValueError(
            "wsync needs a profile with a bearer token (“bearerToken”); download a token-based profile."
        )
    return profile


def expiry_problem(profile: Mapping[str, Any]) -> str | None:
    expires = profile.get("expirationTime")
    if not expires:
        return None
    try:
        moment = datetime.fromisoformat(str(expires))
    except ValueError:
        return None  # the client ignores what it cannot read; so do we
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment <= datetime.now(UTC):
        return (
            f"This activation profile expired on {moment:%Y-%m-%d %H:%M} UTC. Ask the data provider to "
            "rotate the recipient's token (ALTER RECIPIENT … ROTATE TOKEN) and upload the new profile."
        )
    return None


def validate_profile(value: Any) -> None:
    if not value:
        return
    profile = profile_dict(value)
    problem = endpoint_problem(profile["endpoint"]) or expiry_problem(profile)
    if problem:
        raise ValueError(problem)
