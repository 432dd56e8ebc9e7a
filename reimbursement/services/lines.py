"""Adding, changing and removing the lines of an editable claim."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.errors import ApplicationError, NotFoundError
from reimbursement.choices import FxRateSource, InvoiceKind, PolicyAction, PolicyKind
from reimbursement.fx import rate_for, to_base
from reimbursement.invoices import invoice_key, normalise, validate_invoice
from reimbursement.models import Claim, ClaimLine, ExpenseCategory
from reimbursement.policy import applicable_rules
from reimbursement.services.common import ensure_claimant, ensure_editable, recompute_total
from reimbursement.services.transitions import lock_claim

MAX_AMOUNT = Decimal("99999999999.99")
MAX_LINES = 200


@dataclass
class LineInput:
    """What the claimant types for one line; forms and the API both build one."""

    expense_date: datetime.date | None
    category_id: int | None
    amount: Decimal | str | None
    currency: str
    description: str = ""
    merchant: str = ""
    tax_amount: Decimal | str | None = None
    invoice_kind: str = InvoiceKind.NONE
    invoice_code: str = ""
    invoice_number: str = ""
    invoice_date: datetime.date | None = None
    seller_name: str = ""
    seller_tax_id: str = ""
    fx_rate: Decimal | str | None = None  # a manual rate; needs fx_override_reason
    fx_override_reason: str = ""


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError from None
    if not number.is_finite():
        raise ValueError
    return number


def _validated(claim: Claim, data: LineInput, lookups: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check every field, collecting all messages, and return the values to store.

    ``lookups`` caches the claimant's rules and the categories across the lines of one request.
    """
    lookups = {} if lookups is None else lookups
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    today = timezone.localdate()
    if data.expense_date is None:
        err("expense_date", _("Enter the date of the expense."))
    elif data.expense_date > today:
        err("expense_date", _("The date cannot be in the future."))
    else:
        if "rules" not in lookups:
            lookups["rules"] = applicable_rules(claim)
        for rule in lookups["rules"]:
            if (
                rule.kind == PolicyKind.MAX_AGE
                and rule.action == PolicyAction.BLOCK
                and (not rule.category_id or rule.category_id == data.category_id)
                and (today - data.expense_date).days > rule.days
            ):
                err(
                    "expense_date",
                    _("Expenses older than %(days)d days cannot be claimed (“%(rule)s”).")
                    % {"days": rule.days, "rule": rule.name},
                )
                break

    if "categories" not in lookups:
        lookups["categories"] = {c.pk: c for c in ExpenseCategory.objects.filter(active=True)}
    category = lookups["categories"].get(data.category_id) if data.category_id else None
    if category is None:
        err("category", _("Choose one of the expense categories."))

    amount = tax = manual_rate = None
    try:
        amount = _decimal(data.amount)
        if amount is None:
            err("amount", _("Enter the amount."))
        elif amount <= 0:
            err("amount", _("The amount must be more than zero."))
        elif amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
            err("amount", _("Enter an amount with at most two decimals."))
    except ValueError:
        err("amount", _("Enter the amount as a number, e.g. 128.50."))
    try:
        tax = _decimal(data.tax_amount) or Decimal("0")
        if tax < 0 or tax != tax.quantize(Decimal("0.01")) or (amount and amount > 0 and tax > amount):
            err("tax_amount", _("The tax is a number between zero and the amount, with at most two decimals."))
    except ValueError:
        err("tax_amount", _("Enter the tax as a number."))

    currency = (data.currency or "").strip().upper()
    if currency not in settings.BAOXIAO_CURRENCIES:
        err("currency", _("Unknown currency; use one of %(list)s.") % {"list": ", ".join(settings.BAOXIAO_CURRENCIES)})

    reason = (data.fx_override_reason or "").strip()
    try:
        manual_rate = _decimal(data.fx_rate)
        if manual_rate is not None:
            if manual_rate <= 0 or manual_rate > Decimal("100000"):
                err("fx_rate", _("The exchange rate must be more than zero."))
            elif currency == claim.base_currency and manual_rate != 1:
                err("fx_rate", _("A line in the base currency has no exchange rate."))
            elif not reason:
                err("fx_override_reason", _("Say why you enter the exchange rate yourself."))
    except ValueError:
        err("fx_rate", _("Enter the exchange rate as a number."))

    kind = data.invoice_kind or InvoiceKind.NONE
    if kind not in InvoiceKind.values:
        err("invoice_kind", _("Unknown invoice kind."))
    else:
        errors_invoice = validate_invoice(
            kind=kind, code=data.invoice_code, number=data.invoice_number, seller_tax_id=data.seller_tax_id
        )
        for field, messages in errors_invoice.items():
            for message in messages:
                err(field, message)
    if data.invoice_date and data.invoice_date > today:
        err("invoice_date", _("The invoice date cannot be in the future."))
    for name, limit in (("description", 500), ("merchant", 200), ("seller_name", 200), ("fx_override_reason", 300)):
        if len(getattr(data, name) or "") > limit:
            err(name, _("At most %(n)d characters.") % {"n": limit})

    rate, source = Decimal("1"), FxRateSource.BASE
    if not errors and currency != claim.base_currency:
        if manual_rate is not None:
            rate, source = manual_rate, FxRateSource.MANUAL
        else:
            try:
                rate, source = (
                    rate_for(currency=currency, base_currency=claim.base_currency, date=data.expense_date),
                    FxRateSource.TABLE,
                )
            except ApplicationError as exc:
                errors.setdefault("currency", []).append(exc.message)
    if errors:
        raise ApplicationError(_("Please correct the line."), code="invalid_line", fields=errors)

    return {
        "expense_date": data.expense_date,
        "category": category,
        "description": (data.description or "").strip(),
        "merchant": (data.merchant or "").strip(),
        "amount": amount,
        "currency": currency,
        "fx_rate": rate,
        "fx_rate_source": source,
        "fx_override_reason": reason if source == FxRateSource.MANUAL else "",
        "base_amount": to_base(amount, rate),
        "tax_amount": tax,
        "invoice_kind": kind,
        "invoice_code": normalise(data.invoice_code),
        "invoice_number": normalise(data.invoice_number),
        "invoice_date": data.invoice_date,
        "seller_name": (data.seller_name or "").strip(),
        "seller_tax_id": normalise(data.seller_tax_id),
        "invoice_key": invoice_key(
            kind=kind, code=data.invoice_code, number=data.invoice_number, seller_tax_id=data.seller_tax_id
        ),
    }


