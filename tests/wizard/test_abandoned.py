"""Drafts hold no name, are activated only under a free name, and are removed by their starter or with age."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from feeds import wizard
from feeds.accounts.models import Membership, Role
from feeds.accounts.people import ensure_user
from feeds.models import AuditEntry, DeletedFeed, Feed, FeedState
from feeds.review import readiness
from feeds.wizard import abandoned
from tests.personas import PASSWORD, client_for
from tests.wizard.test_review import ready


@pytest.fixture
def other_editor(workspace):
    user, _ = ensure_user("erin@acme.example", PASSWORD)
    Membership.objects.create(workspace=workspace, user=user, role=Role.EDITOR)
    return user


def _activate(feed, user):
    return client_for(user).post(f"/w/acme/feeds/{feed.pk}/setup/review/activate/")


def test_the_database_lets_drafts_share_a_name_but_not_activated_feeds(workspace, editor, connection):
    first = wizard.create_draft(workspace, "Shop", connection, editor)
    second = wizard.create_draft(workspace, "Shop", connection, editor)
    Feed.objects.filter(pk=first.pk).update(state=FeedState.ACTIVE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Feed.objects.filter(pk=second.pk).update(state=FeedState.ACTIVE)
    assert [f.name for f in Feed.holding_name(workspace.pk, "Shop")] == ["Shop"]


def test_activating_a_draft_whose_name_was_taken_since_names_the_field_and_the_fix(
    workspace, editor, other_editor, modelled, connection
):
    feed = ready(modelled, editor)
    theirs = wizard.create_draft(workspace, feed.name, connection, other_editor)
    Feed.objects.filter(pk=theirs.pk).update(state=FeedState.ACTIVE)
    response = _activate(feed, editor)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Feed name: another feed called “Users feed” is active now." in html
    assert "Pick another name on the Connect step." in html and "Go to Connect" in html
    feed.refresh_from_db()
    assert feed.state == FeedState.DRAFT


def test_the_constraint_refuses_a_name_taken_between_the_check_and_the_save(
    workspace, editor, other_editor, modelled, connection, monkeypatch
):
    feed = ready(modelled, editor)
    theirs = wizard.create_draft(workspace, feed.name, connection, other_editor)
    checked = readiness.review_problems

    def check_then_lose_the_race(f):
        problems = checked(f)  # passes: nobody holds the name yet
        Feed.objects.filter(pk=theirs.pk).update(state=FeedState.ACTIVE)  # the other wizard wins
        return problems

    monkeypatch.setattr(readiness, "review_problems", check_then_lose_the_race)
    with pytest.raises(readiness.ActivationRefused) as refused:
        readiness.save_and_activate(feed, editor)
    assert refused.value.problems[0].step == "connect"
    assert "Feed name: another feed called “Users feed” is active now." in refused.value.problems[0].message
    feed.refresh_from_db()
    assert feed.state == FeedState.DRAFT and feed.activated_on is None


def test_a_draft_renamed_on_connect_activates_under_its_new_name(
    workspace, editor, other_editor, modelled, connection, demo_file
):
    feed = ready(modelled, editor)
    theirs = wizard.create_draft(workspace, feed.name, connection, other_editor)
    Feed.objects.filter(pk=theirs.pk).update(state=FeedState.ACTIVE)
    data = {"feed_name": "Users feed (mine)", "connection": str(connection.pk), "name": connection.name}
    data["cfg_path"] = str(demo_file)
    assert client_for(editor).post(f"/w/acme/feeds/{feed.pk}/setup/connect/", data).status_code == 302
    assert _activate(feed, editor).status_code == 302
    feed.refresh_from_db()
    assert (feed.name, feed.state) == ("Users feed (mine)", FeedState.ACTIVE)


def test_a_drafts_starter_and_admins_may_delete_it_other_editors_and_viewers_not(
    workspace, editor, other_editor, admin, viewer, draft
):
    url = f"/w/acme/feeds/{draft.pk}/delete/"
    assert client_for(other_editor).post(url).status_code == 403
    assert client_for(viewer).post(url).status_code == 403
    page = client_for(editor).get(url).content.decode()
    assert "Delete the draft “Users feed”?" in page
    assert client_for(editor).post(url).status_code == 302
    assert not Feed.objects.filter(pk=draft.pk).exists()
    assert not DeletedFeed.objects.filter(pk=draft.pk).exists()  # a draft never ran: no lineage to name
    again = wizard.create_draft(workspace, "Again", draft.connection, editor)
    assert client_for(admin).post(f"/w/acme/feeds/{again.pk}/delete/").status_code == 302


def test_an_editor_may_not_delete_their_activated_feed(workspace, editor, draft):
    Feed.objects.filter(pk=draft.pk).update(state=FeedState.ACTIVE)
    assert client_for(editor).post(f"/w/acme/feeds/{draft.pk}/delete/").status_code == 403


def test_the_feed_list_shows_a_draft_with_its_removal_date_and_its_delete_button_to_its_starter(
    workspace, editor, other_editor, draft
):
    mine = client_for(editor).get("/w/acme/feeds/").content.decode()
    row = mine.split('data-feed-name="users feed"')[1].split("</tr>")[0]
    removed = timezone.localtime(draft.last_modified_on + timedelta(days=30))
    assert "Not activated · edited just now" in row
    assert f"removed {removed:%b} {removed.day}, {removed.year} if left as is" in row
    assert 'aria-label="Delete Users feed"' in row
    theirs = client_for(other_editor).get("/w/acme/feeds/").content.decode()
    assert 'aria-label="Delete Users feed"' not in theirs.split('data-feed-name="users feed"')[1]


def test_drafts_untouched_past_the_age_are_removed_and_logged(workspace, editor, connection, settings):
    settings.WSYNC_DRAFT_DAYS = 30
    old = wizard.create_draft(workspace, "Old", connection, editor)
    recent = wizard.create_draft(workspace, "Recent", connection, editor)
    live = wizard.create_draft(workspace, "Live", connection, editor)
    long_ago = timezone.now() - timedelta(days=31)
    Feed.objects.filter(pk__in=[old.pk, live.pk]).update(last_modified_on=long_ago)
    Feed.objects.filter(pk=live.pk).update(state=FeedState.ACTIVE)
    assert abandoned.remove_abandoned() == 1
    assert set(Feed.objects.values_list("name", flat=True)) == {"Recent", "Live"}
    entry = AuditEntry.objects.get(action="delete", target="Old")
    assert entry.actor is None and entry.actor_label == "wsync"
    assert recent.pk in set(Feed.objects.values_list("pk", flat=True))


def test_an_edit_on_any_step_keeps_a_draft(workspace, editor, modelled):
    long_ago = timezone.now() - timedelta(days=31)
    Feed.objects.filter(pk=modelled.pk).update(last_modified_on=long_ago)
    modelled.refresh_from_db()
    wizard.save_section(modelled, "model", {"timestamp_field": "updated_at"}, editor)
    assert abandoned.remove_abandoned() == 0
    assert Feed.objects.filter(pk=modelled.pk).exists()


def test_no_age_keeps_drafts_for_ever(workspace, editor, draft, settings):
    settings.WSYNC_DRAFT_DAYS = 0
    Feed.objects.filter(pk=draft.pk).update(last_modified_on=timezone.now() - timedelta(days=3650))
    assert abandoned.remove_abandoned() == 0
    draft.refresh_from_db()
    assert abandoned.removal_time(draft) is None


def test_a_refused_delete_says_who_may(workspace, editor, other_editor, draft):
    html = client_for(other_editor).get(f"/w/acme/feeds/{draft.pk}/delete/").content.decode()
    assert "This needs the Admin role in Acme. The editor who started a draft may delete it too." in html
