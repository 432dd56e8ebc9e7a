"""The admin form behind each connector's settings page.

A vendor connector declares ``settings_form = <a subclass>`` listing what its console gives:
``option_fields`` (not secret: kept in ``Connector.options``) and ``secret_fields`` (kept encrypted in the
connector's credentials; a blank secret field keeps the stored value, so the page never shows a secret).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from oa_bridge.credentials import get_credentials
from oa_bridge.models import Connector

COMMON_FIELDS = [
    "name",
    "slug",
    "enabled",
    "deliver_events",
    "directory_enabled",
    "sync_interval_minutes",
    "deactivation_threshold_percent",
]


class ConnectorSettingsForm(forms.ModelForm):
    option_fields: tuple[str, ...] = ()
    secret_fields: tuple[str, ...] = ()

    class Meta:
        model = Connector
        fields = COMMON_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        connector = self.instance
        stored = get_credentials(connector) if connector.pk else {}
        self.secrets_set = {name for name in self.secret_fields if stored.get(name)}
        for name in self.option_fields:
            if name in self.fields and connector.pk:
                self.fields[name].initial = (connector.options or {}).get(name, self.fields[name].initial)
        for name in self.secret_fields:
            field = self.fields[name]
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
            if name in self.secrets_set:
                field.required = False
                field.help_text = _("Stored. Leave empty to keep it; type a new value to replace it.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in self.secret_fields:
            if not cleaned.get(name) and name not in self.secrets_set and self.fields[name].required:
                self.add_error(name, _("This secret is needed: copy it from the vendor's console."))
        return cleaned

    def options(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.option_fields}

    def secrets(self) -> dict[str, Any]:
        """Only the secrets typed in this time; the service merges them over the stored ones."""
        return {name: self.cleaned_data[name] for name in self.secret_fields if self.cleaned_data.get(name)}