def _audit_manual_rate(line: ClaimLine, actor: Any, previous: tuple | None = None) -> None:
    current = (line.fx_rate_source, line.fx_rate, line.fx_override_reason)
    if line.fx_rate_source == FxRateSource.MANUAL and current != previous:
        audit_record(
            action="claim.line.fx_overridden",
            target=line.claim,
            actor=actor,
            data={
                "line": line.pk,
                "currency": line.currency,
                "rate": str(line.fx_rate),
                "reason": line.fx_override_reason,
            },
        )


@transaction.atomic
def line_add(*, claim_id: int, actor: Any, data: LineInput) -> ClaimLine:
    """Add a line to an editable claim and update its total."""
    claim = lock_claim(claim_id)
    ensure_claimant(claim, actor)
    ensure_editable(claim)
    count = claim.lines.count()
    if count >= MAX_LINES:
        raise ApplicationError(_("A claim has at most %(n)d lines; start another claim.") % {"n": MAX_LINES})
    line = ClaimLine.objects.create(claim=claim, position=count + 1, **_validated(claim, data))
    _audit_manual_rate(line, actor)
    recompute_total(claim)
    return line


@transaction.atomic
def lines_add(*, claim_id: int, actor: Any, lines: list[LineInput]) -> list[ClaimLine]:
    """Add several lines at once (a claim created with its lines): one lock, one total, all or nothing.

    Errors name each bad line by its index: ``{"<index>.<field>": [...]}``.
    """
    claim = lock_claim(claim_id)
    ensure_claimant(claim, actor)
    ensure_editable(claim)
    count = claim.lines.count()
    if count + len(lines) > MAX_LINES:
        raise ApplicationError(_("A claim has at most %(n)d lines; start another claim.") % {"n": MAX_LINES})
    lookups: dict[str, Any] = {}
    values, errors = [], {}
    for index, data in enumerate(lines):
        try:
            values.append(_validated(claim, data, lookups))
        except ApplicationError as exc:
            for field, messages in (exc.fields or {"": [exc.message]}).items():
                errors[f"{index}.{field}" if field else str(index)] = messages
    if errors:
        raise ApplicationError(_("Please correct the lines; nothing was saved."), code="invalid_line", fields=errors)
    created = ClaimLine.objects.bulk_create(
        ClaimLine(claim=claim, position=count + i, **v) for i, v in enumerate(values, start=1)
    )
    audit_record(
        action="claim.lines.added",
        target=claim,
        actor=actor,
        data={"lines": len(created), "total": str(sum(v["base_amount"] for v in values))},
    )
    for line in created:
        _audit_manual_rate(line, actor)
    recompute_total(claim)
    return created


def _locked_line(line_id: int, actor: Any) -> tuple[Claim, ClaimLine]:
    claim_id = ClaimLine.objects.filter(pk=line_id).values_list("claim_id", flat=True).first()
    if claim_id is None:
        raise NotFoundError(_("This line does not exist."))
    claim = lock_claim(claim_id)
    ensure_claimant(claim, actor)
    ensure_editable(claim)
    return claim, ClaimLine.objects.get(pk=line_id)


@transaction.atomic
def line_update(*, line_id: int, actor: Any, data: LineInput) -> ClaimLine:
    """Change a line of an editable claim; the FX rate is looked up again for the new date or currency."""
    claim, line = _locked_line(line_id, actor)
    previous = (line.fx_rate_source, line.fx_rate, line.fx_override_reason)
    values = _validated(claim, data)
    changed = [name for name, value in values.items() if getattr(line, name) != value]
    for name in changed:
        setattr(line, name, values[name])
    if changed:
        line.save(update_fields=[*changed, "updated_at"])
        _audit_manual_rate(line, actor, previous)
        recompute_total(claim)
    return line


@transaction.atomic
def line_remove(*, line_id: int, actor: Any) -> Claim:
    """Remove a line (and its attachments) from an editable claim; later lines move up."""
    claim, line = _locked_line(line_id, actor)
    files = [a.file.name for a in line.attachments.all()]
    line.delete()
    for position, other in enumerate(claim.lines.order_by("position", "id"), start=1):
        if other.position != position:
            ClaimLine.objects.filter(pk=other.pk).update(position=position)
    recompute_total(claim)

    def delete_files() -> None:
        from django.core.files.storage import default_storage

        for name in files:
            default_storage.delete(name)

    transaction.on_commit(delete_files)
    return claim
