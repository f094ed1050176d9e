"""Pages under load (docs/operations.md): queries per page pinned for each page of the load benchmark's mix,
whatever the number of runs, and the explorer's landing page read in index order."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feeds.models import FeedState
from feeds.profiles.models import Profile
from feeds.sync.models import RejectedRow, RunState, SyncRun
from tests.feed_fixtures import build_feed
from tests.personas import client_for
from tests.profile_fixtures import make_profile

HTMX = {"HX-Request": "true"}
# Every page: the session, the user, the membership (feeds.accounts.access); then the page's own.
PAGES = {
    "feed list": ("/w/acme/feeds/", {}, 8),  # + feeds, newest runs, history windows, outputs, switcher
    "feed summary": ("/w/acme/feeds/{feed}/", {}, 8),  # + feed, runs, owed windows, outputs, switcher
    "feed summary poll": ("/w/acme/feeds/{feed}/", HTMX, 7),  # the same but the switcher
    # + feed, run, attempts, 2 counts, rejected rows, switcher
    "run page": ("/w/acme/feeds/{feed}/runs/{run}/", {}, 10),
    "run page poll": ("/w/acme/feeds/{feed}/runs/{run}/", HTMX, 6),  # + feed, run, attempts
    # + environment, identities, profiles by id (count, page); their identities are on their rows
    "profile search": ("/w/acme/profiles/?q=ada@example.com", HTMX, 7),
    "explorer landing": ("/w/acme/profiles/", {}, 7),  # + environment, count, page, switcher
}


def _queries(client, path, headers):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, headers=headers).status_code == 200
    return len(queries)


@pytest.mark.parametrize("page", PAGES)
def test_each_page_of_the_load_mix_runs_the_same_queries_with_one_run_or_many(page, active_feed, viewer):
    path, headers, expected = PAGES[page]
    make_profile(active_feed.workspace, 7100001, {"email": "ada@example.com"})
    run = SyncRun.objects.create(feed=active_feed, state=RunState.RUNNING, rows_read=10)
    RejectedRow.objects.create(run=run, row_key="first", reason="bad", values={})
    url = path.format(feed=active_feed.pk, run=run.pk)
    client = client_for(viewer)
    client.get(url, headers=headers)  # a new session's first request saves it
    one = _queries(client, url, headers)
    for n in range(30):
        SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED, rows_read=n)
        RejectedRow.objects.create(run=run, row_key=str(n), reason="bad", values={})
    assert one == _queries(client, url, headers) == expected


def test_the_feed_list_reads_only_each_feeds_newest_run(active_feed, workspace, viewer):
    other = build_feed(workspace, active_feed.connection, sql="SELECT 1", slug="other", name="Other")
    for n in range(25):
        SyncRun.objects.create(feed=active_feed, state=RunState.FAILED, rows_read=n)
        SyncRun.objects.create(feed=other, state=RunState.FAILED, rows_read=n)
    SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED, rows_read=4321)
    client = client_for(viewer)
    client.get("/w/acme/feeds/")
    built: list[SyncRun] = []

    def count(sender, instance, **kwargs):
        built.append(instance)

    post_init.connect(count, sender=SyncRun)
    try:
        html = client.get("/w/acme/feeds/").content.decode()
    finally:
        post_init.disconnect(count, sender=SyncRun)
    assert sorted(run.number for run in built) == [25, 26]  # one run a feed: its newest
    assert "4,321" in html


def test_a_session_is_saved_once_per_tenth_of_the_idle_timeout_not_on_every_poll(
    active_feed, viewer, settings
):
    client = client_for(viewer)
    url = f"/w/acme/feeds/{active_feed.pk}/"
    client.get(url)
    writes = []
    for minutes in (1, 5, 11, 13):
        later = timezone.now() + timedelta(minutes=minutes)
        with time_machine.travel(later), CaptureQueriesContext(connection) as queries:
            client.get(url, headers=HTMX)
        writes.append(any("django_session" in q["sql"] and "UPDATE" in q["sql"] for q in queries))
    assert settings.WSYNC_SESSION_IDLE_MINUTES == 120
    assert writes == [False, False, False, True]


def test_the_explorer_landing_page_reads_profiles_newest_first_from_the_index(workspace, viewer):
    sql, params = _landing_query(workspace)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        else:  # a few test rows would make a sequential scan cheaper: ask whether the index can serve it
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "profile_landing" in plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan  # no sort of every profile of the environment


def _landing_query(workspace):
    from feeds.profiles.search import search_profiles

    query = search_profiles(workspace, "production", "")[:25].values("id").query
    return query.sql_with_params()


def test_the_landing_page_lists_profiles_newest_first(workspace, viewer):
    for mpid in (7100001, 7100002, 7100003):
        Profile.objects.create(workspace=workspace, environment="production", mpid=mpid)
    Profile.objects.filter(mpid=7100002).update(updated_at=timezone.now() + timedelta(hours=1))
    html = client_for(viewer).get("/w/acme/profiles/").content.decode()
    assert (
        html.index("/profiles/7100002/") < html.index("/profiles/7100003/") < html.index("/profiles/7100001/")
    )


def test_a_feed_summary_poll_reads_the_schedule_and_rules_with_the_feed(active_feed, viewer):
    active_feed.state = FeedState.ACTIVE
    active_feed.save()
    SyncRun.objects.create(feed=active_feed, state=RunState.RUNNING, rows_read=10)
    client = client_for(viewer)
    url = f"/w/acme/feeds/{active_feed.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=HTMX)
    tables = " ".join(q["sql"] for q in queries)
    assert 'FROM "sync_feedschedule"' not in tables and 'FROM "rules_ruleset"' not in tables
