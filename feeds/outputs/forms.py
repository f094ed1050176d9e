"""Forms of the output pages, built from each kind's ConfigFields (the API validates with the same fields)."""

from __future__ import annotations

from typing import Any

from django import forms

from feeds.outputs.kinds import kind_class
from feeds.outputs.models import Output, Sends


def output_form(kind: str, data: Any = None, output: Output | None = None) -> forms.Form:
    """Return the form of an output kind: its name and its settings (secrets are never shown again)."""
    form = forms.Form(data)
    form.fields["name"] = forms.CharField(max_length=200, label="Name", help_text="How the output is listed.")
    for spec in kind_class(kind).fields:
        help_text = spec.help_text
        if spec.secret and output is not None:
            help_text = (help_text + " Leave empty to keep the saved one.").strip()
        field: forms.Field
        if spec.kind == "password":
            field = forms.CharField(widget=forms.PasswordInput(render_value=False))
        elif spec.kind == "textarea":
            field = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
        else:
            field = forms.CharField()
        field.label, field.help_text = spec.label, help_text
        field.required = False  # the service names every missing value, in the same words as the API
        field.widget.attrs.update({"class": "form-control", "placeholder": spec.placeholder})
        form.fields[spec.name] = field
        if output is not None and not spec.secret:
            form.initial[spec.name] = output.config.get(spec.name, spec.default)
        elif spec.default is not None and not spec.secret:
            form.initial[spec.name] = spec.default
    form.fields["name"].widget.attrs["class"] = "form-control"
    if output is not None:
        form.initial["name"] = output.name
    return form


class ConnectForm(forms.Form):
    output = forms.ModelChoiceField(queryset=Output.objects.none(), label="Output", empty_label=None)
    sends = forms.ChoiceField(choices=Sends.choices, label="What to send", initial=Sends.BOTH)
    attributes = forms.CharField(
        required=False,
        label="Only these attributes",
        help_text="Comma-separated attribute names; leave empty to send every attribute.",
    )
    history = forms.BooleanField(
        required=False,
        label="Also send what the feed has already synced",
        help_text="Leave unticked to send only changes from now on.",
    )

    def __init__(self, *args: Any, workspace: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["output"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Output.objects.filter(workspace=workspace)
        for name in ("output", "sends", "attributes"):
            self.fields[name].widget.attrs["class"] = (
                "form-select" if name != "attributes" else "form-control"
            )

    def attribute_list(self) -> list[str]:
        return [a.strip() for a in (self.cleaned_data.get("attributes") or "").split(",") if a.strip()]


class DisconnectForm(forms.Form):
    drop_backlog = forms.TypedChoiceField(
        choices=[("keep", "Deliver the pending batches first"), ("drop", "Drop the pending batches")],
        coerce=lambda v: v == "drop",
        widget=forms.RadioSelect,
        label="Pending batches",
        initial="keep",
    )
