from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth import get_user_model

from feeds.accounts.models import Workspace
from feeds.ops.models import AlertSettings
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.outbound import guard_host


class AlertSettingsForm(forms.ModelForm):
    """Who is told about incidents: members by email, a webhook, and when an interval feed counts as late."""

    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Webhook URL (Slack-compatible)",
        help_text='wsync POSTs {"text": …} here when an incident opens and when it is resolved.',
    )

    class Meta:
        model = AlertSettings
        fields = ["recipients", "webhook_url", "late_after_intervals"]
        labels = {
            "recipients": "Email these members",
            "late_after_intervals": "Alert when an interval feed has not succeeded for this many intervals",
        }
        help_texts = {"recipients": "Until an admin saves this page, the workspace's admins are emailed."}
        widgets = {"recipients": forms.CheckboxSelectMultiple}

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["recipients"]
        field.queryset = get_user_model().objects.filter(memberships__workspace=workspace).order_by("email")  # type: ignore[attr-defined]
        field.label_from_instance = lambda user: user.email or user.get_username()  # type: ignore[attr-defined]
        self.fields["late_after_intervals"].widget.attrs.update(min=1, max=100)

    def clean_late_after_intervals(self) -> int:
        value = self.cleaned_data["late_after_intervals"]
        if not 1 <= value <= 100:
            raise forms.ValidationError("Give a whole number of intervals from 1 to 100.")
        return value

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"].strip()
        if not url:
            return ""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise forms.ValidationError("Give the full webhook address, starting with https://.")
        try:
            guard_host(parts.hostname, field="webhook_url")
        except WarehouseError as error:
            raise forms.ValidationError(error.message.replace("warehouse hosts", "hosts")) from error
        return url
