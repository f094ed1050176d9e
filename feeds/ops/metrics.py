"""Prometheus metrics, read from the database at scrape time (so they are right whatever process runs what).

Each family is one aggregate query over all feeds, never a query per feed or per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from feeds.models import Feed, FeedState
from feeds.sync.models import RunState, SyncRun

# Run duration buckets, in seconds: a small incremental run takes seconds, a first load of millions of rows hours.
BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600)
ROWS = {
    "wsync_rows_read": ("rows_read", "Rows read from the warehouse by the feed's runs"),
    "wsync_rows_rejected": ("rows_rejected", "Rows the feed's runs rejected (no identity, invalid event...)"),
    "wsync_profiles_created": ("profiles_created", "Profiles the feed's runs created"),
    "wsync_profiles_updated": ("profiles_updated", "Profiles the feed's runs updated"),
}
LABELS = ["workspace", "feed"]


class DatabaseCollector(Collector):
    """Collects every wsync metric with a handful of aggregate queries."""

    def collect(self) -> Iterator[Metric]:
        feeds = {
            f["pk"]: [f["workspace__slug"], f["slug"]]
            for f in Feed.objects.values("pk", "slug", "workspace__slug")
        }
        yield from _runs(feeds)
        yield from _rows(feeds)
        yield _durations(feeds)
        yield _since_success(feeds)
        yield from _queue()
        yield from _outputs()


def render() -> bytes:
    """Return the metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def _runs(feeds: dict[int, list[str]]) -> Iterable[Metric]:
    family = GaugeMetricFamily("wsync_runs", "Runs on record, by feed and state", labels=[*LABELS, "state"])
    for row in SyncRun.objects.values("feed_id", "state").annotate(n=Count("pk")).order_by():
        if row["feed_id"] in feeds:
            family.add_metric([*feeds[row["feed_id"]], row["state"]], row["n"])
    yield family


def _rows(feeds: dict[int, list[str]]) -> Iterable[Metric]:
    sums = {name: Sum(field) for name, (field, _) in ROWS.items()}
    totals = {r["feed_id"]: r for r in SyncRun.objects.values("feed_id").annotate(**sums).order_by()}
    for name, (_, help_text) in ROWS.items():
        family = CounterMetricFamily(name, help_text, labels=LABELS)
        for feed_id, labels in feeds.items():
            family.add_metric(labels, (totals.get(feed_id) or {}).get(name) or 0)
        yield family


def _durations(feeds: dict[int, list[str]]) -> Metric:
    """Finished runs' durations as a histogram per feed: one conditional count per bucket, in one query."""
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    counts = {f"le{i}": Count("pk", filter=Q(took__lte=timedelta(seconds=b))) for i, b in enumerate(BUCKETS)}
    finished = SyncRun.objects.filter(started_at__isnull=False, finished_at__isnull=False).annotate(
        took=duration
    )
    rows = finished.values("feed_id").annotate(n=Count("pk"), total=Sum("took"), **counts).order_by()
    family = HistogramMetricFamily(
        "wsync_run_duration_seconds", "How long finished runs took, from start to end", labels=LABELS
    )
    for row in rows:
        if row["feed_id"] not in feeds:
            continue
        buckets = [(str(float(b)), row[f"le{i}"]) for i, b in enumerate(BUCKETS)] + [("+Inf", row["n"])]
        total = row["total"].total_seconds() if row["total"] else 0.0
        family.add_metric(feeds[row["feed_id"]], buckets, total)
    return family


def _since_success(feeds: dict[int, list[str]]) -> Metric:
    family = GaugeMetricFamily(
        "wsync_seconds_since_last_success",
        "Seconds since the active feed's last successful run (absent until its first one)",
        labels=LABELS,
    )
    now = timezone.now()
    last = (
        SyncRun.objects.filter(state=RunState.SUCCEEDED, feed__state=FeedState.ACTIVE)
        .values("feed_id")
        .annotate(at=Max("finished_at"))
        .order_by()
    )
    for row in last:
        if row["feed_id"] in feeds and row["at"] is not None:
            family.add_metric(feeds[row["feed_id"]], (now - row["at"]).total_seconds())
    return family


def _queue() -> Iterable[Metric]:
    waiting = SyncRun.objects.filter(state=RunState.QUEUED).aggregate(
        due=Count("pk", filter=Q(next_retry_at__isnull=True)),
        retry=Count("pk", filter=Q(next_retry_at__isnull=False)),
    )
    family = GaugeMetricFamily("wsync_queue_depth", "Runs waiting for a worker", labels=["waiting_for"])
    family.add_metric(["worker"], waiting["due"])
    family.add_metric(["retry"], waiting["retry"])
    yield family
    yield _broker_depth()


def _broker_depth() -> Metric:
    from django_q.brokers import get_broker

    family = GaugeMetricFamily("wsync_broker_queue_depth", "Tasks in django-q2's broker queue, not yet taken")
    try:
        family.add_metric([], get_broker().queue_size() or 0)
    except Exception:  # a broker that does not answer shows in /healthz; the other metrics still count
        family.add_metric([], float("nan"))
    return family


def _outputs() -> Iterable[Metric]:
    """Each output's outbox: batches waiting, dead letters, and how long the oldest waiting one has waited."""
    from feeds.outputs.models import BatchState, OutboxBatch, Output

    outputs = {
        o["pk"]: [o["workspace__slug"], o["name"]]
        for o in Output.objects.values("pk", "name", "workspace__slug")
    }
    rows = {
        r["connection__output_id"]: r
        for r in OutboxBatch.objects.values("connection__output_id")
        .annotate(
            pending=Count("pk", filter=Q(state=BatchState.PENDING)),
            dead=Count("pk", filter=Q(state=BatchState.DEAD)),
            oldest=Min("created_at", filter=Q(state=BatchState.PENDING)),
        )
        .order_by()
    }
    labels = ["workspace", "output"]
    backlog = GaugeMetricFamily(
        "wsync_outbox_backlog", "Batches waiting in the output's outbox", labels=labels
    )
    dead = GaugeMetricFamily("wsync_outbox_dead_letters", "Batches the output gave up on", labels=labels)
    lag = GaugeMetricFamily(
        "wsync_output_delivery_lag_seconds",
        "How long the oldest waiting batch has waited (0: none waits)",
        labels=labels,
    )
    now = timezone.now()
    for output_id, names in outputs.items():
        row = rows.get(output_id) or {}
        backlog.add_metric(names, row.get("pending", 0))
        dead.add_metric(names, row.get("dead", 0))
        lag.add_metric(names, (now - row["oldest"]).total_seconds() if row.get("oldest") else 0.0)
    yield from (backlog, dead, lag)
