"""A run's read window: iterator values in each kind (normalising, encoding for JSON, lookback), the data
model's timestamp field (which the Sync Start Date and backfill windows filter), and `plan`, which decides
the window a run reads and records it on the run.

Window bounds are Python values of the iterator's kind (base.iterator_kind): aware datetimes
for timestamps, dates, and ints for epoch and number iterators.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.utils import timezone as django_timezone

from feeds.sync.models import Checkpoint, RunKind, SyncRun
from feeds.warehouses.base import TIME_TYPES, IteratorKind, ReadWindow, Since, WarehouseError

if TYPE_CHECKING:
    from feeds.models import Feed

Bound = datetime | date | int


def normalise(value: Any, kind: IteratorKind, zone: str) -> Bound | None:
    """Return a warehouse iterator value as a comparable bound (naive times read in `zone`)."""
    if value is None:
        return None
    if kind is IteratorKind.TIMESTAMP:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(zone))
        return datetime.fromisoformat(str(value))
    if kind is IteratorKind.DATE:
        return value.date() if isinstance(value, datetime) else value
    return int(value)


def page_bounds(values: Iterable[Any], kind: IteratorKind, zone: str) -> tuple[Bound, Bound] | None:
    """Return (min, max) of a page's iterator values, ignoring NULLs; None for none."""
    seen = [v for v in (normalise(x, kind, zone) for x in values) if v is not None]
    if not seen:
        return None
    return min(seen), max(seen)


def encode(value: Bound | None) -> Any:
    """Return a JSON-ready form of a bound."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def decode(value: Any, kind: IteratorKind) -> Bound | None:
    """Return the bound `encode` made."""
    if value is None:
        return None
    if kind is IteratorKind.TIMESTAMP:
        return datetime.fromisoformat(value)
    if kind is IteratorKind.DATE:
        return date.fromisoformat(value)
    return int(value)


def display(value: Bound | None) -> str:
    """Return a bound as the run pages show it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def from_instant(moment: datetime, kind: IteratorKind, zone: str) -> Bound | None:
    """Return an instant (run start, historical start) in the iterator's kind; None for numbers."""
    if kind is IteratorKind.TIMESTAMP:
        return moment
    if kind is IteratorKind.DATE:
        return moment.astimezone(ZoneInfo(zone)).date()
    if kind is IteratorKind.EPOCH_MS:
        return int(moment.timestamp() * 1000)
    if kind is IteratorKind.EPOCH_S:
        return int(moment.timestamp())
    return None  # plain numbers have no clock


def minus_lookback(value: Bound, kind: IteratorKind, seconds: int) -> Bound:
    """Return the bound moved back by the lookback (days rounded up for dates; none for numbers)."""
    if not seconds:
        return value
    if kind is IteratorKind.TIMESTAMP:
        return value - timedelta(seconds=seconds)  # type: ignore[operator]
    if kind is IteratorKind.DATE:
        return value - timedelta(days=math.ceil(seconds / 86400))  # type: ignore[operator]
    if kind is IteratorKind.EPOCH_MS:
        return int(value) - seconds * 1000  # type: ignore[arg-type]
    if kind is IteratorKind.EPOCH_S:
        return int(value) - seconds  # type: ignore[arg-type]
    return value


