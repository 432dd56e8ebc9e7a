"""The settings page for a Feishu / Lark connector: the fields the developer console shows."""

from __future__ import annotations

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from oa_bridge.connectors.feishu.api import FEISHU_BASE_URL, LARK_BASE_URL
from oa_bridge.forms import COMMON_FIELDS, ConnectorSettingsForm


class FeishuSettingsForm(ConnectorSettingsForm):
    option_fields = ("base_url", "app_id", "approval_code")
    secret_fields = ("app_secret", "verification_token", "encrypt_key")

    base_url = forms.URLField(
        label=_("Open platform address"),
        initial=FEISHU_BASE_URL,
        assume_scheme="https",
        # format_lazy: a lazy string formatted here would be frozen in the language of the first request.
        help_text=format_lazy(
            _("{feishu} for Feishu (China), {lark} for Lark (international)."),
            feishu=FEISHU_BASE_URL,
            lark=LARK_BASE_URL,
        ),
    )
    app_id = forms.CharField(
        label=_("App ID"), max_length=64, help_text=_("Credentials & Basic Info, starts with cli_.")
    )
    app_secret = forms.CharField(label=_("App Secret"), max_length=128, help_text=_("Credentials & Basic Info."))
    verification_token = forms.CharField(
        label=_("Verification Token"), max_length=128, help_text=_("Events & Callbacks, Encryption Strategy.")
    )
    encrypt_key = forms.CharField(
        label=_("Encrypt Key"),
        max_length=128,
        help_text=_(
            "Events & Callbacks, Encryption Strategy. Feishu signs and encrypts callbacks only when it is set."
        ),
    )
    approval_code = forms.SlugField(
        label=_("Approval code"),
        max_length=64,
        initial="baoxiao-expense",
        help_text=_("Any stable name: Baoxiao registers its third-party approval definition under it."),
    )

    class Meta(ConnectorSettingsForm.Meta):
        fields = COMMON_FIELDS

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].rstrip("/")
