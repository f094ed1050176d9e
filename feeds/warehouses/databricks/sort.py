"""A windowed read's rows in iterator order, sorted out of core by DuckDB.

Delta Sharing serves a table as files in no useful order, and the engine needs a window's rows ordered
by the iterator. The filtered record batches go into a table of a throwaway DuckDB database in a
temporary folder, and DuckDB's ORDER BY streams them back in order. DuckDB keeps at most `memory_limit`
in memory and spills the rest (the table's blocks to its file, the sort's runs to the folder): memory
stays bounded whatever the table's size, and the folder goes when the read ends or is stopped. One
thread, because the machine's cores serve the web and the other syncs too.

Nothing of the user's reaches this database but the rows: the SQL is ours, the key a quoted name.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

TABLE = "wsync_rows"


def sorted_batches(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    key: str,
    *,
    batch_rows: int,
    memory_limit: str,
) -> Iterator[pa.RecordBatch]:
    """Yield the batches' rows ordered by `key` (NULLs last, as SQL's ascending ORDER BY), `batch_rows` at a time."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="wsync-delta-sort-") as folder:
        connection = duckdb.connect(
            str(Path(folder) / "sort.duckdb"),
            config={
                "memory_limit": memory_limit,
                "temp_directory": str(Path(folder) / "spill"),
                "threads": 1,
                "preserve_insertion_order": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        try:
            # DuckDB would draw a progress bar on the server's stdout during a long sort (a session setting).
            connection.execute("SET enable_progress_bar = false")
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
            connection.register("incoming", schema.empty_table())
            connection.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM incoming WITH NO DATA")
            for batch in batches:
                if batch.num_rows:
                    connection.register("incoming", batch)  # read in place, no copy
                    connection.execute(f"INSERT INTO {TABLE} SELECT * FROM incoming")
            connection.unregister("incoming")
            column = '"' + key.replace('"', '""') + '"'
            query = f"SELECT * FROM {TABLE} ORDER BY {column} ASC NULLS LAST"
            for batch in connection.sql(query).to_arrow_reader(batch_rows):
                yield _typed(batch, schema)
        finally:
            connection.close()


def _typed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Return the batch with the types it went in with (DuckDB names zones and list items its own way)."""
    import pyarrow as pa

    arrays = []
    for array, field in zip(batch.columns, schema, strict=True):
        if not array.type.equals(field.type):
            # What does not cast holds the same values under other child names: to_pylist reads them alike.
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                array = array.cast(field.type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=schema.names)
