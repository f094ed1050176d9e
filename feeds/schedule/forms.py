"""The sync-settings form: environment, input protection, sync mode and iterator, schedule, start date."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms

from feeds.models import Environment, Frequency, InputProtection, ScheduleType, SyncMode
from feeds.schedule.rules import (
    MAX_LOOKBACK_MINUTES,
    TIMEZONES,
    is_clock,
    schedule_problems,
    until_applies,
    without_unused,
)

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _utc_field(label: str, help_text: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        help_text=help_text,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )


class ScheduleForm(forms.Form):
    environment = forms.ChoiceField(choices=Environment.choices, widget=forms.RadioSelect)
    input_protection = forms.ChoiceField(
        label="Input protection", choices=InputProtection.choices, widget=forms.RadioSelect
    )
    sync_mode = forms.ChoiceField(label="Sync mode", choices=SyncMode.choices, widget=forms.RadioSelect)
    iterator = forms.ChoiceField(label="Iterator", required=False)
    iterator_type = forms.ChoiceField(label="Iterator data type", required=False)
    schedule_type = forms.ChoiceField(
        label="Sync schedule type", choices=ScheduleType.choices, widget=forms.RadioSelect
    )
    frequency = forms.ChoiceField(label="Frequency", choices=[("", "—"), *Frequency.choices], required=False)
    schedule_start = _utc_field("Date and time of the initial sync (UTC)", "")
    from_time = _utc_field(
        "Sync Start Date (UTC)",
        "Only rows whose timestamp field is at or after this date are synced. Leave empty for all history.",
    )
    schedule_end = _utc_field("End date (UTC)", "Optional: no runs start after this moment.")
    until_time = _utc_field(
        "Stop at (UTC)",
        "Optional: rows whose iterator is at or after this moment are never read (the API's sync_mode.until). "
        "Leave empty to keep reading new rows.",
    )
    lookback_minutes = forms.IntegerField(
        label="Lookback window (minutes)",
        min_value=0,
        max_value=MAX_LOOKBACK_MINUTES,
        initial=0,
        required=False,
        help_text="Re-read this much before the last run's iterator value, for rows that arrive late. 0 for none.",
    )
    # A text box with the zones as suggestions (a <datalist> in the template): typing "berl" finds
    # Europe/Berlin, where a select of ~600 zones has no search.
    timezone = forms.ChoiceField(
        label="Time zone of timestamps without a zone",
        initial="UTC",
        required=False,
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off", "spellcheck": "false"}),
        error_messages={
            "invalid_choice": "Pick a time zone from the list, such as UTC, Europe/Berlin or America/New_York."
        },
        help_text="How to read iterator and timestamp columns that carry no time zone. wsync never guesses.",
    )

    def __init__(
        self,
        *args: Any,
        columns: list[str],
        iterator_types: tuple[str, ...],
        timestamp_field: str,
        suggested_types: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.columns, self.iterator_types, self.timestamp_field = columns, iterator_types, timestamp_field
        # wizard_schedule.js fills the data type in from the picked column's type (rules.suggested_iterator_types).
        self.fields["iterator"].widget.attrs["data-suggested-types"] = json.dumps(suggested_types or {})
        cast(forms.ChoiceField, self.fields["iterator"]).choices = [
            ("", "— pick a column —"),
            *((c, c) for c in columns),
        ]
        cast(forms.ChoiceField, self.fields["timezone"]).choices = [(z, z) for z in TIMEZONES]
        cast(forms.ChoiceField, self.fields["iterator_type"]).choices = [
            ("", "—"),
            *((t, t) for t in iterator_types),
        ]
        # wizard_schedule.js shows "Stop at" only for these (rules.until_applies).
        clocks = [t for t in iterator_types if is_clock(t)]
        self.fields["iterator_type"].widget.attrs["data-clock-types"] = json.dumps(clocks)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not until_applies(cleaned):
            # Hidden on the page where it does not apply, like the iterator of a full sync: not kept.
            cleaned["until_time"] = None
        if not self.errors:
            problems = schedule_problems(cleaned, self.columns, self.iterator_types, self.timestamp_field)
            for name, message in problems.items():
                self.add_error(name, message)
        return cleaned

    def values(self) -> dict[str, Any]:
        """Return the settings to store; fields that do not apply are cleared."""
        data = dict(self.cleaned_data)
        data["lookback_seconds"] = (data.pop("lookback_minutes") or 0) * 60
        data["timezone"] = data.get("timezone") or "UTC"
        return without_unused(data)


class PreviewForm(forms.Form):
    """The small form behind the live "next five run times"."""

    schedule_type = forms.ChoiceField(choices=ScheduleType.choices)
    frequency = forms.ChoiceField(choices=[("", "—"), *Frequency.choices], required=False)
    schedule_start = _utc_field("", "")
