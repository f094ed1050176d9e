"""Amplitude: user properties through the Identify API, events through the HTTP V2 API (project API key).

Identify: a form POST of `api_key` and `identification` (a JSON array) to `/identify`, user properties
as `$set` and removals as `$unset`. Events: a JSON POST to `/2/httpapi`, each with `insert_id` = the
event's id, so Amplitude drops an event it has already taken (7 days) when a redelivery sends it again.
Documented limits (docs/outputs.md): at most 2,000 events and 1 MB per request; 429 when throttled.
A user is addressed by user_id = the profile's customer_id, else its email.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from feeds.outputs.kinds import http
from feeds.outputs.kinds.base import DELIVERED, Answer, Limits
from feeds.warehouses.base import ConfigField

EVENTS_PER_REQUEST = 2000
REQUEST_BYTES = 1_000_000


def user_id(batch: Mapping[str, Any]) -> str | None:
    identities = batch.get("user_identities") or {}
    value = identities.get("customer_id") or identities.get("email")
    return str(value) if value else None


def identifications(batches: list[dict]) -> list[dict]:
    """Return the Identify API's identification objects for the batches' attribute changes."""
    found = []
    for batch in batches:
        uid = user_id(batch)
        changed, removed = batch.get("user_attributes") or {}, batch.get("deleted_user_attributes") or []
        if uid is None or not (changed or removed):
            continue
        properties: dict[str, Any] = {}
        if changed:
            properties["$set"] = changed
        if removed:
            properties["$unset"] = dict.fromkeys(removed, "-")
        found.append({"user_id": uid, "user_properties": properties})
    return found


def events(batches: list[dict]) -> list[dict]:
    """Return the HTTP V2 API's event objects for the batches' events."""
    found = []
    for batch in batches:
        uid = user_id(batch)
        for event in batch.get("events") or [] if uid else []:
            data = event.get("data") or {}
            item = {
                "user_id": uid,
                "event_type": str(
                    data.get("event_name") or data.get("screen_name") or event.get("event_type")
                ),
                "insert_id": str(data.get("source_message_id") or ""),
                "event_properties": data.get("custom_attributes") or {},
            }
            if isinstance(data.get("timestamp_unixtime_ms"), int):
                item["time"] = data["timestamp_unixtime_ms"]
            found.append(item)
    return found


class Amplitude:
    kind: ClassVar[str] = "amplitude"
    label: ClassVar[str] = "Amplitude"
    help: ClassVar[str] = "Sets Amplitude user properties (Identify API) and sends events (HTTP V2 API)."
    removals: ClassVar[bool] = True
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "base_url",
            "API address",
            default="https://api2.amplitude.com",
            help_text="https://api2.amplitude.com, or https://api.eu.amplitude.com for EU data residency.",
            binds_secrets=True,
        ),
        ConfigField(
            "api_key",
            "API key",
            kind="password",
            secret=True,
            help_text="Your project's API key (Settings › Projects).",
        ),
    )

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
        self.base = str(config.get("base_url") or "https://api2.amplitude.com").rstrip("/")
        self.key = str(secrets.get("api_key") or "")
        self.client = http.session("base_url")

    @classmethod
    def limits(cls, config: Mapping[str, Any]) -> Limits:
        return Limits(batches=EVENTS_PER_REQUEST, events=EVENTS_PER_REQUEST, bytes=REQUEST_BYTES - 4096)

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        url = str(config.get("base_url") or "")
        if url and not url.startswith(("https://", "http://")):
            return {"base_url": "Start the address with https://."}
        return {}

    def send(self, batch_id: str, payload: bytes) -> Answer:
        batches = orjson.loads(payload)
        found = identifications(batches)
        if found:
            form = {"api_key": self.key, "identification": orjson.dumps(found).decode()}
            answer = http.post(self.client, self.base + "/identify", field="base_url", data=form)
            if not answer.delivered:
                return answer
        sent = events(batches)
        if not sent:
            return DELIVERED
        body = orjson.dumps({"api_key": self.key, "events": sent, "options": {"min_id_length": 1}})
        headers = {"Content-Type": "application/json"}
        return http.post(self.client, self.base + "/2/httpapi", field="base_url", data=body, headers=headers)

    def close(self) -> None:
        self.client.close()
