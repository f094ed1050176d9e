"""The demo warehouse: a deterministic DuckDB file with realistic users and events.

Generated inside DuckDB with a fixed seed so the same file comes out every time and 50,000 events
take well under a second. It lives in the first allowed DuckDB folder (data/warehouses/ by default),
never beside wsync's keys and database in the data folder itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from feeds.models import Connection, Provider

DEMO_FILE = "demo-warehouse.duckdb"

USERS_SQL = """
CREATE TABLE users AS
SELECT
    'C' || lpad(i::VARCHAR, 6, '0') AS customer_id,
    lower(first_name) || '.' || lower(last_name) || i::VARCHAR || '@example.com' AS email,
    first_name,
    last_name,
    plan,
    round(hash_val % 500000 / 100.0, 2)::DECIMAL(10, 2) AS lifetime_value,
    country,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds((hash_val % (300 * 86400))::BIGINT) AS updated_at
FROM (
    SELECT
        i,
        (hash(i * 7919) % 1000000007)::BIGINT AS hash_val,
        ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger',
         'Hedy', 'Tim', 'Radia', 'Guido', 'Karen', 'Niklaus'][(1 + hash(i) % 16)::BIGINT] AS first_name,
        ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie',
         'Allen', 'Dijkstra', 'Lamarr', 'Berners-Lee', 'Perlman', 'Rossum', 'Spärck Jones',
         'Wirth'][(1 + hash(i + 1) % 16)::BIGINT] AS last_name,
        ['free', 'starter', 'pro', 'enterprise'][(1 + hash(i + 2) % 4)::BIGINT] AS plan,
        ['US', 'GB', 'DE', 'FR', 'JP', 'BR', 'IN', 'CA'][(1 + hash(i + 3) % 8)::BIGINT] AS country
    FROM range(1, $users + 1) AS t(i)
)
"""

EVENTS_SQL = """
CREATE TABLE events AS
SELECT
    'E' || lpad(i::VARCHAR, 8, '0') AS event_id,
    ['viewed_product', 'added_to_cart', 'checked_out', 'searched', 'opened_app'][(1 + hash(i) % 5)::BIGINT] AS event_name,
    'C' || lpad((1 + hash(i + 11) % $users)::BIGINT::VARCHAR, 6, '0') AS customer_id,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds((hash(i + 13) % (300 * 86400))::BIGINT) AS occurred_at,
    ['web', 'ios', 'android'][(1 + hash(i + 17) % 3)::BIGINT] AS platform,
    round(hash(i + 19) % 20000 / 100.0, 2)::DECIMAL(10, 2) AS amount,
    ['shoes', 'shirts', 'hats', 'bags'][(1 + hash(i + 23) % 4)::BIGINT] AS category
FROM range(1, $events + 1) AS t(i)
"""


def write_demo_warehouse(path: Path | str, users: int = 5000, events: int = 50000) -> Path:
    """Write (or replace) the demo DuckDB file and return its path."""
    import duckdb

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_suffix(path.suffix + ".wal")):
        stale.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(USERS_SQL.replace("$users", str(int(users))))
        connection.execute(EVENTS_SQL.replace("$users", str(int(users))).replace("$events", str(int(events))))
    return path


def demo_warehouse_path() -> Path:
    """Return where the demo warehouse lives: the first folder DuckDB connections may open."""
    return Path(settings.WSYNC_DUCKDB_ROOTS[0]) / DEMO_FILE


def move_old_demo_warehouse() -> Path | None:
    """Move a demo warehouse left in the data folder by an older wsync to demo_warehouse_path().

    Connections that pointed at the old file point at the new one afterwards. Returns the new path,
    or None when there was nothing to move.
    """
    old, new = Path(settings.DATA_DIR) / DEMO_FILE, demo_warehouse_path()
    if not old.exists() or old.resolve() == new.resolve():
        return None
    new.parent.mkdir(parents=True, exist_ok=True)
    if not new.exists():
        shutil.move(old, new)
    else:
        old.unlink()
    old.with_suffix(old.suffix + ".wal").unlink(missing_ok=True)
    for connection in Connection.objects.filter(provider=Provider.DUCKDB):
        if connection.config.get("path") == str(old):
            connection.config = {**connection.config, "path": str(new)}
            connection.save(update_fields=["config"])
    return new
