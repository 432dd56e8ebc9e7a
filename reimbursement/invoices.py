"""Invoice numbers: the shapes each kind must have and the normalised key used against duplicates."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from reimbursement.choices import InvoiceKind

_DIGITS = re.compile(r"^\d+$")
_ALNUM = re.compile(r"^[0-9A-Z]+$")
# Unified social credit code (18) or the older taxpayer ids (15 or 20), digits and capitals.
_TAX_ID = re.compile(r"^[0-9A-Z]{15}$|^[0-9A-Z]{18}$|^[0-9A-Z]{20}$")


def normalise(value: str) -> str:
    """Upper-case without spaces or dashes: how people type the same number differently."""
    return re.sub(r"[\s\-]", "", value or "").upper()


def validate_invoice(*, kind: str, code: str, number: str, seller_tax_id: str) -> dict[str, list[str]]:
    """Per-field messages for numbers of the wrong shape; empty when everything fits the kind."""
    code, number, tax_id = normalise(code), normalise(number), normalise(seller_tax_id)
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if kind in (InvoiceKind.VAT_SPECIAL, InvoiceKind.VAT_ORDINARY):
        if not (_DIGITS.match(code) and len(code) in (10, 12)):
            err("invoice_code", _("A VAT invoice code has 10 or 12 digits."))
        if not (_DIGITS.match(number) and len(number) == 8):
            err("invoice_number", _("A VAT invoice number has 8 digits."))
    elif kind == InvoiceKind.VAT_DIGITAL:
        if code:
            err("invoice_code", _("A fully digital invoice has no invoice code; leave it empty."))
        if not (_DIGITS.match(number) and len(number) == 20):
            err("invoice_number", _("A fully digital invoice (数电票) number has 20 digits."))
    elif kind in (InvoiceKind.TRAIN_TICKET, InvoiceKind.FLIGHT_ITINERARY, InvoiceKind.TAXI_RECEIPT):
        if not (_ALNUM.match(number) and 6 <= len(number) <= 21):
            err("invoice_number", _("A ticket number has 6 to 21 letters or digits."))
    elif kind in (InvoiceKind.RECEIPT, InvoiceKind.FOREIGN_RECEIPT):
        if number and not (re.match(r"^[0-9A-Z/#.]+$", number) and len(number) <= 32):
            err("invoice_number", _("A receipt number has at most 32 letters, digits or / # ."))
    elif kind == InvoiceKind.NONE and (code or number):
        err("invoice_kind", _("Choose the kind of invoice for this number."))
    if tax_id and not _TAX_ID.match(tax_id):
        err("seller_tax_id", _("A seller tax id has 15, 18 or 20 digits or capital letters."))
    return errors


def invoice_key(*, kind: str, code: str, number: str, seller_tax_id: str = "") -> str:
    """The identity of an invoice across claims, or "" for a line without a numbered invoice.

    VAT paper and electronic invoices are identified by code and number; a fully digital invoice by its
    20-digit number, which is unique nationwide; tickets and receipts by kind, seller and number.
    """
    code, number = normalise(code), normalise(number)
    if not number or kind == InvoiceKind.NONE:
        return ""
    if kind in (InvoiceKind.VAT_SPECIAL, InvoiceKind.VAT_ORDINARY):
        return f"VAT:{code}:{number}"
    if kind == InvoiceKind.VAT_DIGITAL:
        return f"DIGITAL:{number}"
    return f"{kind.upper()}:{normalise(seller_tax_id)}:{number}"[:80]
