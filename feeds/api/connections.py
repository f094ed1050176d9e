"""Saving a connection from API values: the provider's field rules, its config check, one real test.

No HTTP here, and no form or wizard: the saving itself is feeds.connections'. Every refusal is an ApiError whose
message is the provider's (or the wizard's) words, never a stack trace and never a secret.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from feeds.accounts.models import Workspace
from feeds.api.errors import Conflict, Invalid
from feeds.api.types import ASCII_DIGITS, MASK, PROVIDER_MUST, find_provider
from feeds.connect.providers import check_connection, load_provider
from feeds.connections import save_connection
from feeds.models import Connection, Health
from feeds.warehouses.base import ConfigField, check_setting, keeps_saved, rebound_secrets, with_default
from feeds.warehouses.registry import api_name, label, provider_class

__all__ = ["api_name"]  # the API's name of a connection's provider, for the views

# mParticle's Snowflake settings for unloading query results into its own S3 bucket. wsync reads through the
# connector and unloads nothing, but stores and returns them, so a script's GET-edit-PUT round trip keeps them.
KEPT_MPARTICLE_SETTINGS: dict[str, tuple[str, ...]] = {
    "snowflake": ("storage_integration", "aws_iam_user_arn", "aws_external_id"),
}
# Redshift's old "ssl" box, which a GET of an older connection still shows: it is now allow_unencrypted.
IGNORED_SETTINGS = frozenset({"ssl"})


def provider_kind(name: Any, field: str = "service_provider") -> str:
    """Return the registry key for a service_provider name (“Snowflake”, “PostgreSQL”, “duckdb”...).

    `field` is where the request gave the name: the body's service_provider or the serviceProvider filter.
    """
    kind = find_provider(name)
    if kind is None:
        raise Invalid(PROVIDER_MUST.replace("{field}", field), field=field)
    return kind


def shown_config(connection: Connection) -> dict[str, Any]:
    """Return the provider's settings and the kept mParticle ones as the API shows them: secrets masked."""
    stored = {**connection.config, **(connection.secrets or {})}
    config: dict[str, Any] = {}
    for spec in provider_fields(connection.provider):
        value = stored.get(spec.name)
        config[spec.name] = MASK if spec.secret and value not in (None, "") else value
    for name in KEPT_MPARTICLE_SETTINGS.get(connection.provider, ()):
        config[name] = connection.config.get(name)
    return config


def provider_fields(kind: str) -> tuple[ConfigField, ...]:
    """Return the provider's settings; raises Invalid when its module is not installed here."""
    cls = load_provider(kind)
    if cls is None:
        raise Invalid(f"{label(kind)} connections are not available on this server yet.")
    return tuple(cls.fields)