def split(start: datetime, end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """Return consecutive [from, to] instants of `days` each covering start..end (closed ends meet)."""
    windows = []
    lower = start
    while lower < end:
        upper = min(lower + timedelta(days=days), end)
        windows.append((lower, upper))
        lower = upper
    return windows


def timestamp_field(feed: Feed, iterator: str) -> tuple[str, str] | None:
    """Return (column, type) of the model's timestamp field unless it is unset or is `iterator`.

    When it is the iterator, the iterator bounds carry the Sync Start Date (as they always did).
    Raises WarehouseError when the field is no longer a date or time column of the model.
    """
    model = feed.data_model
    name = model.timestamp_field if model is not None else ""
    if model is None or not name or name == iterator:
        return None
    column_type = next((c.get("type") for c in model.columns if c.get("name") == name), None)
    if column_type not in TIME_TYPES:
        raise WarehouseError(
            f"The timestamp field “{name}” is no longer a date or time column of the data model. "
            "Pick the timestamp field again on the data model step.",
            permanent=True,
            field="timestamp_field",
        )
    return name, str(column_type)


def since(feed: Feed, iterator: str, start: datetime | None, end: datetime | None = None) -> Since | None:
    """Return the filter `start <= timestamp field (<= end)` when that field is not `iterator`, else None."""
    column = timestamp_field(feed, iterator) if start is not None else None
    if column is None or start is None:
        return None
    return Since(column[0], column[1], start, end)


@dataclass
class Plan:
    """What a run reads (`window`, None for a full run without a Sync Start Date) and where a main run starts.

    `checkpoint` is the feed's checkpoint value when the run started (main incremental runs), `since` the
    Sync Start Date filter a main run carries (it marks the checkpoints it moves as the first load's).
    """

    window: ReadWindow | None
    checkpoint: Bound | None = None
    since: Since | None = None


def plan(feed: Feed, sync_run: SyncRun, kind: IteratorKind | None, resume_at: Bound | None) -> Plan:
    """Decide the run's read window and record it on the run (the run pages show it).

    `kind` is None for a full run. `resume_at` is where a resumed attempt of an incremental run starts: the
    rows below it were committed by the attempt before (pages are read in iterator order).
    """
    if kind is None:
        start = since(feed, "", feed.from_time)
        if start is None:
            return Plan(None)
        _record(sync_run, None, None, start)
        return Plan(ReadWindow("", "", timezone=feed.timezone, since=start))
    result = Plan(None)
    saved = sync_run.window or {}
    if sync_run.kind == RunKind.BACKFILL:
        lower, upper, start = _backfill_bounds(feed, kind, saved)
    else:
        upper = decode(saved["upper"], kind) if "upper" in saved else _now_bound(feed, kind)
        checkpoint = _checkpoint(feed)
        result.checkpoint = decode(checkpoint.value, kind) if checkpoint else None
        lower, start = _start_bounds(feed, kind, checkpoint, result.checkpoint)
        result.since = start
    upper = _at_most(upper, until_bound(feed, kind))
    _record(sync_run, lower, upper, start)
    # A resumed backfill window goes on where its last attempt stopped. A resumed main run does not: its
    # lower bound already starts from the checkpoint that attempt moved, less the lookback, so a row that
    # arrived late behind that checkpoint meanwhile is read now (going on from the last page would skip
    # it, and a later jump of the checkpoint could leave it outside every lookback). Re-read rows are
    # written again unchanged and counted as re-read (progress.Progress.bounds).
    resumes_where_it_stopped = sync_run.kind == RunKind.BACKFILL or lower is None
    if resume_at is not None and resumes_where_it_stopped and (lower is None or resume_at > lower):
        lower = resume_at
    result.window = ReadWindow(feed.iterator, feed.iterator_type, lower, upper, feed.timezone, start)
    return result


def until_bound(feed: Feed, kind: IteratorKind) -> Bound | None:
    """Return the last iterator value a run may read under the feed's `until` (None: no end).

    `until` excludes itself while window bounds include theirs, so the bound is the instant just before it
    (one microsecond, the finest step of the warehouses' timestamps wsync reads) in the iterator's kind:
    the day before for dates when `until` is midnight, the second or millisecond before for epochs.
    """
    if feed.until_time is None:
        return None
    return from_instant(feed.until_time - timedelta(microseconds=1), kind, feed.timezone)


def _at_most(upper: Any, end: Bound | None) -> Any:
    if end is None:
        return upper
    return end if upper is None or end < upper else upper


def _backfill_bounds(feed: Feed, kind: IteratorKind, saved: dict) -> tuple[Any, Any, Since | None]:
    """Return a backfill window: on the timestamp field when it was made so, else on the iterator."""
    if "since" not in saved:
        return decode(saved.get("lower"), kind), decode(saved.get("upper"), kind), None
    start, end = (decode(saved.get(k), IteratorKind.TIMESTAMP) for k in ("since", "until"))
    found = since(feed, "", start, end)  # type: ignore[arg-type]
    if found is None:
        raise WarehouseError(
            "This historical window reads the data model's timestamp field, which is no longer set. "
            "Pick the timestamp field again on the data model step.",
            permanent=True,
            field="timestamp_field",
        )
    return None, None, found


def _start_bounds(
    feed: Feed, kind: IteratorKind, checkpoint: Checkpoint | None, value: Any
) -> tuple[Any, Since | None]:
    """Return where a main run starts on the iterator, and the Sync Start Date filter if it applies.

    The filter applies to the first load (no checkpoint yet) and, when that load was interrupted
    (paused, failed), to the runs that finish it, so an interruption changes nothing.
    """
    if value is not None:
        lower = minus_lookback(value, kind, feed.lookback_seconds)
        pending = checkpoint is not None and checkpoint.initial_load
        return lower, since(feed, feed.iterator, feed.from_time) if pending else None
    start = since(feed, feed.iterator, feed.from_time)
    if start is not None or feed.from_time is None:
        return None, start
    # The timestamp field is the iterator (or unset): the iterator's lower bound is the start date.
    return from_instant(feed.from_time, kind, feed.timezone), None


def _record(sync_run: SyncRun, lower: Any, upper: Any, start: Since | None) -> None:
    window = {"lower": encode(lower), "upper": encode(upper)}
    if start is not None:
        window.update(since=encode(start.value), until=encode(start.until))
        lower = start.value if lower is None else lower
        upper = start.until if upper is None else upper
    SyncRun.objects.filter(pk=sync_run.pk).update(
        window=window, window_from=display(lower), window_to=display(upper)
    )


def _now_bound(feed: Feed, kind: IteratorKind) -> Any:
    # Fixed at run start: rows committed in the warehouse during the run wait for the next run.
    return from_instant(django_timezone.now(), kind, feed.timezone)


def _checkpoint(feed: Feed) -> Checkpoint | None:
    checkpoint = Checkpoint.objects.filter(feed=feed).first()
    if checkpoint is None or (checkpoint.iterator, checkpoint.iterator_type) != (
        feed.iterator,
        feed.iterator_type,
    ):
        return None  # a changed iterator starts over from the historical start
    return checkpoint
