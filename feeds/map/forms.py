"""Forms of the mapping step: the type of data, and one tree node (column, static or ignore)."""

from __future__ import annotations

from typing import Any

from django import forms

from feeds.mapping import MappingType, tree
from feeds.models import PipelineType


class PipelineTypeForm(forms.Form):
    pipeline_type = forms.ChoiceField(
        label="Type of data to sync", choices=PipelineType.choices, widget=forms.RadioSelect
    )


class AddForm(forms.Form):
    """ "Add Mapping" (an object) or "+" inside an object (a child of a kind)."""

    object = forms.ChoiceField(choices=[(k, k) for k in tree.OBJECTS])
    kind = forms.ChoiceField(choices=MappingType.choices, required=False)


class NodeForm(forms.Form):
    mapping_type = forms.ChoiceField(choices=MappingType.choices)
    object = forms.ChoiceField(choices=[(k, k) for k in tree.OBJECTS])
    source = forms.CharField(required=False)
    field = forms.CharField(required=False, max_length=300)
    value = forms.CharField(required=False, strip=False)
    value_type = forms.ChoiceField(
        choices=[("string", "String"), ("number", "Number"), ("boolean", "Boolean")], required=False
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        kind, obj = cleaned["mapping_type"], cleaned["object"]
        if kind == MappingType.IGNORE:
            cleaned["node"] = {
                "mapping_type": MappingType.IGNORE,
                "source": cleaned["source"],
                "destination": None,
                "value": None,
            }
            return cleaned
        destination = tree.destination_for(obj, cleaned["field"])
        if kind == MappingType.STATIC:
            try:
                value = tree.static_value(cleaned["value"], cleaned.get("value_type") or "string")
            except ValueError as error:
                raise forms.ValidationError(str(error)) from None
            cleaned["node"] = {
                "mapping_type": MappingType.STATIC,
                "source": None,
                "destination": destination,
                "value": value,
            }
            return cleaned
        cleaned["node"] = {
            "mapping_type": MappingType.COLUMN,
            "source": cleaned["source"],
            "destination": destination,
            "value": None,
        }
        return cleaned
