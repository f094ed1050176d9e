"""The output kinds: a registry of dotted paths, imported lazily (a kind's client loads only when used)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any

from feeds.outputs.kinds.base import Destination

KINDS = {
    "webhook": "feeds.outputs.kinds.webhook.Webhook",
    "rabbitmq": "feeds.outputs.kinds.rabbitmq.RabbitMQ",
    "mparticle": "feeds.outputs.kinds.mparticle.MParticle",
    "braze": "feeds.outputs.kinds.braze.Braze",
    "amplitude": "feeds.outputs.kinds.amplitude.Amplitude",
}


def kind_class(kind: str) -> type[Destination]:
    """Return the class of an output kind; raises KeyError for an unknown kind."""
    module, _, name = KINDS[kind].rpartition(".")
    found: type[Destination] = getattr(import_module(module), name)
    return found


def open_destination(kind: str, config: Mapping[str, Any], secrets: Mapping[str, Any] | None) -> Destination:
    """Return a ready destination for an output's kind, settings and decrypted secrets."""
    return kind_class(kind)(config, secrets or {})
