"""Braze: `/users/track` with attribute and event objects (REST API key, the instance's REST endpoint).

A user is addressed by `external_id` (the profile's customer_id) or else by email. Documented limits
(docs/outputs.md): at most 75 attribute objects and 75 event objects per request. An attribute set to
null is removed, so removals are sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from feeds.outputs.kinds import http
from feeds.outputs.kinds.base import DELIVERED, Answer, Limits
from feeds.warehouses.base import ConfigField

PER_REQUEST = 75


def user_key(batch: Mapping[str, Any]) -> dict[str, str] | None:
    """Return how Braze finds the batch's user: external_id (customer_id), else email; None when neither."""
    identities = batch.get("user_identities") or {}
    if identities.get("customer_id"):
        return {"external_id": str(identities["customer_id"])}
    if identities.get("email"):
        return {"email": str(identities["email"])}
    return None


def request_body(batches: list[dict]) -> dict[str, list[dict]]:
    """Return the /users/track body for a list of mParticle batches (batches without a key are left out)."""
    attributes, events = [], []
    for batch in batches:
        key = user_key(batch)
        if key is None:
            continue
        changed = {**(batch.get("user_attributes") or {})}
        changed.update(dict.fromkeys(batch.get("deleted_user_attributes") or []))
        if changed:
            attributes.append({**key, **changed})
        for event in batch.get("events") or []:
            data = event.get("data") or {}
            ms = data.get("timestamp_unixtime_ms")
            at = datetime.fromtimestamp(ms / 1000, tz=UTC) if isinstance(ms, int | float) else None
            events.append(
                {
                    **key,
                    "name": str(data.get("event_name") or data.get("screen_name") or event.get("event_type")),
                    "time": (at or datetime.now(tz=UTC)).isoformat(),
                    "properties": data.get("custom_attributes") or {},
                }
            )
    return {"attributes": attributes, "events": events}


class Braze:
    kind: ClassVar[str] = "braze"
    label: ClassVar[str] = "Braze"
    help: ClassVar[str] = "Updates Braze user profiles and logs custom events through /users/track."
    removals: ClassVar[bool] = True
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "instance_url",
            "REST endpoint",
            help_text="Your Braze instance's REST endpoint, e.g. https://rest.iad-01.braze.com.",
            placeholder="https://rest.iad-01.braze.com",
            binds_secrets=True,
        ),
        ConfigField(
            "api_key",
            "REST API key",
            kind="password",
            secret=True,
            help_text="A key with the users.track permission (Settings › API Keys).",
        ),
    )

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
        self.url = str(config.get("instance_url") or "").rstrip("/") + "/users/track"
        self.key = str(secrets.get("api_key") or "")
        self.client = http.session("instance_url")

    @classmethod
    def limits(cls, config: Mapping[str, Any]) -> Limits:
        return Limits(attributes=PER_REQUEST, events=PER_REQUEST)

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        url = str(config.get("instance_url") or "")
        if url and not url.startswith(("https://", "http://")):
            return {"instance_url": "Start the address with https://."}
        return {}

    def send(self, batch_id: str, payload: bytes) -> Answer:
        body = request_body(orjson.loads(payload))
        if not body["attributes"] and not body["events"]:
            return DELIVERED  # nothing Braze can address (no customer_id or email)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        return http.post(
            self.client, self.url, field="instance_url", data=orjson.dumps(body), headers=headers
        )

    def close(self) -> None:
        self.client.close()
