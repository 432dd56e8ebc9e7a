"""Forms of the employee's claim pages.

The forms only turn what was typed into values (dates, ids); the services decide what is valid and
their ApplicationError.fields come back onto the fields with ``show_errors``, so a rule lives in one
place and the API and the pages give the same messages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.forms.boundfield import BoundField
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from reimbursement.choices import ClaimStatus, InvoiceKind
from reimbursement.selectors import active_categories
from reimbursement.services import LineInput


class BootstrapBoundField(BoundField):
    """Marks the widget of a field with errors as invalid and ties it to its messages for screen readers."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if self.errors:
            # These attrs override the widget's own, so keep its classes (form-control) beside the new one.
            classes = attrs.get("class") or (widget or self.field.widget).attrs.get("class", "")
            attrs["class"] = f"{classes} is-invalid".strip()
            attrs["aria-invalid"] = "true"
            attrs["aria-describedby"] = f"{self.auto_id}-errors"
        return attrs


class BootstrapForm(forms.Form):
    """Bootstrap classes on every widget, and a way to put a service's field errors on the form."""

    bound_field_class = BootstrapBoundField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def show_errors(self, error: ApplicationError) -> None:
        """Attach the service's messages to their fields; the rest (and the summary) to the form."""
        placed = False
        for name, messages in error.fields.items():
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
            placed = placed or target is not None
        if not placed:
            self.add_error(None, error.message)

    @property
    def invalid_field_names(self) -> set[str]:
        return {name for name in self.errors if name != forms.forms.NON_FIELD_ERRORS}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict | None = None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class NoEchoTextInput(forms.TextInput):
    """A text box that never writes its value back into the page (bank account and ID numbers)."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


class ClaimHeaderForm(BootstrapForm):
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Customer visit to Shanghai, 3–5 March")}),
    )
    cost_centre = forms.CharField(label=_("Cost centre"), max_length=64, required=False)
    project = forms.CharField(label=_("Project"), max_length=64, required=False)


def currency_choices() -> list[tuple[str, str]]:
    return [(c, c) for c in settings.BAOXIAO_CURRENCIES]


class LineForm(BootstrapForm):
    """One expense line. Names follow LineInput so the service's field errors land next to the field."""

    INVOICE_FIELDS = ("invoice_kind", "invoice_code", "invoice_number", "invoice_date", "seller_name", "seller_tax_id")
    FX_FIELDS = ("fx_rate", "fx_override_reason")

    expense_date = forms.DateField(label=_("Date"), required=False, widget=DateInput())
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=int, empty_value=None)
    description = forms.CharField(label=_("Description"), required=False, max_length=500)
    merchant = forms.CharField(label=_("Merchant"), required=False, max_length=200)
    amount = forms.CharField(
        label=_("Amount"), required=False, widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    )
    currency = forms.ChoiceField(label=_("Currency"), required=False)
    tax_amount = forms.CharField(
        label=_("Tax"), required=False, widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    )
    # "No invoice" first: it is what a new line starts with.
    invoice_kind = forms.ChoiceField(
        label=_("Invoice kind"),
        required=False,
        choices=sorted(InvoiceKind.choices, key=lambda choice: choice[0] != InvoiceKind.NONE),
        initial=InvoiceKind.NONE,
    )
    invoice_code = forms.CharField(label=_("Invoice code"), required=False, max_length=12)
    invoice_number = forms.CharField(label=_("Invoice number"), required=False, max_length=32)
    invoice_date = forms.DateField(label=_("Invoice date"), required=False, widget=DateInput())
    seller_name = forms.CharField(label=_("Seller"), required=False, max_length=200)
    seller_tax_id = forms.CharField(label=_("Seller tax id"), required=False, max_length=20)
    fx_rate = forms.CharField(
        label=_("Exchange rate"),
        required=False,
        help_text=_("Leave empty to use the rate table."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    fx_override_reason = forms.CharField(label=_("Reason for the rate"), required=False, max_length=300)

    def __init__(self, *args: Any, base_currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Category names in the reader's language: built per request, not at import.
        self.fields["category"].choices = [("", "—")] + [(c.pk, c.name) for c in active_categories()]
        self.fields["currency"].choices = currency_choices()
        if not self.is_bound:
            self.initial.setdefault("currency", base_currency)

    @classmethod
    def initial_from_line(cls, line) -> dict[str, Any]:
        return {
            "expense_date": line.expense_date,
            "category": line.category_id,
            "description": line.description,
            "merchant": line.merchant,
            "amount": line.amount,
            "currency": line.currency,
            "tax_amount": line.tax_amount if line.tax_amount else "",
            "invoice_kind": line.invoice_kind,
            "invoice_code": line.invoice_code,
            "invoice_number": line.invoice_number,
            "invoice_date": line.invoice_date,
            "seller_name": line.seller_name,
            "seller_tax_id": line.seller_tax_id,
            "fx_rate": line.fx_rate if line.fx_rate_source == "manual" else "",
            "fx_override_reason": line.fx_override_reason,
        }

    def line_input(self) -> LineInput:
        data = self.cleaned_data
        return LineInput(
            expense_date=data.get("expense_date"),
            category_id=data.get("category"),
            amount=data.get("amount"),
            currency=data.get("currency") or "",
            description=data.get("description") or "",
            merchant=data.get("merchant") or "",
            tax_amount=data.get("tax_amount"),
            invoice_kind=data.get("invoice_kind") or InvoiceKind.NONE,
            invoice_code=data.get("invoice_code") or "",
            invoice_number=data.get("invoice_number") or "",
            invoice_date=data.get("invoice_date"),
            seller_name=data.get("seller_name") or "",
            seller_tax_id=data.get("seller_tax_id") or "",
            fx_rate=data.get("fx_rate") or None,
            fx_override_reason=data.get("fx_override_reason") or "",
        )

    @property
    def invoice_open(self) -> bool:
        """Show the invoice part unfolded when it holds something or an error."""
        if self.invalid_field_names & set(self.INVOICE_FIELDS):
            return True
        kind = self["invoice_kind"].value()
        return bool(kind and kind != InvoiceKind.NONE)

    @property
    def fx_open(self) -> bool:
        return bool(self.invalid_field_names & set(self.FX_FIELDS) or self["fx_rate"].value())


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Receipt"), required=False)


class PayeeAccountForm(BootstrapForm):
    account_name = forms.CharField(label=_("Account holder"), max_length=200, required=False)
    bank_name = forms.CharField(label=_("Bank"), max_length=200, required=False)
    branch = forms.CharField(label=_("Branch"), max_length=200, required=False)
    account_number = forms.CharField(
        label=_("Account number"),
        max_length=40,
        required=False,
        widget=NoEchoTextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=24,
        required=False,
        help_text=_("Optional; some banks need it for transfers."),
        widget=NoEchoTextInput(attrs={"autocomplete": "off"}),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


# The list page's sort menu: the ClaimFilterSet's ordering values with labels people understand.
SORT_CHOICES = [
    ("-created", _("Newest first")),
    ("created", _("Oldest first")),
    ("-submitted", _("Recently submitted")),
    ("-amount", _("Largest amount")),
    ("amount", _("Smallest amount")),
    ("number", _("Number")),
    ("status", _("Status")),
]
STATUS_CHOICES = ClaimStatus.choices
