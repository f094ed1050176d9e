"""Webhook: an HTTPS POST of each batch as a JSON array of mParticle batches, signed and idempotent.

Headers: `Idempotency-Key` (the batch's deterministic id; a redelivery after a crash reuses it),
`X-Wsync-Signature: sha256=<hex HMAC-SHA256 of the body with the output's signing secret>`, and the
output's custom headers (stored encrypted: they often carry a token).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

from feeds.outputs.kinds import http
from feeds.outputs.kinds.base import Answer, Limits
from feeds.warehouses.base import ConfigField

SIGNATURE_HEADER = "X-Wsync-Signature"
MAX_BATCH_SIZE = 10_000


def _batch_size(value: Any) -> None:
    if not 1 <= int(value) <= MAX_BATCH_SIZE:
        raise ValueError(f"Batch size must be between 1 and {MAX_BATCH_SIZE:,}.")


def _headers(value: Any) -> None:
    for line in str(value).splitlines():
        name, colon, _ = line.partition(":")
        if line.strip() and (not colon or not name.strip() or " " in name.strip()):
            raise ValueError(f"Write one header a line as “Name: value” (not “{line.strip()[:60]}”).")


def parse_headers(text: str) -> dict[str, str]:
    """Return the custom headers typed one a line as `Name: value`."""
    pairs = (line.partition(":") for line in text.splitlines() if line.strip())
    return {name.strip(): value.strip() for name, _, value in pairs}


def signature(secret: str, body: bytes) -> str:
    """Return the signature header's value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    kind: ClassVar[str] = "webhook"
    label: ClassVar[str] = "Webhook"
    help: ClassVar[str] = "Posts every change to your own HTTPS endpoint, in mParticle's batch JSON."
    removals: ClassVar[bool] = True
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "url",
            "Endpoint URL",
            help_text="The HTTPS address wsync posts batches to.",
            placeholder="https://hooks.example.com/wsync",
            binds_secrets=True,
        ),
        ConfigField(
            "batch_size",
            "Batch size",
            kind="integer",
            default=1000,
            help_text="How many profiles (and their events) one request carries, 1 to 10,000.",
            validate=_batch_size,
        ),
        ConfigField(
            "signing_secret",
            "Signing secret",
            kind="password",
            secret=True,
            help_text=f"wsync signs each body with HMAC-SHA256 and this secret in the {SIGNATURE_HEADER} header.",
        ),
        ConfigField(
            "headers",
            "Custom headers",
            kind="textarea",
            secret=True,
            required=False,
            help_text="One a line, as “Name: value”, for example an Authorization header. Kept encrypted.",
            validate=_headers,
        ),
    )

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
        self.url = str(config.get("url") or "")
        self.secret = str(secrets.get("signing_secret") or "")
        self.extra = parse_headers(str(secrets.get("headers") or ""))
        self.client = http.session("url")

    @classmethod
    def limits(cls, config: Mapping[str, Any]) -> Limits:
        return Limits(batches=int(config.get("batch_size") or 1000))

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        url = str(config.get("url") or "")
        if url and not url.startswith(("https://", "http://")):
            return {"url": "Start the address with https://."}
        return {}

    def send(self, batch_id: str, payload: bytes) -> Answer:
        headers = {
            **self.extra,
            "Content-Type": "application/json",
            "Idempotency-Key": batch_id,
            SIGNATURE_HEADER: signature(self.secret, payload),
        }
        return http.post(self.client, self.url, field="url", data=payload, headers=headers)

    def close(self) -> None:
        self.client.close()
