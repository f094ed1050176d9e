"""A page's values column by column: made JSON-ready, identity texts, epoch milliseconds, content ids.

A warehouse column holds one type (plus NULLs), so each step looks at a column's types once and takes a
fast path for the common ones (text, integers, timestamps), falling back to the value-by-value rule
(`json_value`, `epoch_ms_of`) for anything else. Each result is exactly what the value-by-value rule gives:
the content ids in particular are event and request ids already stored, and must never change.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

Column = Sequence[Any]
_NONE = type(None)
_PLAIN = frozenset({str, int, bool, _NONE})  # values json_value returns unchanged
_CONTENT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_ENCODE_TEXT = json.encoder.encode_basestring_ascii  # what the encoder above writes for a str
_SCALARS = {None: "null", True: "true", False: "false"}
EVENT_NAMESPACE = UUID("7a0f6c3e-8d7f-4b0e-9a53-5b1c1d2f3e4a")  # of event and request ids


def of(rows: Sequence[tuple[Any, ...]], width: int) -> list[Column]:
    """Return the rows' columns (tuples), `width` empty ones for no rows."""
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


def rows_of(columns: Sequence[Column], count: int) -> Iterator[tuple[Any, ...]]:
    """Return the columns' values row by row; `count` empty rows when there are no columns."""
    return zip(*columns, strict=True) if columns else itertools.repeat((), count)


def json_value(value: Any, tz: ZoneInfo) -> Any:
    """Return a JSON-ready value: ISO-8601 datetimes with zone, Decimals as numbers when exact, lists kept."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v, tz) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v, tz) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return str(value)


def _decimal(value: Decimal) -> int | float | str:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value() and abs(value) < 2**63:
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def json_ready(column: Column, tz: ZoneInfo) -> Column:
    """Return the column's values as `json_value` makes them."""
    kinds = set(map(type, column))
    if kinds <= _PLAIN:
        return column
    if kinds <= {datetime, _NONE}:
        return [None if v is None else (v if v.tzinfo else v.replace(tzinfo=tz)).isoformat() for v in column]
    return [v if type(v) in _PLAIN else json_value(v, tz) for v in column]


def identity_texts(column: Column) -> list[str | None]:
    """Return each JSON-ready value as an identity's text, None where it is empty (NULL or blank)."""
    if set(map(type, column)) <= {str, _NONE}:
        return [v if v is not None and v.strip() else None for v in column]
    return [None if v is None or not (text := str(v)).strip() else text for v in column]


def epoch_ms_of(value: Any, tz: ZoneInfo) -> Any:
    """Return a timestamp, date or number as epoch milliseconds (naive ones in `tz`); anything else as is."""
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=tz)).timestamp() * 1000)
    if isinstance(value, date):
        return int(datetime.combine(value, time(), tzinfo=tz).timestamp() * 1000)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return int(value)
    return value


def epoch_ms(column: Column, tz: ZoneInfo) -> list[Any]:
    """Return the column's values (as read, not JSON-ready) as `epoch_ms_of` makes them."""
    if set(map(type, column)) <= {datetime, _NONE} and all(v is None or v.tzinfo for v in column):
        return [None if v is None else int(v.timestamp() * 1000) for v in column]
    return [epoch_ms_of(v, tz) for v in column]


def _json_texts(column: Column) -> list[str]:
    """Return each JSON-ready value as `_CONTENT` writes it inside a list."""
    kinds = set(map(type, column))
    if kinds <= {str}:
        return list(map(_ENCODE_TEXT, column))
    if kinds <= {str, _NONE}:
        return ["null" if v is None else _ENCODE_TEXT(v) for v in column]
    if kinds <= {int, _NONE}:
        return ["null" if v is None else int.__repr__(v) for v in column]
    if kinds <= {int, float, bool, _NONE}:  # json_ready left only finite floats, written as their repr
        return [_SCALARS[v] if v is None or type(v) is bool else repr(v) for v in column]
    return [_CONTENT.encode(v) for v in column]


def content_ids(feed_id: int, columns: Sequence[Column], count: int) -> list[str]:
    """Return each row's str(uuid5(EVENT_NAMESPACE, f"{feed_id}:{JSON list of its JSON-ready values}")).

    The JSON is `_CONTENT`'s (sorted keys, no spaces, ASCII); it is written column by column, and the
    uuid's version and variant bits are set for the whole page at once.
    """
    if not count:
        return []
    head = EVENT_NAMESPACE.bytes + f"{feed_id}:[".encode()
    sha1 = hashlib.sha1
    texts = [_json_texts(column) for column in columns]
    raw = b"".join(
        [
            sha1(head + ",".join(parts).encode() + b"]", usedforsecurity=False).digest()[:16]
            for parts in rows_of(texts, count)
        ]
    )
    digests = bytearray(raw)
    digests[6::16] = bytes((b & 0x0F) | 0x50 for b in digests[6::16])  # version 5
    digests[8::16] = bytes((b & 0x3F) | 0x80 for b in digests[8::16])  # RFC 4122 variant
    h = digests.hex()
    return [
        f"{h[o : o + 8]}-{h[o + 8 : o + 12]}-{h[o + 12 : o + 16]}-{h[o + 16 : o + 20]}-{h[o + 20 : o + 32]}"
        for o in range(0, 32 * count, 32)
    ]
