"""A marketer connects a feed to an output with the green +, watches the counters, and redelivers a dead letter,
in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from feeds.outputs import delivery
from feeds.outputs.models import BatchState, OutboxBatch
from tests.outputs.conftest import make_output
from tests.sync.conftest import run_now

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_green_plus_connects_a_feed_and_the_counters_follow_delivery(
    page_as, admin, active_feed, receiver, clock
):
    output = make_output(active_feed.workspace, "webhook", receiver, name="Team webhook")
    page = page_as(admin)
    page.goto("/w/acme/feeds/")
    page.get_by_role("link", name=f"Connect {active_feed.name} to an output").click()
    page.get_by_label("What to send").select_option("attributes")
    page.get_by_label("Only these attributes").fill("plan, country")
    page.get_by_role("button", name="Connect").click()
    expect(page.locator(".alert-success")).to_contain_text("now sends to Team webhook")
    row = page.locator("#connected-outputs tr[data-output='Team webhook']")
    expect(row).to_contain_text("User attributes and identities · only country, plan")

    run_now(active_feed)  # 300 users: three batches of 100
    page.reload()
    expect(row.locator(".pending")).to_have_text("3")
    delivery.drain(output.pk, clock=clock)
    page.reload()
    expect(row.locator(".delivered")).to_have_text("3")
    expect(row.locator(".pending")).to_have_text("0")
    assert sum(len(a.body) for a in receiver.accepted) == 300
    assert all(set(b["user_attributes"]) <= {"plan", "country"} for a in receiver.accepted for b in a.body)


def test_an_admin_redelivers_a_dead_letter(page_as, admin, active_feed, receiver, clock):
    from feeds.outputs import service

    output = make_output(active_feed.workspace, "webhook", receiver, name="Team webhook", batch_size=1000)
    service.connect(active_feed, output, None)
    run_now(active_feed)
    receiver.answer("400")
    delivery.drain(output.pk, clock=clock)
    dead = OutboxBatch.objects.get()
    assert dead.state == BatchState.DEAD

    page = page_as(admin)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    row = page.locator("#connected-outputs tr[data-output='Team webhook']")
    expect(row).to_contain_text("HTTP 400")
    row.locator(".failed a").click()
    expect(page.locator("#dead-letters")).to_contain_text(dead.batch_id)
    expect(page.locator("#dead-letters")).to_contain_text("scripted 400")
    page.get_by_role("button", name="Redeliver").click()
    expect(page.locator(".alert-success")).to_contain_text("1 dead letter queued for delivery again")
    delivery.drain(output.pk, clock=clock)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    expect(row.locator(".delivered")).to_have_text("1")
    expect(row.locator(".failed")).to_have_text("0")
    assert receiver.idempotency_keys() == [dead.batch_id]


def test_an_admin_disconnects_keeping_the_backlog_then_deletes_the_output(
    page_as, admin, active_feed, receiver
):
    from feeds.outputs import service
    from feeds.outputs.models import Output

    output = make_output(active_feed.workspace, "webhook", receiver, name="Team webhook")
    service.connect(active_feed, output, None)
    run_now(active_feed)  # three batches wait: nothing drains them in this test

    page = page_as(admin)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    row = page.locator("#connected-outputs tr[data-output='Team webhook']")
    row.get_by_role("link", name="Disconnect").click()
    expect(page.locator("h1")).to_contain_text("Disconnect Team webhook")
    expect(page.locator("form.card")).to_contain_text("3 batches are still waiting to be delivered.")
    page.get_by_label("Deliver the pending batches first").check()
    page.get_by_role("button", name="Disconnect").click()
    expect(row).to_contain_text("Disconnecting")
    expect(row.locator(".pending")).to_have_text("3")

    page.goto("/w/acme/outputs/")
    page.locator("#outputs tr", has_text="Team webhook").get_by_role("link", name="Delete").click()
    expect(page.locator("#connected-feeds")).to_contain_text(active_feed.name)
    expect(page.locator("#backlog")).to_contain_text("3 batches waiting to be delivered will never be sent")
    page.get_by_role("button", name="Delete Team webhook and its connections").click()
    expect(page.locator(".alert-success")).to_contain_text("Deleted Team webhook.")
    expect(page.locator("#outputs")).not_to_contain_text("Team webhook")
    assert not Output.objects.exists() and not OutboxBatch.objects.exists()