def split_config(
    kind: str, raw: dict[str, Any], stored: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (config, secrets) checked field by field; a secret sent as the mask keeps the stored one."""
    fields = provider_fields(kind)
    kept = KEPT_MPARTICLE_SETTINGS.get(kind, ())
    known = {spec.name for spec in fields}
    for key in raw:
        if key not in known and key not in IGNORED_SETTINGS and key not in kept:
            raise Invalid(f"“{key}” is not a setting of {label(kind)} connections.", field=f"config.{key}")
    config: dict[str, Any] = {name: _kept_text(raw.get(name), f"config.{name}") for name in kept}
    secrets: dict[str, Any] = {}
    for spec in fields:
        value = _field_value(spec, raw.get(spec.name), stored.get(spec.name))
        (secrets if spec.secret else config)[spec.name] = value
    unchanged = [s.name for s in fields if _keeps_stored(s, raw.get(s.name)) and stored.get(s.name)]
    for name, message in rebound_secrets(fields, stored, config, unchanged).items():
        raise Invalid(message, field=f"config.{name}")
    return config, secrets


def _kept_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 500:
        raise Invalid(f"“{field}” must be a text of at most 500 characters, or null.", field=field)
    return value.strip()


def _keeps_stored(spec: ConfigField, value: Any) -> bool:
    """True when the value sent (nothing, empty or the mask) means "keep the saved secret"."""
    return keeps_saved(spec, None if value == MASK else value)


def _field_value(spec: ConfigField, value: Any, stored: Any) -> Any:
    field = f"config.{spec.name}"
    if _keeps_stored(spec, value):
        value = stored
    value = with_default(spec, _coerce(spec, value, field))
    try:
        check_setting(spec, value)
    except ValueError as error:
        raise Invalid(str(error), field=field) from None
    return value


def _coerce(spec: ConfigField, value: Any, field: str) -> Any:
    if value in (None, ""):
        return value
    if spec.kind == "integer":
        # ASCII digits only: "²" passes isdigit() but not int(); 18 digits stay inside a database integer.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | str)
            or not ASCII_DIGITS.fullmatch(str(value).strip())
        ):
            raise Invalid(f"{spec.label} must be a whole number.", field=field)
        return int(value)
    if spec.kind == "checkbox":
        if not isinstance(value, bool):
            raise Invalid(f"{spec.label} must be true or false.", field=field)
        return value
    if spec.kind == "file" and isinstance(value, dict):
        return json.dumps(value)  # a key file sent as a JSON object rather than its text
    if spec.kind == "choice" and spec.choices and value not in {c for c, _ in spec.choices}:
        raise Invalid(f"{spec.label} must be one of: {', '.join(c for c, _ in spec.choices)}.", field=field)
    if not isinstance(value, str):
        raise Invalid(f"{spec.label} must be text.", field=field)
    return value


def save_checked_connection(
    workspace: Workspace,
    *,
    connection: Connection | None,
    slug: str,
    name: str,
    provider: str,
    raw_config: dict[str, Any],
    active: bool,
    user: Any,
) -> Connection:
    """Validate, test (one real round trip) and save a connection; returns it.

    Raises Invalid with the provider's message (bad value, failed test) and Conflict for a taken id.
    """
    if connection is not None and connection.provider != provider:
        raise Invalid("A connection's service_provider cannot change; create a new connection.")
    stored = {**connection.config, **(connection.secrets or {})} if connection else {}
    config, secrets = split_config(provider, raw_config, stored)
    _check_name(workspace, name, connection)
    cls = provider_class(provider)  # importable: split_config refused unavailable providers
    for key, message in cls.validate_config({**config, **secrets}).items():
        raise Invalid(message, field=f"config.{key}")
    result = check_connection(provider, {**config, **secrets})
    if not result.ok:
        where = f"config.{result.field}" if result.field else None
        raise Invalid(result.message, code="connection_failed", field=where)
    return _save(workspace, connection, slug, name, provider, config, secrets, active, user)


def _check_name(workspace: Workspace, name: str, connection: Connection | None) -> None:
    taken = Connection.objects.filter(workspace=workspace, name=name)
    if connection is not None:
        taken = taken.exclude(pk=connection.pk)
    if taken.exists():
        raise Invalid(f"A connection called “{name}” already exists. Pick another name.", field="name")


def _save(
    workspace: Workspace,
    connection: Connection | None,
    slug: str,
    name: str,
    provider: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    active: bool,
    user: Any,
) -> Connection:
    if connection is None:
        if Connection.objects.filter(workspace=workspace, slug=slug).exists():
            raise Conflict(f"A connection with id “{slug}” already exists in this workspace.")
        connection = Connection(workspace=workspace, provider=provider, slug=slug, created_by=user)
    try:
        with transaction.atomic():
            saved = save_connection(
                workspace,
                connection=connection,
                provider=provider,
                name=name,
                config=config,
                secrets=secrets,
                user=user,
            )
            saved.is_active, saved.status, saved.errors = active, Health.HEALTHY, []
            saved.last_checked_on = timezone.now()
            saved.save(update_fields=["is_active", "status", "errors", "last_checked_on"])
    except IntegrityError:
        raise Conflict(f"A connection with id “{slug}” already exists in this workspace.") from None
    return saved


def delete_connection(connection: Connection, user: Any) -> None:
    """Delete a connection no data model or pipeline uses; raises Invalid naming what still uses it."""
    from feeds import audit

    users = [f"data model “{m}”" for m in connection.data_models.all()[:3]]
    users += [f"pipeline “{f}”" for f in connection.feeds.all()[:3]]
    if users:
        raise Invalid(f"The connection is used by {', '.join(users)}. Delete or move those first.")
    audit.record(connection.workspace, user, "delete connection", connection.name)
    connection.delete()
