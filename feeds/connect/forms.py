"""The Connect step's form, built from the provider's ConfigFields (one form for every warehouse)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from feeds.models import Connection, Feed, FeedState
from feeds.warehouses.base import ConfigField, check_setting, keeps_saved, rebound_secrets, with_default
from feeds.wizard import ConnectionEdit

NEW = "new"
PREFIX = "cfg_"  # provider fields are prefixed so a provider's "name" never clashes with ours


def config_form_field(spec: ConfigField, stored: bool) -> forms.Field:
    """Return the form field for one provider setting; `stored` says a secret value is saved already."""
    help_text = spec.help_text
    if spec.secret and stored:
        help_text = f"Leave empty to keep the saved {spec.label.lower()}. {help_text}".strip()
    common: dict[str, Any] = {
        "label": spec.label,
        # Required and the provider's rule are checked in clean() (check_setting, as the API does), where
        # the saved secret an empty field keeps is known.
        "required": False,
        "help_text": help_text,
    }
    attrs = {"placeholder": spec.placeholder} if spec.placeholder else {}
    if spec.kind == "password":
        return forms.CharField(widget=forms.PasswordInput(attrs=attrs, render_value=False), **common)
    if spec.kind == "integer":
        return forms.IntegerField(widget=forms.NumberInput(attrs=attrs), **common)
    if spec.kind == "choice":
        return forms.ChoiceField(choices=[("", "—"), *spec.choices], **common)
    if spec.kind == "textarea":
        return forms.CharField(widget=forms.Textarea(attrs={**attrs, "rows": 4}), strip=False, **common)
    if spec.kind == "checkbox":
        return forms.BooleanField(**common)
    if spec.kind == "file":
        return forms.FileField(**common)
    return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)


class ConnectForm(forms.Form):
    """Feed name, which connection (an existing one or a new one) and that connection's settings."""

    feed_name = forms.CharField(label="Feed name", max_length=200)
    connection = forms.ChoiceField(label="Connection", required=False)
    name = forms.CharField(
        label="Configuration name",
        max_length=200,
        required=False,
        help_text="A name for this warehouse connection, unique in the workspace. Other feeds can reuse it.",
    )

    def __init__(
        self,
        *args: Any,
        workspace: Any,
        provider_cls: Any,
        selected: Connection | None,
        feed: Feed | None = None,
        user: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.workspace, self.provider_cls, self.selected, self.feed = workspace, provider_cls, selected, feed
        self.user = user
        # A new wizard named like a draft its user left behind continues that draft (set by clean_feed_name).
        self.continued_draft: Feed | None = None
        self.specs: tuple[ConfigField, ...] = provider_cls.fields
        existing = Connection.objects.filter(workspace=workspace, provider=provider_cls.kind).order_by("name")
        cast(forms.ChoiceField, self.fields["connection"]).choices = [
            *((str(c.pk), f"{c.name} (saved connection)") for c in existing),
            (NEW, "A new connection"),
        ]
        stored = dict(selected.secrets or {}) if selected else {}
        for spec in self.specs:
            self.fields[PREFIX + spec.name] = config_form_field(spec, bool(stored.get(spec.name)))

    def destination(self) -> dict[str, str]:
        """Return the typed settings that decide where the secrets go (host, port, user...), as sent."""
        return {s.name: str(self.data.get(PREFIX + s.name, "")) for s in self.specs if s.binds_secrets}

    def config_field_names(self) -> list[str]:
        return [PREFIX + s.name for s in self.specs]

    def clean_feed_name(self) -> str:
        """Refuse a name another feed holds; drafts hold none (Feed.holding_name), so others may reuse it."""
        name = self.cleaned_data["feed_name"].strip()
        taken = Feed.holding_name(self.workspace.pk, name)
        if self.feed is not None:
            taken = taken.exclude(pk=self.feed.pk)
        if taken.exists():
            raise ValidationError(
                f"A feed called “{name}” already exists in this workspace. Pick another name."
            )
        if self.feed is None and self.user is not None:
            # The first Next saves a draft: a new wizard named like one its user left behind continues it.
            own = Feed.objects.filter(workspace=self.workspace, name=name, state=FeedState.DRAFT)
            self.continued_draft = own.filter(created_by=self.user).order_by("-pk").first()
        return name

    def clean_connection(self) -> Connection | None:
        value = self.cleaned_data.get("connection") or NEW
        if value == NEW:
            return None
        connection = Connection.objects.filter(workspace=self.workspace, pk=value).first()
        if connection is None or connection.provider != self.provider_cls.kind:
            raise ValidationError("Pick one of the saved connections, or a new connection.")
        return connection

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "connection" not in cleaned:
            return cleaned
        self._read_files(cleaned)
        name = (cleaned.get("name") or "").strip()
        if not name:
            self.add_error("name", "Give the connection a name, for example “Analytics warehouse”.")
        elif self._name_taken(name, cleaned["connection"]):
            self.add_error("name", f"A connection called “{name}” already exists. Pick another name.")
        self._check_settings(cleaned)
        self._refuse_rebound_secrets(cleaned)
        if not self.errors:
            for field, message in self.provider_cls.validate_config(self.warehouse_config()).items():
                self.add_error(PREFIX + field if PREFIX + field in self.fields else None, message)
        return cleaned

    def _read_files(self, cleaned: dict[str, Any]) -> None:
        """Replace each uploaded file by its text (the provider's rule reads the text)."""
        for spec in self.specs:
            upload = cleaned.get(PREFIX + spec.name)
            if spec.kind == "file" and upload:
                cleaned[PREFIX + spec.name] = upload.read().decode("utf-8", errors="replace")

    def _name_taken(self, name: str, connection: Connection | None) -> bool:
        taken = Connection.objects.filter(workspace=self.workspace, name=name)
        if connection is not None:
            taken = taken.exclude(pk=connection.pk)
        return taken.exists()

    def _check_settings(self, cleaned: dict[str, Any]) -> None:
        """Check each setting as typed, or the saved secret an empty one keeps, with the provider's rules."""
        stored = self._stored_secrets(cleaned.get("connection"))
        for spec in self.specs:
            key = PREFIX + spec.name
            if key in self.errors:
                continue  # its input could not be read (text in a number field): that message says so
            value = cleaned.get(key)
            try:
                check_setting(spec, stored.get(spec.name) if keeps_saved(spec, value) else value)
            except ValueError as error:
                self.add_error(key, str(error))

    def _refuse_rebound_secrets(self, cleaned: dict[str, Any]) -> None:
        """Ask for each saved secret again when the host, user... it was saved for changed (Save and Test)."""
        stored = self._stored_secrets(cleaned.get("connection"))
        kept = [
            s.name for s in self.specs if keeps_saved(s, cleaned.get(PREFIX + s.name)) and stored.get(s.name)
        ]
        typed = {s.name: cleaned.get(PREFIX + s.name) for s in self.specs if not s.secret}
        for name, message in rebound_secrets(self.specs, stored, typed, kept).items():
            self.add_error(PREFIX + name, message)

    def _stored(self, connection: Connection | None) -> Connection | None:
        """Return the picked connection as stored: the shown copy (pending edits) if it is that one."""
        if self.selected is not None and self.selected.pk == (connection.pk if connection else None):
            return self.selected
        return connection

    def _stored_secrets(self, connection: Connection | None) -> dict[str, Any]:
        """Return the stored settings of the picked connection (see _stored)."""
        stored = self._stored(connection)
        if stored is None:
            return {}
        return {**stored.config, **(stored.secrets or {})}

    def kept_settings(self) -> dict[str, Any]:
        """Return the picked connection's stored settings this form has no field for; an edit keeps them.

        These are mParticle's Snowflake unload settings (`storage_integration`, `aws_*`), which only the API
        sets (docs/api.md): the form shows them read-only, and saving it must not drop them.
        """
        picked = getattr(self, "cleaned_data", {}).get("connection") if self.is_bound else self.selected
        stored = self._stored(picked)
        if stored is None:
            return {}
        shown = {spec.name for spec in self.specs}
        return {k: v for k, v in stored.config.items() if k not in shown}

    def split_config(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (config, secrets) as typed; empty secrets mean "keep the saved value"."""
        config: dict[str, Any] = {}
        secrets: dict[str, Any] = {}
        for spec in self.specs:
            value = self.cleaned_data.get(PREFIX + spec.name)
            if spec.kind == "file" and not value:
                value = self._stored_secrets(self.cleaned_data.get("connection")).get(spec.name)
            (secrets if spec.secret else config)[spec.name] = with_default(spec, value)
        return config, secrets

    def connection_edit(self) -> ConnectionEdit:
        """Return the connection as typed, for wizard.connect_feed (a valid form only)."""
        config, secrets = self.split_config()
        config = {**self.kept_settings(), **config}
        return ConnectionEdit(self.provider_cls.kind, self.cleaned_data["name"].strip(), config, secrets)

    def warehouse_config(self) -> dict[str, Any]:
        """Return the config to open the warehouse with: typed values, saved secrets where left empty."""
        config, secrets = self.split_config()
        stored = self._stored_secrets(self.cleaned_data.get("connection"))
        kept = {k: (v if v not in (None, "") else stored.get(k)) for k, v in secrets.items()}
        return {**config, **kept}


def initial_for(connection: Connection | None, feed_name: str, provider_cls: Any) -> dict[str, Any]:
    """Return the form's initial values: the connection's non-secret settings, never its secrets."""
    initial: dict[str, Any] = {
        "feed_name": feed_name,
        "connection": str(connection.pk) if connection else NEW,
    }
    if connection is not None:
        initial["name"] = connection.name
    for spec in provider_cls.fields:
        if spec.secret or spec.kind == "file":
            continue
        value = connection.config.get(spec.name) if connection else None
        initial[PREFIX + spec.name] = spec.default if value is None else value
    return initial
