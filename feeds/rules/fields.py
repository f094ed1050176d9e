"""Reading and writing one named field (docs/rules.md#fields) of an mParticle batch (docs/architecture.md#the-batch).

Each function is built once per step, so the per-row work is a dict look-up with no parsing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from feeds.mapping import DEVICE_IDS, IDENTITY_TYPES
from feeds.rules import FIELD_NAMES, FIELD_PREFIXES

MISSING = object()  # what a getter returns for a field the batch does not carry

Getter = Callable[[dict], Any]


def field_problem(name: str) -> str | None:
    """Return why `name` is not a field a rule can use, in words, else None."""
    if name in FIELD_NAMES:
        return None
    for prefix in FIELD_PREFIXES:
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            if not rest.strip():
                return f"Name the {prefix[:-1].replace('.', ' ')} after “{prefix}”."
            if prefix == "identities." and rest not in IDENTITY_TYPES:
                return f"“{rest}” is not an identity type; use one of customer_id, email, other, mobile_number, …"
            return None
    return (
        f"“{name}” is not a field: use identities.<type>, attributes.<name>, event.name, event.type, "
        "event.attributes.<name> or environment."
    )


def section(name: str) -> tuple[str, str]:
    """Return (where in the batch, key) for a field: ("user_identities", "email"), ("event_data", "amount")…"""
    if name.startswith("identities."):
        kind = name[len("identities.") :]
        if kind == "mp_deviceid":
            return ("top", "mp_deviceid")
        return ("device_info" if kind in DEVICE_IDS else "user_identities", kind)
    if name.startswith("attributes."):
        return ("user_attributes", name[len("attributes.") :])
    if name.startswith("event.attributes."):
        return ("event_attributes", name[len("event.attributes.") :])
    if name == "event.name":
        return ("event_data", "event_name")
    if name == "event.type":
        return ("event", "event_type")
    return ("top", "environment")


def getter(name: str) -> Getter:
    """Return a function giving the field's value in a batch, or MISSING."""
    where, key = section(name)
    if where == "top":
        return lambda b: b.get(key, MISSING)
    if where in ("user_identities", "device_info", "user_attributes"):
        return lambda b: (b.get(where) or {}).get(key, MISSING)
    if where == "event":
        return lambda b: b["events"][0].get(key, MISSING) if b.get("events") else MISSING
    if where == "event_data":
        return lambda b: (b["events"][0].get("data") or {}).get(key, MISSING) if b.get("events") else MISSING
    return lambda b: (
        ((b["events"][0].get("data") or {}).get("custom_attributes") or {}).get(key, MISSING)
        if b.get("events")
        else MISSING
    )


def container(name: str, create: bool) -> Callable[[dict], dict | None]:
    """Return a function giving the dict that holds the field in a batch (made when `create`), or None."""
    where, _ = section(name)
    if where == "top":
        return lambda b: b
    if where in ("user_identities", "device_info", "user_attributes"):
        return (lambda b: b.setdefault(where, {})) if create else (lambda b: b.get(where))
    if where == "event":
        return lambda b: b["events"][0] if b.get("events") else None

    def data(b: dict) -> dict | None:
        if not b.get("events"):
            return None
        found = b["events"][0].setdefault("data", {})
        if where == "event_data":
            return found
        return found.setdefault("custom_attributes", {}) if create else found.get("custom_attributes")

    return data


def key_of(name: str) -> str:
    """Return the key the field has in its container."""
    return section(name)[1]


def is_identity(name: str) -> bool:
    """Return True for identities.<type>: their values are kept as text."""
    return name.startswith("identities.")


def flat(batch: dict) -> dict[str, Any]:
    """Return the batch's fields by their rule names (what a rejected row shows, and what CEL sees)."""
    out: dict[str, Any] = {"environment": batch.get("environment")}
    for sec in ("user_identities", "device_info"):
        out.update({f"identities.{k}": v for k, v in (batch.get(sec) or {}).items()})
    if "mp_deviceid" in batch:
        out["identities.mp_deviceid"] = batch["mp_deviceid"]
    out.update({f"attributes.{k}": v for k, v in (batch.get("user_attributes") or {}).items()})
    if batch.get("events"):
        event = batch["events"][0]
        data = event.get("data") or {}
        out["event.type"] = event.get("event_type")
        out["event.name"] = data.get("event_name")
        out.update({f"event.attributes.{k}": v for k, v in (data.get("custom_attributes") or {}).items()})
    return out


def cel_input(batch: dict) -> dict[str, Any]:
    """Return the batch as CEL's variables: identities, attributes, event and environment."""
    identities = {**(batch.get("user_identities") or {}), **(batch.get("device_info") or {})}
    if "mp_deviceid" in batch:
        identities["mp_deviceid"] = batch["mp_deviceid"]
    event: dict[str, Any] = {}
    if batch.get("events"):
        first = batch["events"][0]
        data = first.get("data") or {}
        event = {
            "type": first.get("event_type"),
            "name": data.get("event_name"),
            "attributes": data.get("custom_attributes") or {},
        }
    return {
        "identities": identities,
        "attributes": batch.get("user_attributes") or {},
        "event": event,
        "environment": batch.get("environment") or "",
    }
