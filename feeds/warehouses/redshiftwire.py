"""Redshift rows kept as the server sent them: digested as received, decoded by the connector on demand.

redshift_connector decodes every row as it arrives, with no option to keep the bytes. A full sync only needs
the rows that changed, so around a FETCH the provider keeps each DataRow message body instead (`raw_rows`)
and decodes a page's rows when the engine asks (`row_decoder`), with the connector's own decoders.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from feeds.warehouses.base import Column
from feeds.warehouses.pgfamily import clean_rows

# Types redshift_connector returns as JSON text rather than decoded values.
TEXT_JSON = ("super", "jsonb")


@contextlib.contextmanager
def raw_rows(conn: Any) -> Iterator[None]:
    """Keep each DataRow message's body as sent (bytes), instead of the connector's decoded row.

    redshift_connector decodes every row as it arrives, with no option to keep the bytes; its handlers are a
    per-connection table, so swapping the DataRow one (only around a FETCH) keeps the rest of the protocol
    the connector's own. A full sync digests the bytes and decodes only the rows that changed.
    """
    from redshift_connector.core import DATA_ROW

    handlers = conn.message_types
    decoding = handlers[DATA_ROW]
    handlers[DATA_ROW] = lambda data, cursor: cursor._cached_rows.append(data)
    try:
        yield
    finally:
        handlers[DATA_ROW] = decoding


class _DecodedRows:
    """Stands in for a cursor when the connector's own DataRow handler decodes kept messages."""

    def __init__(self, row_desc: list[Any]) -> None:
        self.row_desc = row_desc
        self._cached_rows: list[list[Any]] = []

    def truncated_row_desc(self) -> list[Any]:
        return self.row_desc


def row_decoder(
    conn: Any, row_desc: list[Any], columns: tuple[Column, ...]
) -> Callable[[list[bytes]], list[tuple[Any, ...]]]:
    """Return a function decoding kept DataRow messages into clean rows, with the connector's own decoders.

    `row_desc` is the FETCH's (the connector's per-column decoders), taken while its cursor still has it.
    """
    handle = type(conn).handle_DATA_ROW

    def decode(messages: list[bytes]) -> list[tuple[Any, ...]]:
        sink = _DecodedRows(row_desc)
        for message in messages:
            handle(conn, message, sink)
        return clean_rows(columns, sink._cached_rows, TEXT_JSON)

    return decode
