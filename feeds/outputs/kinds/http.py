"""HTTP for the HTTP kinds: one guarded session (docs/warehouse-security.md §4) and one answer classifier."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from feeds.outputs.kinds.base import DELIVERED, Answer, Outcome
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.outbound import check_url, mount_guard

PERMANENT_STATUSES = {400, 403, 404, 405, 409, 410, 413, 414, 415, 422}
MESSAGE_CHARS = 500  # of the destination's answer kept as the batch's error


def session(field: str) -> Any:
    """Return a requests session whose every request (and redirect hop) goes only to an allowed host."""
    import requests  # type: ignore[import-untyped,unused-ignore]

    timeout = float(getattr(settings, "WSYNC_OUTPUT_TIMEOUT", 30))
    client = requests.Session()
    # No proxy or .netrc from the environment: the address the guard checked is the one connected to.
    client.trust_env = False
    return mount_guard(client, field, timeout=(min(timeout, 10.0), timeout))


def post(client: Any, url: str, *, field: str, **kwargs: Any) -> Answer:
    """POST and classify the answer; a timeout or refused connection is a retry, a refused address permanent."""
    import requests

    try:
        check_url(url, field=field)
        response = client.post(url, allow_redirects=False, **kwargs)
    except WarehouseError as error:
        return Answer(Outcome.PERMANENT, error.message)
    except requests.Timeout:
        return Answer(Outcome.RETRY, "The destination did not answer in time.")
    except requests.ConnectionError as error:
        return Answer(Outcome.RETRY, f"wsync could not reach the destination ({_reason(error)}).")
    return classify(response.status_code, response.headers, response.text)


def classify(status: int, headers: Mapping[str, str], body: str) -> Answer:
    """Return what an HTTP answer means for the batch that got it."""
    said = " ".join(body.split())[:MESSAGE_CHARS]
    if 200 <= status < 300:
        return DELIVERED
    if status == 429:
        return Answer(Outcome.RATE_LIMITED, f"Rate limited (HTTP 429). {said}".strip(), retry_after(headers))
    if status == 401:
        return Answer(
            Outcome.UNAUTHORIZED, f"The destination refused wsync's credentials (HTTP 401). {said}".strip()
        )
    if status in PERMANENT_STATUSES or (400 <= status < 500 and status not in (408, 425)):
        return Answer(Outcome.PERMANENT, f"The destination refused the batch (HTTP {status}). {said}".strip())
    return Answer(
        Outcome.RETRY, f"The destination failed (HTTP {status}). {said}".strip(), retry_after(headers)
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Return Retry-After in seconds (delta-seconds or an HTTP date), or None."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _reason(error: Exception) -> str:
    text = str(error)
    return (
        "connection refused"
        if "refused" in text.lower()
        else text.split(":")[-1].strip()[:200] or "no answer"
    )
