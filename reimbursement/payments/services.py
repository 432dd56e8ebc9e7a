"""Finance's writes: batch approved claims, export the bank file, mark a batch paid, fail one payment,
void a claim. Every claim moves through ``claim_transition`` under ``lock_claim``, so each step writes its
audit and outbox events in the same transaction.

Lock order, everywhere: the batch first, then its claims by id. Beneath the locks the database keeps the
guarantees on its own (tests/finance/test_payment_races.py): a claim has at most one live payment (the
partial unique constraint ``payment_one_live_per_claim``), and a payment leaves ``pending`` by one
conditional UPDATE, so two concurrent "paid" never pay a claim twice.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.services import audit_record
from config.errors import ApplicationError, ConflictError, NotFoundError
from config.locks import for_update
from org.choices import Role
from org.selectors import user_roles
from reimbursement.choices import ClaimStatus
from reimbursement.models import (
    Claim,
    PayeeAccount,
    Payment,
    PaymentBatch,
    PaymentBatchStatus,
    PaymentStatus,
)
from reimbursement.payments.exports import BankFile, bank_file
from reimbursement.selectors import claims_visible_to
from reimbursement.services.transitions import claim_transition, lock_claim

# A batch is one transaction holding every claim's lock: keep it to what one person checks at once.
MAX_BATCH_CLAIMS = 500
NAMES_IN_MESSAGE = 5


def is_finance(user: Any) -> bool:
    return Role.FINANCE in user_roles(user)


def ensure_finance(actor: Any) -> None:
    """Finance pages and actions do not exist for anyone else (404, as for a claim one may not see)."""
    if actor is None or not is_finance(actor):
        raise NotFoundError(_("This page does not exist."))


def _actor_name(actor: Any) -> str:
    employee = getattr(actor, "employee", None)
    return getattr(employee, "name", "") or actor.get_username()


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_IN_MESSAGE])
    if len(names) > NAMES_IN_MESSAGE:
        shown += " " + _("and %(n)d more") % {"n": len(names) - NAMES_IN_MESSAGE}
    return shown


def _required_text(value: str, field: str, message: str, max_length: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ApplicationError(message, code="invalid", fields={field: [message]})
    if len(text) > max_length:
        too_long = _("At most %(n)d characters.") % {"n": max_length}
        raise ApplicationError(too_long, code="invalid", fields={field: [too_long]})
    return text


def _lock_batch(batch_id: int) -> PaymentBatch:
    try:
        return for_update(PaymentBatch.objects).get(pk=batch_id)
    except PaymentBatch.DoesNotExist:
        raise NotFoundError(_("This payment batch does not exist.")) from None


# --- Batches --------------------------------------------------------------------------------------


@transaction.atomic
def batch_create(*, actor: Any, claim_ids: Iterable[int], note: str = "") -> PaymentBatch:
    """Put approved claims into a new batch: each claim ``approved → paying`` with a pending payment.

    All or nothing: an empty selection, a claim that is no longer approved (another batch took it), a mix
    of currencies, a claimant without a bank account or a claim with nothing to pay refuses the whole batch
    with a message naming them.
    """
    ensure_finance(actor)
    ids = sorted({int(pk) for pk in claim_ids})
    if not ids:
        message = _("Select at least one claim to pay.")
        raise ApplicationError(message, code="empty_selection", fields={"claims": [message]})
    if len(ids) > MAX_BATCH_CLAIMS:
        message = _("A batch holds at most %(n)d claims; select fewer.") % {"n": MAX_BATCH_CLAIMS}
        raise ApplicationError(message, code="too_many", fields={"claims": [message]})
    visible = set(claims_visible_to(actor).filter(pk__in=ids).values_list("pk", flat=True))
    if set(ids) - visible:
        raise NotFoundError(_("One of the selected claims does not exist."))
    # By id, so two batches made at once wait for each other instead of deadlocking.
    claims = [lock_claim(pk) for pk in ids]

    taken = [c for c in claims if c.status != ClaimStatus.APPROVED]
    if taken:
        raise ConflictError(_not_payable_message(taken), code="not_payable", fields={"claims": [str(c) for c in taken]})
    currencies = sorted({c.base_currency for c in claims})
    if len(currencies) > 1:
        message = _(
            "The selected claims are in %(currencies)s; a batch pays in one currency. Select claims of one "
            "currency only."
        ) % {"currencies": ", ".join(currencies)}
        raise ApplicationError(message, code="mixed_currencies", fields={"claims": [message]})
    amounts = {c.pk: c.approved_amount if c.approved_amount is not None else c.total_amount for c in claims}
    nothing = [str(c) for c in claims if amounts[c.pk] <= 0]
    if nothing:
        message = _("Nothing was approved to pay on %(claims)s; void it instead.") % {"claims": _listed(nothing)}
        raise ApplicationError(message, code="nothing_to_pay", fields={"claims": nothing})
    accounts = {a.employee_id: a for a in PayeeAccount.objects.filter(employee_id__in={c.claimant_id for c in claims})}
    without = sorted({c.claimant.name for c in claims if c.claimant_id not in accounts})
    if without:
        message = ngettext(
            "%(names)s has no bank account for reimbursements; ask them to enter it under My claims → Bank "
            "account, or leave their claims out.",
            "%(names)s have no bank account for reimbursements; ask them to enter it under My claims → Bank "
            "account, or leave their claims out.",
            len(without),
        ) % {"names": _listed(without)}
        raise ApplicationError(message, code="no_payee_account", fields={"claims": [message]})

    now = timezone.now()
    batch = PaymentBatch.objects.create(
        currency=currencies[0],
        created_by=actor,
        created_by_name=_actor_name(actor),
        note=(note or "").strip()[:300],
        payment_count=len(claims),
        total_amount=sum(amounts.values(), Decimal("0.00")),
    )
    batch.number = f"PAY-{timezone.localtime(now):%Y}-{batch.pk:06d}"
    batch.save(update_fields=["number"])
    # Every row wait first, every audit after: the audit chain's lock is held to the end of the transaction,
    # so waiting for a row while holding it could deadlock with a writer holding that row (audit/services.py).
    payments = []
    for claim in claims:
        account = accounts[claim.claimant_id]
        try:
            # Its own savepoint: the insert is the database's guard (one live payment per claim). Without the
            # claim lock, a concurrent batch's insert waits here and fails once the first one commits.
            with transaction.atomic():
                payments.append(
                    Payment.objects.create(
                        batch=batch,
                        claim=claim,
                        payee_id=claim.claimant_id,
                        amount=amounts[claim.pk],
                        currency=claim.base_currency,
                        account_bank=account.bank_name,
                        account_last4=account.account_number_last4,
                        account_index=account.account_number_index,
                    )
                )
        except IntegrityError:
            raise ConflictError(
                _("Claim %(claim)s is already being paid in another batch.") % {"claim": claim},
                code="already_in_batch",
                fields={"claims": [str(claim)]},
            ) from None
    for claim, payment in zip(claims, payments, strict=True):
        claim_transition(
            claim=claim,
            action="start_payment",
            actor=actor,
            data={"batch": batch.number, "payment": payment.pk, "amount": str(payment.amount)},
        )
    audit_record(
        action="payment_batch.created",
        target=batch,
        actor=actor,
        data={
            "claims": [str(c) for c in claims],
            "total": str(batch.total_amount),
            "currency": batch.currency,
            "note": batch.note,
        },
    )
    return batch


def _not_payable_message(claims: list[Claim]) -> str:
    batches = dict(
        Payment.objects.filter(claim__in=claims, status=PaymentStatus.PENDING).values_list("claim_id", "batch__number")
    )
    parts = []
    for claim in claims:
        if claim.pk in batches:
            parts.append(_("%(claim)s is already in batch %(batch)s") % {"claim": claim, "batch": batches[claim.pk]})
        else:
            parts.append(
                _("%(claim)s is %(status)s") % {"claim": claim, "status": ClaimStatus(claim.status).label.lower()}
            )
    return _("Only approved claims waiting for payment can be batched: %(list)s.") % {"list": "; ".join(parts)}


@transaction.atomic
def batch_export_bank_file(*, batch_id: int, actor: Any) -> BankFile:
    """The bank payment file of an open batch (one row per payee), audited with the file's digest.

    The account numbers are decrypted here and nowhere else; the audit event records who exported which
    payees and totals, never a number. Exporting again is allowed (a lost file) and audited again.
    """
    ensure_finance(actor)
    batch = _lock_batch(batch_id)
    if batch.status != PaymentBatchStatus.OPEN:
        raise ConflictError(
            _("Batch %(batch)s is %(status)s; its bank file can no longer be exported.")
            % {"batch": batch, "status": batch.get_status_display().lower()},
            code="batch_closed",
        )
    payments = list(
        batch.payments.filter(status=PaymentStatus.PENDING)
        .select_related("payee", "payee__payee_account", "claim")
        .order_by("payee__employee_no", "claim_id")
    )
    if not payments:
        raise ConflictError(_("Batch %(batch)s has no payment left to make.") % {"batch": batch}, code="nothing_to_pay")
    changed = sorted(
        {
            p.payee.name
            for p in payments
            if getattr(p.payee, "payee_account", None) is None
            or p.payee.payee_account.account_number_index != p.account_index
        }
    )
    if changed:
        raise ConflictError(
            _(
                "The bank account of %(names)s changed after this batch was made. Mark their payments as failed "
                "(reason: account changed) and batch those claims again, so the new account is checked."
            )
            % {"names": _listed(changed)},
            code="payee_account_changed",
        )
    result = bank_file(batch=batch, payments=payments)
    batch.export_count += 1
    batch.exported_at = timezone.now()
    batch.save(update_fields=["export_count", "exported_at"])
    audit_record(
        action="payment_batch.exported",
        target=batch,
        actor=actor,
        data={
            "file": result.filename,
            "sha256": hashlib.sha256(result.content).hexdigest(),
            "rows": result.row_count,
            "total": str(result.total),
            "currency": batch.currency,
            "payees": [p.payee.employee_no for p in payments],
            "claims": [str(p.claim) for p in payments],
            "export": batch.export_count,
        },
    )
    return result


@dataclass(frozen=True)
class MarkedPaid:
    """What ``batch_mark_paid`` did: the batch, and how many payments it paid now (0: it was already paid)."""

    batch: PaymentBatch
    newly_paid: int


@transaction.atomic
def batch_mark_paid(*, batch_id: int, actor: Any, reference: str, paid_on: datetime.date | None) -> MarkedPaid:
    """The bank carried the batch out: its pending payments are paid, their claims ``paying → paid``.

    Marking a paid batch paid again with the same reference changes nothing; another reference is a
    conflict (the first one stands).
    """
    ensure_finance(actor)
    reference = _required_text(reference, "reference", _("Enter the bank's reference for this payment run."), 100)
    errors: dict[str, list[str]] = {}
    if paid_on is None:
        errors["paid_on"] = [_("Enter the date the bank paid.")]
    elif paid_on > timezone.localdate():
        errors["paid_on"] = [_("The payment date cannot be in the future.")]
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], code="invalid", fields=errors)
    batch = _lock_batch(batch_id)
    if batch.status == PaymentBatchStatus.PAID:
        if batch.paid_reference == reference:
            return MarkedPaid(batch, 0)
        raise ConflictError(
            _("Batch %(batch)s was already marked paid with reference %(reference)s on %(date)s.")
            % {"batch": batch, "reference": batch.paid_reference, "date": batch.paid_on},
            code="already_paid",
        )
    if batch.status == PaymentBatchStatus.FAILED:
        raise ConflictError(
            _("Every payment of batch %(batch)s failed; there is nothing to mark paid.") % {"batch": batch},
            code="batch_failed",
        )
    if not batch.export_count:
        raise ConflictError(
            _("Export the bank file of batch %(batch)s before marking it paid.") % {"batch": batch},
            code="not_exported",
        )
    now = timezone.now()
    pending = batch.payments.filter(status=PaymentStatus.PENDING).order_by("claim_id")
    # Locks and conditional UPDATEs of every claim first, the transitions (and their audit events) after.
    moved = []
    for payment_id, claim_id in pending.values_list("pk", "claim_id"):
        claim = lock_claim(claim_id)
        # Of two concurrent "paid", the second finds nothing pending here and pays nothing.
        if Payment.objects.filter(pk=payment_id, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.PAID, paid_at=now
        ):
            moved.append((payment_id, claim))
    paid = len(moved)
    changes = {
        "status": PaymentBatchStatus.PAID,
        "paid_reference": reference,
        "paid_on": paid_on,
        "paid_at": now,
        "paid_by": actor,
        "paid_by_name": _actor_name(actor),
    }
    # Conditional too: without the batch lock, a concurrent "paid" that found nothing left to pay must not
    # overwrite the reference of the one that paid.
    if not PaymentBatch.objects.filter(pk=batch.pk, status=PaymentBatchStatus.OPEN).update(**changes):
        batch.refresh_from_db()
        if batch.paid_reference == reference and not paid:
            return MarkedPaid(batch, 0)
        raise ConflictError(
            _("Batch %(batch)s was already marked paid with reference %(reference)s on %(date)s.")
            % {"batch": batch, "reference": batch.paid_reference, "date": batch.paid_on},
            code="already_paid",
        )
    for name, value in changes.items():
        setattr(batch, name, value)
    for payment_id, claim in moved:
        claim_transition(
            claim=claim,
            action="pay",
            actor=actor,
            data={"batch": batch.number, "payment": payment_id, "reference": reference, "paid_on": str(paid_on)},
        )
    audit_record(
        action="payment_batch.paid",
        target=batch,
        actor=actor,
        data={"reference": reference, "paid_on": str(paid_on), "payments": paid},
    )
    return MarkedPaid(batch, paid)


@transaction.atomic
def payment_mark_failed(*, payment_id: int, actor: Any, reason: str) -> Payment:
    """The bank refused one payment: it is failed with the reason and its claim is back in the queue
    (``paying → approved``). Failing a failed payment again changes nothing; a paid one cannot fail."""
    ensure_finance(actor)
    reason = _required_text(reason, "reason", _("Say why the payment failed."), 500)
    batch_id = Payment.objects.filter(pk=payment_id).values_list("batch_id", flat=True).first()
    if batch_id is None:
        raise NotFoundError(_("This payment does not exist."))
    batch = _lock_batch(batch_id)
    claim_id = Payment.objects.values_list("claim_id", flat=True).get(pk=payment_id)
    claim = lock_claim(claim_id)
    payment = for_update(Payment.objects).get(pk=payment_id)
    if payment.status == PaymentStatus.FAILED:
        return payment
    if payment.status == PaymentStatus.PAID:
        raise ConflictError(
            _("The payment of claim %(claim)s was already marked paid in batch %(batch)s; it cannot fail now.")
            % {"claim": claim, "batch": batch},
            code="already_paid",
        )
    moved = Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
        status=PaymentStatus.FAILED, failure_reason=reason, failed_at=timezone.now(), failed_by_name=_actor_name(actor)
    )
    if not moved:  # another request decided it meanwhile (reachable only without the locks)
        payment.refresh_from_db()
        if payment.status == PaymentStatus.FAILED:
            return payment
        raise ConflictError(
            _("The payment of claim %(claim)s was already marked paid in batch %(batch)s; it cannot fail now.")
            % {"claim": claim, "batch": batch},
            code="already_paid",
        )
    payment.refresh_from_db()
    if not batch.payments.exclude(status=PaymentStatus.FAILED).exists():
        batch.status = PaymentBatchStatus.FAILED
        batch.save(update_fields=["status"])
    claim_transition(
        claim=claim,
        action="payment_failed",
        actor=actor,
        data={"batch": batch.number, "payment": payment.pk, "reason": reason},
    )
    audit_record(
        action="payment.failed",
        target=batch,
        actor=actor,
        data={"claim": str(claim), "payment": payment.pk, "reason": reason},
    )
    return payment


@transaction.atomic
def claim_void(*, claim_id: int, actor: Any, reason: str) -> Claim:
    """Finance cancels a claim for good, with a reason; a claim being paid must have its payment failed
    first. Voiding a voided claim again changes nothing."""
    ensure_finance(actor)
    reason = _required_text(reason, "reason", _("Say why the claim is voided."), 500)
    if not claims_visible_to(actor).filter(pk=claim_id).exists():
        raise NotFoundError(_("This claim does not exist."))
    claim = lock_claim(claim_id)
    if claim.status == ClaimStatus.PAYING:
        raise ConflictError(
            _("Claim %(claim)s is being paid; mark its payment as failed first, then void it.") % {"claim": claim},
            code="in_payment",
        )
    return claim_transition(claim=claim, action="void", actor=actor, data={"reason": reason})
