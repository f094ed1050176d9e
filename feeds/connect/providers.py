"""The provider directory and the connection check the Connect step shows (no views, no forms)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from feeds.models import Connection
from feeds.warehouses.base import CheckResult, PrepareStep, WarehouseError
from feeds.warehouses.registry import PROVIDERS, label, open_warehouse, provider_class


@dataclass(frozen=True)
class ProviderEntry:
    kind: str
    label: str
    available: bool  # False while the provider's module (or its client library) is not installed
    has_sql: bool = True


def load_provider(kind: str) -> Any | None:
    """Return the provider class, or None when the kind is unknown or its module cannot load."""
    if kind not in PROVIDERS:
        return None
    try:
        return provider_class(kind)
    except (ImportError, AttributeError):
        return None


def directory(query: str = "") -> list[ProviderEntry]:
    """Return every provider whose name matches the search text, available ones first."""
    needle = query.strip().lower()
    entries = []
    for spec in PROVIDERS.values():
        if needle and needle not in spec.label.lower() and needle not in spec.kind:
            continue
        cls = load_provider(spec.kind)
        entries.append(ProviderEntry(spec.kind, spec.label, cls is not None, getattr(cls, "has_sql", True)))
    return sorted(entries, key=lambda e: (not e.available, e.label.lower()))


def check_connection(kind: str, config: Mapping[str, Any]) -> CheckResult:
    """Return the result of one real round trip to the warehouse; never raises."""
    cls = load_provider(kind)
    if cls is None:
        return CheckResult(False, f"{label(kind)} connections are not available on this server yet.")
    problems = cls.validate_config(config)
    if problems:
        field, message = next(iter(problems.items()))
        return CheckResult(False, message, True, field)
    try:
        warehouse = open_warehouse(kind, config)
    except WarehouseError as error:
        return CheckResult(False, error.message, error.permanent, error.field)
    try:
        return warehouse.check()
    finally:
        warehouse.close()


def prepare_steps(kind: str, config: Mapping[str, Any]) -> list[PrepareStep]:
    """Return the "Prepare your warehouse" steps filled with the non-secret names typed so far."""
    cls = load_provider(kind)
    return list(cls.prepare_steps(config)) if cls is not None else []


@dataclass(frozen=True)
class ProviderInfo:
    """What templates show of a provider class (templates would call a class, so they get this)."""

    kind: str
    label: str
    dialect: str
    has_sql: bool
    data_model_help: str = ""  # what a data model is without SQL (Delta Sharing's explanation)


def info(cls: Any) -> ProviderInfo:
    """Return what templates show of a provider class."""
    help_for = getattr(cls, "data_model_help", None)
    return ProviderInfo(cls.kind, label(cls.kind), cls.dialect, cls.has_sql, help_for() if help_for else "")


def latest_connection(workspace: Any, kind: str) -> Connection | None:
    """Return the workspace's most recently changed saved connection of this kind, which a new feed offers first."""
    return (
        Connection.objects.filter(workspace=workspace, provider=kind)
        .order_by("-last_modified_on", "-pk")
        .first()
    )
