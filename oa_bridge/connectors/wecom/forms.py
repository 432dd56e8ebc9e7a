"""The WeCom settings page: what the WeCom admin console (work.weixin.qq.com) gives."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from oa_bridge.forms import ConnectorSettingsForm


class WeComSettingsForm(ConnectorSettingsForm):
    option_fields = ("corp_id", "agent_id", "api_base_url", "rate_limit")
    secret_fields = ("app_secret", "contact_secret", "callback_token", "aes_key")

    corp_id = forms.CharField(label=_("Corp ID"), max_length=64, help_text=_("My Company → Company information."))
    agent_id = forms.CharField(label=_("Agent ID (AgentId)"), max_length=32)
    app_secret = forms.CharField(label=_("App secret (Secret)"), max_length=128)
    contact_secret = forms.CharField(
        label=_("Contact-sync secret (optional)"),
        max_length=128,
        required=False,
        help_text=_("Security and management → Management tools → Contact sync. Without it the app's secret is used."),
    )
    callback_token = forms.CharField(label=_("Callback Token"), max_length=128)
    aes_key = forms.CharField(label=_("EncodingAESKey"), min_length=43, max_length=43, help_text=_("43 characters."))
    api_base_url = forms.URLField(
        label=_("API base URL"),
        assume_scheme="https",
        required=False,
        help_text=_("Leave empty for WeCom itself; set only to use a test server."),
    )
    rate_limit = forms.CharField(
        label=_("Rate limit per API"),
        max_length=40,
        required=False,
        initial="50/s,10000/min",
        help_text=_("Calls per second and/or per minute, e.g. 50/s,10000/min."),
    )
