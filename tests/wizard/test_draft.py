"""The wizard's draft: steps in order, drafts edited in place, live feeds' edits pending until Save."""

from __future__ import annotations

from datetime import UTC, datetime

from feeds import wizard
from feeds.mapping import tree
from tests.personas import client_for
from tests.wizard.conftest import USERS_SQL


def test_it_orders_the_five_steps_with_their_url_names():
    assert [s.key for s in wizard.STEPS] == ["connect", "model", "map", "schedule", "review"]
    assert wizard.STEPS[2].url_name == "map:step"


def test_it_edits_a_draft_in_place(workspace, editor, modelled):
    wizard.save_section(modelled, "schedule", {"environment": "development"}, editor)
    modelled.refresh_from_db()
    assert modelled.environment == "development" and modelled.pending_changes == {}
    assert modelled.data_model.sql == USERS_SQL and modelled.data_model.connection == modelled.connection


def test_it_keeps_a_live_feeds_edits_pending_until_applied(workspace, editor, modelled):
    modelled.state = "active"
    modelled.save()
    start = datetime(2030, 1, 1, 12, tzinfo=UTC)
    wizard.save_section(modelled, "schedule", {"environment": "development", "schedule_start": start}, editor)
    modelled.refresh_from_db()
    assert modelled.environment == "production"
    assert wizard.section_values(modelled, "schedule")["schedule_start"] == start
    wizard.apply_pending(modelled, editor)
    modelled.refresh_from_db()
    assert (modelled.environment, modelled.schedule_start, modelled.pending_changes) == (
        "development",
        start,
        {},
    )


def test_it_discards_pending_edits(workspace, editor, modelled):
    modelled.state = "paused"
    modelled.save()
    wizard.save_section(modelled, "model", {"sql": "SELECT 1 AS x"}, editor)
    wizard.discard_pending(modelled, editor)
    modelled.refresh_from_db()
    assert wizard.section_values(modelled, "model")["sql"] == USERS_SQL


def test_it_resumes_a_left_draft_at_any_step_by_url(workspace, editor, modelled):
    client = client_for(editor)
    for step in ("connect", "model", "schedule"):
        assert client.get(f"/w/acme/feeds/{modelled.pk}/setup/{step}/").status_code == 200


def test_it_sends_a_deep_link_past_an_unfinished_step_back(workspace, editor, draft):
    response = client_for(editor).get(f"/w/acme/feeds/{draft.pk}/setup/review/")
    assert response.status_code == 302 and response["Location"].endswith("/setup/model/")


def test_it_groups_flat_mappings_into_objects():
    mappings = [
        {"mapping_type": "column", "source": "email", "destination": "user_identities.email", "value": None},
        {"mapping_type": "column", "source": "$unmapped", "destination": "user_attributes.*", "value": None},
        {"mapping_type": "ignore", "source": "plan", "destination": None, "value": None},
        {"mapping_type": "column", "source": "mpid", "destination": "mpid", "value": None},
    ]
    groups = {g.key: [n.index for n in g.nodes] for g in tree.grouped(mappings, "user_attributes", [])}
    assert groups == {"user_identities": [0, 3], "user_attributes": [1, 2]}


def test_it_types_static_values():
    assert tree.static_value("42", "number") == 42 and tree.static_value("9.5", "number") == 9.5
    assert tree.static_value("true", "boolean") is True and tree.static_value("x", "string") == "x"
    try:
        tree.static_value("abc", "number")
    except ValueError as error:
        assert "is not a number" in str(error)
    else:
        raise AssertionError("a non-number was accepted")


def continue_setup(client, feed):
    """Return where the feed page's "Continue setup" leads, after following it."""
    html = client.get(f"/w/acme/feeds/{feed.pk}/").content.decode()
    href = html.split('">Continue setup</a>')[0].rsplit('href="', 1)[1]
    assert client.get(href).status_code == 200
    return href


def test_it_continues_setup_at_the_step_a_draft_was_left_at(workspace, editor, modelled):
    client = client_for(editor)
    base = f"/w/acme/feeds/{modelled.pk}/setup/"
    assert continue_setup(client, modelled) == base + "model/"
    assert (
        client.post(base + "model/", {"sql": USERS_SQL, "timestamp_field": "updated_at"}).status_code == 302
    )
    assert continue_setup(client, modelled) == base + "map/"
    assert client.post(base + "map/").status_code == 302
    assert continue_setup(client, modelled) == base + "schedule/"
    client.get(base + "model/")  # going Back to look does not lose the furthest step
    assert continue_setup(client, modelled) == base + "schedule/"
