"""Fixtures for outputs: a feed over a real DuckDB warehouse, outputs pointing at the local receivers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from feeds.outputs import service
from feeds.outputs.models import Output
from tests.api.conftest import api, api_as, fresh_rate_limit  # noqa: F401 - the API tests' fixtures here
from tests.standins import outputs_http
from tests.sync.conftest import fail_after, feed, warehouse  # noqa: F401 - fixtures used by this folder's tests

RABBIT = {"host": "127.0.0.1", "port": 5672, "virtual_host": "/", "username": "guest", "exchange": ""}


class FakeClock:
    """The delivery worker's clock: moves only when the worker sleeps or a test says so."""

    def __init__(self) -> None:
        self.at: datetime | None = None  # starts at the wall clock's now when first read
        self.slept: list[float] = []

    def now(self) -> datetime:
        if self.at is None:
            self.at = timezone.now()
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at = self.now() + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def quick_timeouts(settings: Any) -> None:
    settings.WSYNC_OUTPUT_TIMEOUT = 1  # the receiver's scripted "timeout" holds the request longer
    settings.WSYNC_OUTPUT_RETRIES = 4


def make_output(workspace: Any, kind: str, receiver: Any = None, name: str = "", **values: Any) -> Output:
    """Return a saved output of `kind` pointing at the local receiver (or RabbitMQ)."""
    defaults: dict[str, dict[str, Any]] = {
        "webhook": {
            "url": f"{receiver.url}/webhook" if receiver else "",
            "signing_secret": outputs_http.SECRET,
            "batch_size": 100,
        },
        "mparticle": {
            "pod_url": receiver.url if receiver else "",
            "api_key": outputs_http.MPARTICLE_KEY,
            "api_secret": outputs_http.MPARTICLE_SECRET,
        },
        "braze": {"instance_url": receiver.url if receiver else "", "api_key": outputs_http.BRAZE_KEY},
        "amplitude": {"base_url": receiver.url if receiver else "", "api_key": outputs_http.AMPLITUDE_KEY},
        "rabbitmq": {**RABBIT, "password": "guest"},
    }
    return service.save_output(workspace, kind, name or kind.title(), {**defaults[kind], **values}, None)
