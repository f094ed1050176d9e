"""Mapping: auto-mapping of reserved names, validation messages, and map_page's batches."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from feeds.mapping.pages import compile_mappings, map_page
from feeds.mapping.rules import auto_mappings, validate_mappings
from feeds.warehouses.base import Column, FieldType, Page


def destinations(mappings):
    return {m["source"]: m["destination"] for m in mappings if m["mapping_type"] == "column"}


def page(columns, *rows):
    return Page(tuple(Column(c, FieldType.STRING) for c in columns), list(rows))


def mapped(mappings, columns, *rows, iterator=None, timezone="UTC", feed_id=1):
    compiled = compile_mappings(mappings, columns)
    return map_page(
        page(columns, *rows),
        compiled,
        feed_id=feed_id,
        environment="production",
        iterator=iterator,
        timezone=timezone,
    )


# --- auto_mappings ---------------------------------------------------------------------------------


def test_it_maps_reserved_identity_names_case_insensitively():
    m = destinations(
        auto_mappings(["CustomerID", "EMAIL", "other_id_5", "Mobile_Number", "MPID"], "user_attributes")
    )
    assert m == {
        "CustomerID": "user_identities.customer_id",
        "EMAIL": "user_identities.email",
        "other_id_5": "user_identities.other_id_5",
        "Mobile_Number": "user_identities.mobile_number",
        "MPID": "mpid",
        "$unmapped": "user_attributes.*",
    }


def test_it_maps_customer_id_with_or_without_underscore():
    assert (
        destinations(auto_mappings(["customer_id"], "user_attributes"))["customer_id"]
        == "user_identities.customer_id"
    )
    assert (
        destinations(auto_mappings(["customerid"], "user_attributes"))["customerid"]
        == "user_identities.customer_id"
    )


def test_it_maps_device_ids_to_device_info():
    m = destinations(auto_mappings(["ios_advertising_id", "Push_Token", "mp_deviceid"], "user_attributes"))
    assert m["ios_advertising_id"] == "device_info.ios_advertising_id"
    assert m["Push_Token"] == "device_info.push_token"
    assert m["mp_deviceid"] == "mp_deviceid"


def test_it_maps_reserved_attribute_aliases():
    m = destinations(auto_mappings(["$FirstName", "$zip", "firstname"], "user_attributes"))
    assert m["$FirstName"] == "user_attributes.$firstname"
    assert m["$zip"] == "user_attributes.$zip"
    assert "firstname" not in m  # an ordinary column: $unmapped keeps its own name


def test_it_ignores_the_iterator_in_user_pipelines():
    mappings = auto_mappings(["email", "updated_at"], "user_attributes", iterator="updated_at")
    assert {"mapping_type": "ignore", "source": "updated_at", "destination": None, "value": None} in mappings


def test_it_proposes_an_event_skeleton_for_event_pipelines():
    mappings = auto_mappings(["email", "ts", "amount"], "events", iterator="ts")
    by_destination = {m["destination"]: m for m in mappings}
    assert by_destination["events[].event_type"]["value"] == "custom_event"
    assert by_destination["events[].data.event_name"]["source"] is None  # the user completes it
    assert by_destination["events[].data.timestamp_unixtime_ms"]["source"] == "ts"
    assert by_destination["events[].data.custom_attributes.*"]["source"] == "$unmapped"


# --- validate_mappings -----------------------------------------------------------------------------


def messages(mappings, columns, pipeline_type="user_attributes"):
    return [(e.index, e.field, e.message) for e in validate_mappings(mappings, columns, pipeline_type)]


def col(source, destination):
    return {"mapping_type": "column", "source": source, "destination": destination, "value": None}


def static(destination, value):
    return {"mapping_type": "static", "source": None, "destination": destination, "value": value}


@pytest.mark.parametrize("kind", ["Column", "copy", None, ""])
def test_it_names_the_mapping_type_field_when_the_kind_is_unknown(kind):
    mapping = {"mapping_type": kind, "source": "email", "destination": "user_attributes.mail", "value": None}
    assert messages([col("email", "user_identities.email"), mapping], ["email"]) == [
        (1, "mapping_type", "Choose Column, Static or Ignore.")
    ]


def test_the_map_steps_choices_are_the_mapping_types_the_rules_accept():
    from feeds.map.forms import NodeForm
    from feeds.mapping import MappingType

    assert NodeForm().fields["mapping_type"].choices == MappingType.choices
    assert MappingType.values == ["column", "static", "ignore"]


def test_it_accepts_the_auto_mapping():
    columns = ["email", "plan", "updated_at"]
    assert (
        validate_mappings(auto_mappings(columns, "user_attributes", "updated_at"), columns, "user_attributes")
        == []
    )


def test_it_names_a_source_that_is_not_a_column():
    assert (
        0,
        "source",
        "The column “mail” is not in the data model's query. Run the query again or pick another column.",
    ) in messages([col("mail", "user_identities.email"), col("$unmapped", "user_attributes.*")], ["email"])


def test_it_asks_for_every_column_to_be_mapped_or_ignored():
    errors = messages([col("email", "user_identities.email")], ["email", "plan"])
    assert errors == [
        (None, "mappings", "The column “plan” is not mapped. Map it, ignore it, or map “$unmapped”.")
    ]


def test_it_asks_for_an_identity():
    errors = messages([col("plan", "user_attributes.plan")], ["plan"])
    assert errors == [
        (None, "identities", "Map at least one identity (for example customer_id or email) from a column.")
    ]


def test_it_refuses_a_destination_mapped_twice():
    errors = messages([col("a", "user_identities.email"), col("b", "user_identities.email")], ["a", "b"])
    assert errors == [(1, "destination", "“user_identities.email” is mapped twice. Keep one of them.")]


def test_it_refuses_unknown_destinations():
    errors = messages(
        [col("email", "user_identities.e_mail"), col("$unmapped", "user_attributes.*")], ["email"]
    )
    assert (0, "destination", "“user_identities.e_mail” is not a field wsync can fill.") in errors


@pytest.mark.parametrize(
    ("destination", "value", "message"),
    [
        ("events[].event_type", "click", "Choose one of: custom_event, screen_view, commerce_event."),
        ("user_attributes.plan", {"a": 1}, "A static value is a text, a number or true/false."),
        (
            "events[].data.timestamp_unixtime_ms",
            "soon",
            "The timestamp is a number of milliseconds since 1970.",
        ),
    ],
)
def test_it_checks_static_values(destination, value, message):
    mappings = [
        col("email", "user_identities.email"),
        {"mapping_type": "static", "source": None, "destination": destination, "value": value},
    ]
    assert (1, "value", message) in messages(mappings, ["email"])


def test_it_asks_events_for_their_type_and_required_fields():
    base = [col("email", "user_identities.email")]
    assert messages(base, ["email"], "events") == [
        (None, "events", "Map the event type (events[].event_type).")
    ]
    screen = [
        *base,
        {
            "mapping_type": "static",
            "source": None,
            "destination": "events[].event_type",
            "value": "screen_view",
        },
    ]
    assert messages(screen, ["email"], "events") == [
        (None, "events", "A screen_view needs “events[].data.screen_name”.")
    ]


def test_it_says_where_whole_tree_errors_belong():
    errors = validate_mappings([col("plan", "user_attributes.plan")], ["plan", "email"], "user_attributes")
    where = {e.message[:24]: (e.section, e.node) for e in errors}
    assert where == {
        "The column “email” is no": ("user_attributes", None),
        "Map at least one identit": ("user_identities", None),
    }
    screen = [col("email", "user_identities.email"), static("events[].event_type", "screen_view")]
    (missing,) = validate_mappings(screen, ["email"], "events")
    assert (missing.index, missing.section, missing.node) == (None, "events", 1)


def test_it_requires_every_event_types_fields_when_the_type_comes_from_a_column():
    mappings = [
        col("email", "user_identities.email"),
        col("kind", "events[].event_type"),
        col("name", "events[].data.event_name"),
    ]
    errors = validate_mappings(mappings, ["email", "kind", "name"], "events")
    assert [(e.node, e.message) for e in errors] == [
        (
            1,
            "The event type comes from the column “kind”, so its rows may be any event type: "
            f"map “events[].data.{field}” (a {kind} needs it).",
        )
        for kind, field in (
            ("custom_event", "custom_event_type"),
            ("screen_view", "screen_name"),
            ("commerce_event", "product_action.action"),
        )
    ]
    complete = [
        *mappings,
        static("events[].data.custom_event_type", "other"),
        col("screen", "events[].data.screen_name"),
        col("action", "events[].data.product_action.action"),
    ]
    assert validate_mappings(complete, ["email", "kind", "name", "screen", "action"], "events") == []


def test_it_rejects_rows_whose_event_type_is_unknown_or_lacks_its_fields():
    columns = ["email", "kind", "name", "screen", "action"]
    mappings = [
        col("email", "user_identities.email"),
        col("kind", "events[].event_type"),
        col("name", "events[].data.event_name"),
        static("events[].data.custom_event_type", "other"),
        col("screen", "events[].data.screen_name"),
        col("action", "events[].data.product_action.action"),
    ]
    result = mapped(
        mappings,
        columns,
        ("a@x", "screen_view", None, "Home", None),
        ("b@x", "click", "Buy", None, None),
        ("c@x", "commerce_event", None, None, None),
        ("d@x", "commerce_event", None, None, "purchase"),
    )
    assert [b["events"][0]["event_type"] for b in result.batches] == ["screen_view", "commerce_event"]
    assert [(r.row_key, r.reason) for r in result.rejects] == [
        ("email=b@x", "The event type “click” is not one of custom_event, screen_view, commerce_event."),
        (
            "email=c@x",
            "A commerce_event needs “events[].data.product_action.action”, and this row's value is empty.",
        ),
    ]


def test_it_prefills_the_event_time_from_the_timestamp_field():
    mappings = auto_mappings(["email", "occurred_at", "updated_at"], "events", timestamp="occurred_at")
    assert destinations(mappings)["occurred_at"] == "events[].data.timestamp_unixtime_ms"
    assert "updated_at" not in destinations(mappings)  # left to $unmapped (custom attributes)


def test_it_asks_for_the_column_of_a_placeholder():
    mappings = auto_mappings(["email"], "events")
    assert (2, "source", "Pick a column for “events[].data.event_name”.") in messages(
        mappings, ["email"], "events"
    )


# --- map_page --------------------------------------------------------------------------------------


def test_it_makes_one_batch_per_row_in_the_mparticle_shape():
    columns = ["customerid", "$firstname", "plan", "tags"]
    result = mapped(auto_mappings(columns, "user_attributes"), columns, ("C1", "Ann", None, ["a", "b"]))
    (b,) = result.batches
    assert b["environment"] == "production"
    assert b["user_identities"] == {"customer_id": "C1"}
    assert b["user_attributes"] == {"$firstname": "Ann", "plan": None, "tags": ["a", "b"]}
    assert b["events"] == [] and isinstance(b["source_request_id"], str)
    assert result.row_keys == ["customer_id=C1"]


def test_it_rejects_rows_without_identity():
    result = mapped(
        auto_mappings(["email", "plan"], "user_attributes"), ["email", "plan"], (None, "pro"), ("a@x", "pro")
    )
    assert len(result.batches) == 1
    (reject,) = result.rejects
    assert "no identity" in reject.reason and reject.values == {"email": None, "plan": "pro"}


def test_it_returns_the_iterator_values():
    columns = ["email", "updated_at"]
    at = datetime(2024, 1, 1, 12)
    result = mapped(
        auto_mappings(columns, "user_attributes", "updated_at"), columns, ("a@x", at), iterator="updated_at"
    )
    assert result.iterator_values == [at]
    assert "updated_at" not in result.batches[0]["user_attributes"]


def test_it_reads_naive_timestamps_in_the_feeds_timezone():
    columns = ["email", "seen"]
    result = mapped(
        auto_mappings(columns, "user_attributes"),
        columns,
        ("a@x", datetime(2024, 7, 1, 12)),
        timezone="Europe/Berlin",
    )
    assert result.batches[0]["user_attributes"]["seen"] == "2024-07-01T12:00:00+02:00"
    aware = mapped(
        auto_mappings(columns, "user_attributes"), columns, ("a@x", datetime(2024, 7, 1, 12, tzinfo=UTC))
    )
    assert aware.batches[0]["user_attributes"]["seen"] == "2024-07-01T12:00:00+00:00"


def test_it_turns_decimals_into_numbers_when_exact():
    columns = ["email", "a", "b", "c", "d"]
    result = mapped(
        auto_mappings(columns, "user_attributes"),
        columns,
        ("a@x", Decimal("12.00"), Decimal("1.5"), Decimal("0.1000000000000000000000001"), date(2024, 1, 2)),
    )
    attributes = result.batches[0]["user_attributes"]
    assert attributes == {"a": 12, "b": 1.5, "c": "0.1000000000000000000000001", "d": "2024-01-02"}
    assert type(attributes["a"]) is int


def event_mappings():
    return [
        col("email", "user_identities.email"),
        col("ts", "events[].data.timestamp_unixtime_ms"),
        col("name", "events[].data.event_name"),
        {
            "mapping_type": "static",
            "source": None,
            "destination": "events[].event_type",
            "value": "custom_event",
        },
        {
            "mapping_type": "static",
            "source": None,
            "destination": "events[].data.custom_event_type",
            "value": "other",
        },
        col("$unmapped", "events[].data.custom_attributes.*"),
    ]


def test_it_builds_events_with_deterministic_ids():
    columns = ["email", "ts", "name", "amount"]
    row = ("a@x", datetime(2024, 1, 1, tzinfo=UTC), "buy", Decimal("9.99"))
    first = mapped(event_mappings(), columns, row).batches[0]
    (event,) = first["events"]
    assert event["event_type"] == "custom_event"
    assert event["data"]["event_name"] == "buy" and event["data"]["custom_event_type"] == "other"
    assert event["data"]["timestamp_unixtime_ms"] == 1704067200000
    assert event["data"]["custom_attributes"] == {"amount": 9.99}
    again = mapped(event_mappings(), columns, row).batches[0]["events"][0]["data"]["source_message_id"]
    assert again == event["data"]["source_message_id"]
    other_feed = mapped(event_mappings(), columns, row, feed_id=2).batches[0]["events"][0]["data"][
        "source_message_id"
    ]
    other_row = mapped(event_mappings(), columns, (*row[:3], Decimal("1"))).batches[0]["events"][0]["data"]
    assert len({again, other_feed, other_row["source_message_id"]}) == 3


def test_it_uses_a_mapped_id_column_as_the_event_id():
    columns = ["email", "ts", "name", "id"]
    mappings = [*event_mappings(), col("id", "events[].data.source_message_id")]
    result = mapped(mappings, columns, ("a@x", 1704067200000, "buy", 42))
    assert result.batches[0]["events"][0]["data"]["source_message_id"] == "42"


def test_content_ids_stay_the_uuid5_they_always_were():
    # Event and request ids derive from it: a different id would make re-read rows new events.
    import json
    import uuid

    from feeds.mapping.columns import EVENT_NAMESPACE
    from feeds.mapping.pages import content_id

    for values in ([1, "a", None, True, 2.5], ["é", "\u2028", {"b": 1, "a": 2}], []):
        content = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
        assert content_id(7, values) == str(uuid.uuid5(EVENT_NAMESPACE, f"7:{content}"))
