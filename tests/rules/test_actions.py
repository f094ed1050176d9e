"""Actions over a page of batches: each action, with conditions, NULLs, unicode, missing fields and row failures."""

from __future__ import annotations

import hashlib

import pytest

from feeds.mapping.pages import MappedPage
from feeds.rules.execute import CompiledRules
from tests.rules.conftest import batch, event_batch, step


def run(steps, batches, keys=None):
    keys = keys or [f"k{i}" for i in range(len(batches))]
    return CompiledRules(steps).apply(MappedPage(batches, keys, list(range(len(batches)))))


def test_drop_user_removes_the_rows_its_condition_selects_and_keeps_keys_aligned():
    page = run(
        [step({"type": "drop_user"}, {"field": "attributes.plan", "operator": "equals", "value": "test"})],
        [batch(plan="test"), batch(plan="pro"), batch(plan=None), batch(plan=...)],
    )
    assert [b["user_attributes"].get("plan", "-") for b in page.batches] == ["pro", None, "-"]
    assert page.row_keys == ["k1", "k2", "k3"]
    assert page.iterator_values == [1, 2, 3]
    assert page.rejects == []


def test_drop_event_by_name_keeps_the_user_and_other_events():
    b = event_batch("buy")
    b["events"].append({"event_type": "custom_event", "data": {"event_name": "view"}})
    page = run([step({"type": "drop_event", "event_name": "buy"})], [b, event_batch("view")])
    assert [[e["data"]["event_name"] for e in x["events"]] for x in page.batches] == [["view"], ["view"]]
    assert page.batches[0]["user_identities"]["email"] == "ada@example.com"


def test_drop_event_by_condition():
    page = run(
        [
            step(
                {"type": "drop_event"},
                {"field": "event.attributes.amount", "operator": "less_than", "value": "1"},
            )
        ],
        [event_batch(amount=0), event_batch(amount=5), event_batch()],
    )
    assert [len(b["events"]) for b in page.batches] == [0, 1, 1]


def test_remove_and_rename_attributes_leave_rows_without_them_alone():
    page = run(
        [
            step({"type": "remove_attribute", "field": "attributes.secret"}),
            step({"type": "rename_attribute", "field": "attributes.plan", "to": "tier"}),
            step({"type": "rename_attribute", "field": "event.attributes.amt", "to": "amount"}),
        ],
        [batch(secret="x"), batch(plan=...), event_batch(amt=3)],
    )
    assert page.batches[0]["user_attributes"] == {"tier": "pro"}
    assert page.batches[1]["user_attributes"] == {}
    assert page.batches[2]["events"][0]["data"]["custom_attributes"] == {"amount": 3}


def test_set_attribute_static_and_by_expression_with_types_kept():
    page = run(
        [
            step({"type": "set_attribute", "field": "attributes.source", "value": "warehouse"}),
            step({"type": "set_attribute", "field": "attributes.vip", "value": True}),
            step(
                {
                    "type": "set_attribute",
                    "field": "attributes.label",
                    "expression": "attributes.plan + '-' + environment",
                }
            ),
            step({"type": "set_attribute", "field": "identities.other", "value": 42}),
        ],
        [batch()],
    )
    b = page.batches[0]
    assert b["user_attributes"]["source"] == "warehouse"
    assert b["user_attributes"]["vip"] is True
    assert b["user_attributes"]["label"] == "pro-production"
    assert b["user_identities"]["other"] == "42"  # identities are text


def test_normalise_identity_trims_and_lowercases_unicode_and_drops_a_blank_one():
    page = run(
        [step({"type": "normalise_identity", "field": "identities.email"})],
        [batch(email="  ZOË@Example.COM "), batch(email="   "), batch(email=None)],
    )
    assert page.batches[0]["user_identities"]["email"] == "zoë@example.com"
    assert "email" not in page.batches[1]["user_identities"]
    assert "email" not in page.batches[2]["user_identities"]


def test_hash_gives_sha256_hex_of_the_text_and_leaves_null_alone():
    page = run(
        [
            step({"type": "normalise_identity", "field": "identities.email"}),
            step({"type": "hash", "field": "identities.email"}),
            step({"type": "hash", "field": "attributes.n"}),
        ],
        [batch(email=" Zoë@x.io", n=5), batch(n=None)],
    )
    assert page.batches[0]["user_identities"]["email"] == hashlib.sha256("zoë@x.io".encode()).hexdigest()
    assert page.batches[0]["user_attributes"]["n"] == hashlib.sha256(b"5").hexdigest()
    assert page.batches[1]["user_attributes"]["n"] is None


@pytest.mark.parametrize(
    ("value", "keep", "masked"),
    [
        ("4111111111111111", 4, "••••••••••••1111"),
        ("abc", 4, "•••"),
        ("Zoë", 0, "•••"),
        (1234567, 2, "•••••67"),
    ],
)
def test_mask_hides_all_but_the_last_characters(value, keep, masked):
    page = run([step({"type": "mask", "field": "attributes.card", "keep": keep})], [batch(card=value)])
    assert page.batches[0]["user_attributes"]["card"] == masked


def test_steps_apply_in_order_and_disabled_steps_do_nothing():
    steps = [
        step({"type": "set_attribute", "field": "attributes.plan", "value": "test"}),
        step(
            {"type": "drop_user"},
            {"field": "attributes.plan", "operator": "equals", "value": "test"},
            enabled=False,
        ),
        step({"type": "rename_attribute", "field": "attributes.plan", "to": "tier"}),
    ]
    page = run(steps, [batch()])
    assert page.batches[0]["user_attributes"] == {"tier": "test"}


def test_a_row_a_cel_step_fails_on_is_rejected_with_the_step_and_the_reason_and_the_others_go_on():
    steps = [step({"type": "drop_user"}, {"expression": "attributes.score > 10"}, name="Drop high scores")]
    page = run(steps, [batch(score=11), batch(score=1), batch()], ["a", "b", "c"])
    assert page.row_keys == ["b"]
    assert len(page.rejects) == 1
    reject = page.rejects[0]
    assert reject.row_key == "c"
    assert reject.reason.startswith(
        "Rule step 1 “Drop high scores” failed on this row: the row has no 'score'"
    )
    assert reject.values["identities.email"] == "ada@example.com"


def test_a_condition_that_is_not_true_or_false_rejects_the_row():
    page = run([step({"type": "drop_user"}, {"expression": "attributes.plan"})], [batch()])
    assert page.batches == [] and "not true or false" in page.rejects[0].reason


def test_an_action_on_an_event_field_skips_rows_without_an_event():
    page = run(
        [step({"type": "set_attribute", "field": "event.attributes.x", "value": 1})], [batch(), event_batch()]
    )
    assert page.batches[0]["events"] == []
    assert page.batches[1]["events"][0]["data"]["custom_attributes"] == {"x": 1}
