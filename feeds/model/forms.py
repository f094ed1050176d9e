"""The data-model step's form: the SQL (checked in the warehouse's dialect) and the timestamp field."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from feeds.model.validators import SQLValidator


class DataModelForm(forms.Form):
    sql = forms.CharField(
        label="SQL query",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "class": "sql-editor", "spellcheck": "false"}),
    )
    timestamp_field = forms.ChoiceField(
        label="Timestamp field",
        required=False,
        help_text="The column that says when each row happened or changed; the Sync Start Date reads it.",
    )

    def __init__(
        self, *args: Any, dialect: str, candidates: list[str], has_sql: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.candidates = candidates
        if has_sql:
            self.fields["sql"].validators.append(SQLValidator(dialect))
        else:
            # Delta Sharing has no SQL engine: the model names a shared table, checked by the provider.
            self.fields["sql"].label = "Shared table"
        self.fields["sql"].widget.attrs["data-dialect"] = dialect
        cast(forms.ChoiceField, self.fields["timestamp_field"]).choices = [
            ("", "— pick a column —"),
            *((c, c) for c in candidates),
        ]

    def clean_timestamp_field(self) -> str:
        value = self.cleaned_data.get("timestamp_field") or ""
        if not value and self.candidates:
            raise forms.ValidationError(
                "Pick the timestamp field: wsync uses it for the historical start date."
            )
        return value
