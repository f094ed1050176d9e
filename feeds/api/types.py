"""The API's value types: each checks a request value and publishes the same rule in the OpenAPI document.

A refusal names the field and how to fix it: the checks raise PydanticCustomError with a message template
holding “{field}”, which feeds.api.errors.from_validation fills with the request's own path to the value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from django.db import models
from django.utils.dateparse import parse_date, parse_datetime
from pydantic import BeforeValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, WithJsonSchema
from pydantic_core import PydanticCustomError, core_schema

from feeds.schedule.rules import MAX_LOOKBACK_MINUTES, TIMEZONES
from feeds.warehouses.registry import PROVIDERS

MASK = "************"  # a secret as the API shows it; sent back, it keeps the stored secret
MAX_ID = 2**63 - 1  # the databases' largest integer key: a larger id is no row, not a database error
ASCII_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits stay below 2**63 - 1
MAX_LOOKBACK_SECONDS = MAX_LOOKBACK_MINUTES * 60


def refuse(message: str, code: str = "invalid") -> PydanticCustomError:
    """Return the error a check raises; `message` may name the field as “{field}”."""
    # Without a context pydantic leaves the template as it is, so {field} reaches from_validation.
    return PydanticCustomError(code, message)


class OneOf:
    """A text that must be one of `values`; published as an inline enum (tests and clients read it there)."""

    def __init__(self, values: type[models.TextChoices] | tuple[str, ...]) -> None:
        self.values: tuple[str, ...] = tuple(values.values if isinstance(values, type) else values)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_after_validator_function(self.check, core_schema.str_schema())

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}

    def check(self, value: str) -> str:
        if value not in self.values:
            raise refuse(f"“{{field}}” must be one of: {', '.join(self.values)}.")
        return value


def _id(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", value):
        raise refuse(
            "Give an id of 1 to 100 letters, digits, “-” and “_” (no spaces), for example “crm-users”."
        )
    return value


class NonBlank:
    """A text of 1 to `limit` characters, not only spaces, given without its outer spaces."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_before_validator_function(self.check, core_schema.str_schema())

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": self.limit, "pattern": "\\S"}

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise refuse("“{field}” must be a non-empty text.")
        if len(value) > self.limit:
            raise refuse(f"“{{field}}” may be at most {self.limit} characters long.")
        return value.strip()


def _instant(value: Any) -> datetime | None:
    """Return an aware UTC datetime from ISO-8601 text (a time without zone is UTC); "" and None are None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime) and value.tzinfo:  # a stored time, on its way out
        return value.astimezone(UTC)
    try:
        parsed = _parse(value)
    except (ValueError, OverflowError):  # such as year 1 at +01:00, before the first UTC instant
        parsed = None
    if parsed is None:
        raise refuse("“{field}” must be an ISO-8601 date and time, for example 2024-01-31T00:00:00Z.")
    return parsed


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is None and (day := parse_date(value)) is not None:
        parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if parsed is None:
        return None
    # Kept in UTC: PostgreSQL refuses offsets that Python accepts (such as +19:03).
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _query_instant(value: Any) -> datetime | None:
    if value == "":  # a query parameter is left out, not sent empty
        raise refuse("“{field}” must be an ISO-8601 date and time, for example 2024-01-31T00:00:00Z.")
    return _instant(value)


def _lookback(value: Any) -> int:
    # Whole minutes, because the wizard shows and saves the window in minutes.
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value % 60:
        raise refuse("“{field}” must be a whole number of minutes, in seconds (e.g. 3600).")
    if not 0 <= value <= MAX_LOOKBACK_SECONDS:
        raise refuse(
            f"“{{field}}” must be from 0 to {MAX_LOOKBACK_SECONDS} seconds "
            f"({MAX_LOOKBACK_SECONDS // 86400} days)."
        )
    return value


def _timezone(value: Any) -> str:
    value = value or "UTC"
    if value not in TIMEZONES:
        raise refuse("“{field}” must be UTC or an IANA time zone name such as Europe/Berlin.")
    return str(value)


PROVIDER_NAMES = [spec.api_name for spec in PROVIDERS.values()]
PROVIDER_MUST = f"“{{field}}” must be one of: {', '.join(PROVIDER_NAMES)}."


def find_provider(name: Any) -> str | None:
    """Return the registry key for a service_provider name (“Snowflake”, “PostgreSQL”, “duckdb”...)."""
    wanted = str(name or "").strip().lower()
    return next((s.kind for s in PROVIDERS.values() if wanted in (s.kind, s.api_name.lower())), None)


def _provider(name: Any) -> str:
    kind = find_provider(name)
    if kind is None:
        raise refuse(PROVIDER_MUST)
    return kind


class WholeNumber:
    """A query parameter of ASCII digits within bounds (int() takes “²”; past 2**63 the database overflows)."""

    def __init__(self, minimum: int = 1, maximum: int = 10**9) -> None:
        self.minimum, self.maximum = minimum, maximum

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_before_validator_function(self.check, core_schema.int_schema())

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}

    def check(self, raw: Any) -> int:
        value = int(raw) if isinstance(raw, str) and ASCII_DIGITS.fullmatch(raw.strip()) else None
        if value is None or not self.minimum <= value <= self.maximum:
            raise refuse(
                f"“{{field}}” must be a whole number from {self.minimum:,} to {self.maximum:,} (digits 0-9 only)."
            )
        return value


_TIME = {"type": "string", "format": "date-time"}
Id = Annotated[
    str, BeforeValidator(_id), WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"})
]
Name = Annotated[str, NonBlank(200)]
Instant = Annotated[datetime | None, BeforeValidator(_instant), WithJsonSchema({**_TIME, "nullable": True})]
QueryInstant = Annotated[datetime | None, BeforeValidator(_query_instant), WithJsonSchema(_TIME)]
Lookback = Annotated[
    int,
    BeforeValidator(_lookback),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_LOOKBACK_SECONDS, "multipleOf": 60}),
    Field(
        description="wsync: re-read this many seconds before the last run's iterator value, for rows that "
        "arrive late (whole minutes)."
    ),
]
TimeZone = Annotated[
    str,
    BeforeValidator(_timezone),
    WithJsonSchema({"type": "string", "example": "Europe/Berlin"}),
    Field(description="wsync: IANA time zone for iterator and timestamp values without a zone."),
]
ServiceProvider = Annotated[
    str,
    BeforeValidator(_provider),
    WithJsonSchema({"type": "string", "enum": PROVIDER_NAMES}),
]
