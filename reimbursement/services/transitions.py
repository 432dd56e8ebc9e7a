"""The one path by which a claim changes state: lock, check the table, write, audit, publish.

Approvals and finance move claims through ``claim_transition`` too; they never save ``status``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.domain_events import DomainEvent, publish
from config.errors import ConflictError, NotFoundError
from config.locks import for_update
from reimbursement.choices import RELEASED_STATUSES
from reimbursement.choices import ClaimStatus as S
from reimbursement.models import Claim, InvoiceRegistration

# action -> (states it may start from, state it leads to, domain event / audit action)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "submit": (frozenset({S.DRAFT, S.WITHDRAWN}), S.SUBMITTED, "claim.submitted"),
    "resubmit": (frozenset({S.RETURNED}), S.SUBMITTED, "claim.resubmitted"),
    "withdraw": (frozenset({S.SUBMITTED, S.IN_APPROVAL}), S.WITHDRAWN, "claim.withdrawn"),
    "route": (frozenset({S.SUBMITTED}), S.IN_APPROVAL, "claim.routed"),
    "return": (frozenset({S.IN_APPROVAL}), S.RETURNED, "claim.returned"),
    "reject": (frozenset({S.IN_APPROVAL}), S.REJECTED, "claim.rejected"),
    "approve": (frozenset({S.SUBMITTED, S.IN_APPROVAL}), S.APPROVED, "claim.approved"),
    "start_payment": (frozenset({S.APPROVED}), S.PAYING, "claim.payment_started"),
    "pay": (frozenset({S.PAYING}), S.PAID, "claim.paid"),
    "payment_failed": (frozenset({S.PAYING}), S.APPROVED, "claim.payment_failed"),
    "void": (frozenset({S.SUBMITTED, S.IN_APPROVAL, S.RETURNED, S.APPROVED, S.WITHDRAWN}), S.VOIDED, "claim.voided"),
}


def lock_claim(claim_id: int) -> Claim:
    """Take the claim's row lock for the rest of the transaction and return it freshly read."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_claim needs a transaction")
    try:
        # Lock the claim row only (not the claimant's or department's rows, which every claim shares).
        return (
            for_update(Claim.objects.all(), of=("self",))
            .select_related("claimant", "claimant__department")
            .get(pk=claim_id)
        )
    except Claim.DoesNotExist:
        raise NotFoundError(_("This claim does not exist.")) from None


def claim_transition(
    *,
    claim: Claim,
    action: str,
    actor: Any | None,
    data: dict[str, Any] | None = None,
    actor_name: str = "",
    on_behalf_of_name: str = "",
    extra_fields: dict[str, Any] | None = None,
) -> Claim:
    """Move a locked claim by ``action``: check the table, save, audit and publish in this transaction.

    The caller holds the lock (``lock_claim``) and has decided the action is allowed for the actor.
    Returns the claim unchanged when it already is in the target state (a repeated click, a retried
    request); raises ConflictError when the action does not apply to the current state.
    """
    sources, target, event_name = TRANSITIONS[action]
    if claim.status == target and action not in ("payment_failed",):
        return claim
    if claim.status not in sources:
        raise ConflictError(
            _("This claim is %(status)s; it cannot be %(action)s now.")
            % {"status": S(claim.status).label, "action": _action_label(action)},
            code="invalid_transition",
        )
    now = timezone.now()
    previous = claim.status
    claim.status = target
    claim.event_seq += 1
    fields = ["status", "event_seq", "updated_at"]
    for name, value in (extra_fields or {}).items():
        setattr(claim, name, value)
        fields.append(name)
    if target in (S.APPROVED, S.REJECTED) and "decided_at" not in fields:
        claim.decided_at = now
        fields.append("decided_at")
    if target == S.PAID and "paid_at" not in fields:
        claim.paid_at = now
        fields.append("paid_at")
    _write(claim, fields, now, status=previous, event_seq=claim.event_seq - 1)
    if target in RELEASED_STATUSES:
        # A withdrawn, rejected or voided claim no longer holds its invoices.
        InvoiceRegistration.objects.filter(claim=claim).delete()
    payload = {"from": previous, "to": target, "seq": claim.event_seq, **(data or {})}
    audit_record(
        action=event_name,
        target=claim,
        actor=actor,
        actor_name=actor_name,
        on_behalf_of_name=on_behalf_of_name,
        data=payload,
    )
    publish(DomainEvent(event_name, claim, actor=actor, data=payload))
    return claim


def claim_event(
    *,
    claim: Claim,
    name: str,
    actor: Any | None,
    data: dict[str, Any] | None = None,
    actor_name: str = "",
    on_behalf_of_name: str = "",
) -> Claim:
    """Record an event about a locked claim that does not change its state (a task was created or
    decided, a line was cut): next ``seq``, one audit event, one domain event, in this transaction."""
    claim.event_seq += 1
    _write(claim, ["event_seq", "updated_at"], timezone.now(), status=claim.status, event_seq=claim.event_seq - 1)
    payload = {"seq": claim.event_seq, **(data or {})}
    audit_record(
        action=name,
        target=claim,
        actor=actor,
        actor_name=actor_name,
        on_behalf_of_name=on_behalf_of_name,
        data=payload,
    )
    publish(DomainEvent(name, claim, actor=actor, data=payload))
    return claim


def _write(claim: Claim, fields: list[str], now: Any, *, status: str, event_seq: int) -> None:
    """Save a transition's bookkeeping in one conditional UPDATE; ConflictError unless the row still has the
    status and ``event_seq`` this change started from.

    Under ``lock_claim`` the condition always holds. It is the database's guard beneath the lock: of two
    writers that read the same claim without the lock, PostgreSQL makes the second wait for the first to
    commit, re-checks the condition and matches nothing; the second gets a 409 instead of a duplicate
    transition (or an IntegrityError further on). tests/races/ runs every race with the locks disabled.

    Not ``save()``: its django-auditlog hook would read the row again and log state and sequence changes
    that the transition's audit event already records (with from and to).
    """
    claim.updated_at = now
    guarded = Claim.objects.filter(pk=claim.pk, status=status, event_seq=event_seq)
    if guarded.update(**{name: getattr(claim, name) for name in fields}) != 1:
        raise ConflictError(
            _("This claim was changed by someone else at the same moment; reload it and try again."),
            code="concurrent_change",
        )


def _action_label(action: str) -> str:
    labels = {
        "submit": _("submitted"),
        "resubmit": _("resubmitted"),
        "withdraw": _("withdrawn"),
        "route": _("routed"),
        "return": _("returned"),
        "reject": _("rejected"),
        "approve": _("approved"),
        "start_payment": _("paid"),
        "pay": _("paid"),
        "payment_failed": _("marked as failed"),
        "void": _("voided"),
    }
    return labels[action]
