"""Mapping: the pre-filled tree, HTMX node edits that survive a reload, validation at each node."""

from __future__ import annotations

import re

from feeds import wizard
from tests.personas import client_for

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(feed, tail=""):
    return f"/w/acme/feeds/{feed.pk}/setup/map/{tail}"


def mappings(feed):
    feed.refresh_from_db()
    return wizard.section_values(feed, "map")["mappings"]


def test_it_starts_from_the_automatic_mapping(workspace, editor, modelled):
    html = client_for(editor).get(url(modelled)).content.decode()
    saved = mappings(modelled)
    assert {
        "mapping_type": "column",
        "source": "customer_id",
        "destination": "user_identities.customer_id",
        "value": None,
    } in saved
    assert any(m["source"] == "$unmapped" and m["destination"] == "user_attributes.*" for m in saved)
    assert 'data-object="user_identities"' in html and 'data-object="user_attributes"' in html
    assert "User Attributes &amp; Identities Only" in html


def test_it_adds_a_static_child_to_an_object_as_a_fragment(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    before = len(mappings(modelled))
    response = client.post(url(modelled, "add/"), {"object": "user_attributes", "kind": "static"}, **HTMX)
    html = response.content.decode()
    assert 'id="tree"' in html and "<html" not in html
    assert len(mappings(modelled)) == before + 1 and mappings(modelled)[-1]["mapping_type"] == "static"


def test_it_saves_a_typed_static_value(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    client.post(url(modelled, "add/"), {"object": "user_attributes", "kind": "static"}, **HTMX)
    index = len(mappings(modelled)) - 1
    data = {
        "object": "user_attributes",
        "mapping_type": "static",
        "field": "loyalty_points",
        "value": "42",
        "value_type": "number",
    }
    client.post(url(modelled, f"node/{index}/"), data, **HTMX)
    assert mappings(modelled)[index] == {
        "mapping_type": "static",
        "source": None,
        "destination": "user_attributes.loyalty_points",
        "value": 42,
    }


def test_it_points_a_bad_static_number_at_its_node(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    client.post(url(modelled, "add/"), {"object": "user_attributes", "kind": "static"}, **HTMX)
    index = len(mappings(modelled)) - 1
    data = {
        "object": "user_attributes",
        "mapping_type": "static",
        "field": "x",
        "value": "abc",
        "value_type": "number",
    }
    html = client.post(url(modelled, f"node/{index}/"), data, **HTMX).content.decode()
    node_html = html.split(f'id="node-{index}"')[1]
    assert "is not a number" in node_html


def test_it_blocks_next_without_an_identity_and_says_why(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    without = [m for m in mappings(modelled) if not (m["destination"] or "").startswith("user_identities.")]
    wizard.save_section(modelled, "map", {"mappings": without}, editor)
    response = client.post(url(modelled))
    assert response.status_code == 200 and "to fix before Next" in response.content.decode()


def test_it_points_a_column_missing_from_the_model_at_its_node(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    saved = mappings(modelled)
    saved.append(
        {"mapping_type": "column", "source": "nope", "destination": "user_attributes.nope", "value": None}
    )
    wizard.save_section(modelled, "map", {"mappings": saved}, editor)
    html = client.post(url(modelled)).content.decode()
    index = len(saved) - 1
    assert "is not in the data model" in html.split(f'id="node-{index}"')[1].split("</form>")[0]


def test_it_goes_on_to_the_sync_settings_when_the_mapping_is_complete(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    response = client.post(url(modelled))
    assert response.status_code == 302 and response["Location"].endswith("/setup/schedule/")


def test_it_removes_a_node(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    before = mappings(modelled)
    client.post(url(modelled, "node/0/delete/"), **HTMX)
    assert mappings(modelled) == before[1:]


def test_it_starts_over_for_events(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    client.post(url(modelled, "type/"), {"pipeline_type": "events"}, **HTMX)
    modelled.refresh_from_db()
    assert modelled.pipeline_type == "events"
    saved = mappings(modelled)
    assert any(m["destination"] == "events[].event_type" for m in saved)


def test_it_refuses_edits_from_a_viewer(workspace, editor, viewer, modelled):
    client_for(editor).get(url(modelled))
    client = client_for(viewer)
    assert client.get(url(modelled)).status_code == 200
    assert client.post(url(modelled, "node/0/delete/")).status_code == 403
    assert client.post(url(modelled, "add/"), {"object": "events"}).status_code == 403


def test_it_offers_identity_types_and_device_ids_in_the_identity_dropdown(workspace, editor, modelled):
    html = client_for(editor).get(url(modelled)).content.decode()
    assert '<option value="user_identities.email" >Email Address</option>' in html.replace("selected", "")
    assert 'value="device_info.ios_idfv"' in html and 'value="mpid"' in html


def test_it_prefills_a_complete_event_mapping_with_pickers_for_the_event_type(workspace, editor, draft):
    from feeds.model.query import run_query

    sql = "SELECT event_id, event_name, customer_id, occurred_at, platform FROM events"
    outcome = run_query(draft.connection, sql, 5)
    wizard.save_section(draft, "model", {"sql": sql, "columns": outcome.columns, "columns_sql": sql}, editor)
    wizard.save_section(draft, "map", {"pipeline_type": "events"}, editor)
    client = client_for(editor)
    html = client.get(url(draft)).content.decode()
    assert 'data-object="events"' in html and '<option value="custom_event" selected>' in html
    assert '<option value="other" selected>' in html  # the custom event type picker
    assert client.post(url(draft))["Location"].endswith("/setup/schedule/")


def test_it_adds_an_object_with_add_mapping_and_points_its_empty_node_out(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    html = client.post(url(modelled, "add/"), {"object": "events", "kind": "column"}, **HTMX).content.decode()
    assert 'data-object="events"' in html
    index = len(mappings(modelled)) - 1
    assert mappings(modelled)[index]["destination"] == "events[]."
    node_html = html.split(f'id="node-{index}"')[1].split("</form>")[0]
    assert "node-error" in node_html


def test_it_says_which_columns_unmapped_covers(workspace, editor, modelled):
    html = client_for(editor).get(url(modelled)).content.decode()
    covers = html.split('class="col-12 small text-body-secondary unmapped-columns">')[1].split("</div>")[0]
    assert "<code>first_name</code>" in covers and "<code>plan</code>" in covers
    assert "customer_id" not in covers


def section(html, key):
    return html.split(f'data-object="{key}"')[1].split("</section>")[0]


def event_model(draft, editor, timestamp_field=""):
    from feeds.model.query import run_query

    sql = "SELECT event_id, event_name, customer_id, occurred_at FROM events"
    outcome = run_query(draft.connection, sql, 5)
    values = {"sql": sql, "columns": outcome.columns, "columns_sql": sql, "timestamp_field": timestamp_field}
    wizard.save_section(draft, "model", values, editor)
    draft.refresh_from_db()
    return draft


def test_it_shows_a_missing_identity_at_the_identities_object(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    without = [m for m in mappings(modelled) if not (m["destination"] or "").startswith("user_identities.")]
    wizard.save_section(modelled, "map", {"mappings": without}, editor)
    html = client.post(url(modelled)).content.decode()
    assert "object-error" in section(html, "user_identities")
    assert "Map at least one identity" in section(html, "user_identities")


def test_it_shows_an_unmapped_column_at_the_main_object(workspace, editor, modelled):
    client = client_for(editor)
    client.get(url(modelled))
    without = [m for m in mappings(modelled) if m["source"] != "$unmapped"]
    wizard.save_section(modelled, "map", {"mappings": without}, editor)
    html = client.post(url(modelled)).content.decode()
    assert "The column “plan” is not mapped" in section(html, "user_attributes")


def test_it_shows_missing_event_fields_at_the_event_type_node(workspace, editor, draft):
    event_model(draft, editor)
    client = client_for(editor)
    client.post(url(draft, "type/"), {"pipeline_type": "events"}, **HTMX)
    saved = mappings(draft)
    at = next(i for i, m in enumerate(saved) if m["destination"] == "events[].event_type")
    data = {"object": "events", "mapping_type": "static", "field": "event_type", "value": "screen_view"}
    html = client.post(url(draft, f"node/{at}/"), data, **HTMX).content.decode()
    node = html.split(f'id="node-{at}"')[1].split("</form>")[0]
    assert "A screen_view needs “events[].data.screen_name”." in node and "node-error" in node


def test_it_explains_an_event_type_read_from_a_column_at_its_node(workspace, editor, draft):
    event_model(draft, editor)
    client = client_for(editor)
    client.post(url(draft, "type/"), {"pipeline_type": "events"}, **HTMX)
    at = next(i for i, m in enumerate(mappings(draft)) if m["destination"] == "events[].event_type")
    data = {"object": "events", "mapping_type": "column", "source": "event_name", "field": "event_type"}
    html = client.post(url(draft, f"node/{at}/"), data, **HTMX).content.decode()
    node = html.split(f'id="node-{at}"')[1].split("</form>")[0]
    assert "must be custom_event, screen_view or commerce_event" in node
    assert "map “events[].data.screen_name” (a screen_view needs it)" in node
    assert client.post(url(draft)).status_code == 200  # Next waits until every type's fields are mapped


def test_it_offers_the_product_actions_in_a_dropdown(workspace, editor, draft):
    event_model(draft, editor)
    client = client_for(editor)
    client.post(url(draft, "type/"), {"pipeline_type": "events"}, **HTMX)
    client.post(url(draft, "add/"), {"object": "events", "kind": "static"}, **HTMX)
    index = len(mappings(draft)) - 1
    data = {"object": "events", "mapping_type": "static", "field": "data.product_action.action", "value": ""}
    html = client.post(url(draft, f"node/{index}/"), data, **HTMX).content.decode()
    node = html.split(f'id="node-{index}"')[1].split("</form>")[0]
    assert f'<select class="form-select form-select-sm" name="value" id="value-{index}">' in node
    assert '<option value="purchase" >purchase</option>' in node and 'value="add_to_wishlist"' in node


def test_it_prefills_the_event_time_from_the_models_timestamp_field(workspace, editor, draft):
    event_model(draft, editor, timestamp_field="occurred_at")
    client_for(editor).post(url(draft, "type/"), {"pipeline_type": "events"}, **HTMX)
    assert {
        "mapping_type": "column",
        "source": "occurred_at",
        "destination": "events[].data.timestamp_unixtime_ms",
        "value": None,
    } in mappings(draft)


def test_its_intro_names_where_unmapped_columns_go_for_each_type_of_data(workspace, editor, modelled):
    client = client_for(editor)
    users = client.get(url(modelled)).content.decode()
    assert "<code>$unmapped → user_attributes.*</code>" in users
    events = client.post(url(modelled, "type/"), {"pipeline_type": "events"}, **HTMX).content.decode()
    assert "<code>$unmapped → events[].data.custom_attributes.*</code>" in events
    assert "$unmapped → user_attributes" not in events


def test_each_object_header_names_its_object_once(workspace, editor, modelled):
    html = client_for(editor).get(url(modelled)).content.decode()
    section = html.split('data-object="user_identities"')[1]
    title = section.split('<code class="fs-6">')[1].split("</span>")[0]  # the key and its label, as read
    assert " ".join(re.sub("<[^>]+>", " ", title).split()) == "user_identities — who the row is about"


def test_it_previews_the_batches_the_mapping_makes_of_the_first_rows(workspace, editor, viewer, modelled):
    client_for(editor).get(url(modelled))  # the automatic mapping is saved on the first visit
    for user in (editor, viewer):
        html = client_for(user).get(url(modelled, "preview/"), **HTMX).content.decode()
        assert html.count('class="small bg-white border rounded p-2 mt-2 mb-0 sql-wrap mapped-batch"') == 3
        assert "&quot;user_identities&quot;: {" in html and "&quot;customer_id&quot;: &quot;C0" in html
    # Removing the identities shows at once what the mapping would reject.
    client = client_for(editor)
    for _ in range(2):
        client.post(url(modelled, "node/0/delete/"), **HTMX)
    html = client.get(url(modelled, "preview/"), **HTMX).content.decode()
    assert "mapped-batch" not in html and "text-danger" in html
