"""The one Protocol every output kind implements, and the answer a delivery attempt gets.

A kind turns one outbox batch (a JSON array of mParticle batches, docs/outputs.md) into its destination's
request(s) and classifies the answer; the delivery worker (feeds/outputs/delivery.py) owns retries,
dead letters and faults, written once for every kind.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from feeds.warehouses.base import ConfigField


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # 5xx, timeout, connection refused: counts against the retry budget
    RATE_LIMITED = "rate_limited"  # 429: wait (Retry-After when given), not a failure
    PERMANENT = "permanent"  # 400, 403, 404, 413...: this batch will never be accepted as it is
    UNAUTHORIZED = "unauthorized"  # 401 / refused login: the output is faulted until someone fixes it


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    message: str = ""  # the destination's own words where it gave some
    retry_after: float | None = None  # seconds, from Retry-After

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED


DELIVERED = Answer(Outcome.DELIVERED)


@dataclass(frozen=True)
class Limits:
    """What one request may carry, from the destination's documented limits (None: no limit)."""

    batches: int | None = None  # mParticle batches (one per profile, or a profile's share of its events)
    events: int | None = None
    attributes: int | None = None  # batches carrying user attributes (Braze: 75 attribute objects)
    bytes: int | None = None  # the request body


class Destination(Protocol):
    """An output kind. One module per kind; construct with the output's config and decrypted secrets."""

    kind: ClassVar[str]
    label: ClassVar[str]
    help: ClassVar[str]  # one plain sentence for the Outputs directory
    fields: ClassVar[tuple[ConfigField, ...]]
    removals: ClassVar[bool]  # can it remove an attribute (mParticle's deleted_user_attributes)?

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> None: ...

    @classmethod
    def limits(cls, config: Mapping[str, Any]) -> Limits:
        """Return what one request may carry with these settings."""
        ...

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        """Return {field name: message} for settings that are wrong (no network)."""
        ...

    def send(self, batch_id: str, payload: bytes) -> Answer:
        """Deliver one outbox batch (a JSON array of mParticle batches); never raises for the destination's faults."""
        ...

    def close(self) -> None: ...
