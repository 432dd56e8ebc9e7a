"""The DingTalk settings page: what the DingTalk developer console (open-dev.dingtalk.com) gives."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from oa_bridge.forms import ConnectorSettingsForm


class DingTalkSettingsForm(ConnectorSettingsForm):
    option_fields = ("app_key", "agent_id", "corp_id", "api_base_url", "rate_limit")
    secret_fields = ("app_secret", "callback_token", "aes_key")

    app_key = forms.CharField(
        label=_("App key (Client ID)"), max_length=64, help_text=_("Credentials and basic information page.")
    )
    app_secret = forms.CharField(label=_("App secret (Client secret)"), max_length=128)
    agent_id = forms.CharField(label=_("Agent ID"), max_length=32, help_text=_("Sends work notifications."))
    corp_id = forms.CharField(label=_("Corp ID"), max_length=64, required=False)
    callback_token = forms.CharField(label=_("Event subscription token"), max_length=128)
    aes_key = forms.CharField(
        label=_("Event subscription aes_key"), min_length=43, max_length=43, help_text=_("43 characters.")
    )
    api_base_url = forms.URLField(
        assume_scheme="https",
        label=_("API base URL"),
        required=False,
        help_text=_("Leave empty for DingTalk itself; set only to use a test server."),
    )
    rate_limit = forms.CharField(
        label=_("Rate limit per API"),
        max_length=40,
        required=False,
        initial="20/s",
        help_text=_("Calls per second and/or per minute, e.g. 20/s or 20/s,1500/min."),
    )
