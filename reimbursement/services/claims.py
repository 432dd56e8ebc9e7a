"""Creating, editing, submitting and withdrawing claims: the claimant's actions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.errors import ApplicationError, ConflictError, ForbiddenError
from org.models import Employee
from reimbursement.choices import ClaimStatus as S
from reimbursement.errors import JustificationMissing, PolicyBlocked
from reimbursement.models import Claim, InvoiceRegistration, PolicyWarning
from reimbursement.policy import BLOCK, WARN, evaluate_claim
from reimbursement.services.common import ensure_claimant, ensure_editable
from reimbursement.services.transitions import claim_transition, lock_claim
from reimbursement.snapshots import claim_lines, claim_snapshot, snapshot_diff

MAX_TEXT = {"purpose": 500, "cost_centre": 64, "project": 64}


def _clean_header(purpose: str, cost_centre: str, project: str) -> dict[str, str]:
    values = {
        "purpose": (purpose or "").strip(),
        "cost_centre": (cost_centre or "").strip(),
        "project": (project or "").strip(),
    }
    errors: dict[str, list[str]] = {}
    if not values["purpose"]:
        errors["purpose"] = [_("Say what the expenses were for.")]
    for name, limit in MAX_TEXT.items():
        if len(values[name]) > limit:
            errors.setdefault(name, []).append(_("At most %(n)d characters.") % {"n": limit})
    if errors:
        raise ApplicationError(_("Please correct the claim's details."), fields=errors)
    return values


@transaction.atomic
def claim_create(
    *,
    claimant: Employee,
    actor: Any,
    purpose: str,
    cost_centre: str = "",
    project: str = "",
    base_currency: str | None = None,
) -> Claim:
    """Start a draft claim for ``claimant`` with a readable number (BX-<year>-<id>)."""
    if getattr(actor, "employee", None) is None or actor.employee.pk != claimant.pk:
        raise ForbiddenError(_("You can only create claims for yourself."))
    if not claimant.active:
        raise ApplicationError(_("This employee has left and cannot create claims."))
    values = _clean_header(purpose, cost_centre, project)
    currency = (base_currency or settings.BAOXIAO_BASE_CURRENCY).upper()
    if currency not in settings.BAOXIAO_CURRENCIES:
        raise ApplicationError(
            _("Unknown currency %(c)s.") % {"c": currency}, fields={"base_currency": [_("Unknown currency.")]}
        )
    claim = Claim.objects.create(claimant=claimant, base_currency=currency, **values)
    claim.number = f"BX-{claim.created_at:%Y}-{claim.pk:06d}"
    Claim.objects.filter(pk=claim.pk).update(number=claim.number)  # derived from the id: no change to log
    audit_record(action="claim.created", target=claim, actor=actor, data={"purpose": claim.purpose})
    return claim


@transaction.atomic
def claim_update(*, claim_id: int, actor: Any, purpose: str, cost_centre: str = "", project: str = "") -> Claim:
    """Change a claim's purpose, cost centre or project while it is editable."""
    claim = lock_claim(claim_id)
    ensure_claimant(claim, actor)
    ensure_editable(claim)
    values = _clean_header(purpose, cost_centre, project)
    changed = [name for name, value in values.items() if getattr(claim, name) != value]
    for name in changed:
        setattr(claim, name, values[name])
    if changed:
        claim.save(update_fields=[*changed, "updated_at"])
    return claim


@transaction.atomic
def claim_delete(*, claim_id: int, actor: Any) -> None:
    """Delete a draft that was never submitted (a submitted claim stays, withdrawn, for the record)."""
    claim = lock_claim(claim_id)
    ensure_claimant(claim, actor)
    if claim.status != S.DRAFT or claim.submission_count:
        raise ConflictError(_("Only a draft that was never submitted can be deleted."), code="not_deletable")
    audit_record(action="claim.deleted", target=claim, actor=actor, data={"total": str(claim.total_amount)})
    files = [a.file.name for line in claim.lines.all() for a in line.attachments.all()]
    claim.delete()
    transaction.on_commit(lambda: _delete_files(files))


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)


def claim_submit(*, claim_id: int, actor: Any, justifications: dict[str, str] | None = None) -> Claim:
    """Submit (or resubmit after a return): check policy, claim the invoices, freeze a snapshot.

    Blocks refuse the submit and name line and rule; each warning needs a justification, keyed by
    ``PolicyHit.key``. Submitting twice is a no-op. Anything refused leaves the claim as it was, except
    that a refused duplicate invoice is recorded in the audit trail (the compliance report reads it).
    """
    try:
        return _claim_submit(claim_id=claim_id, actor=actor, justifications=justifications)
    except PolicyBlocked as exc:
        if exc.code == "duplicate_invoice" or getattr(exc, "duplicate_lines", None):
            _record_refused_duplicates(claim_id=claim_id, actor=actor, line_ids=getattr(exc, "duplicate_lines", []))
        raise


@transaction.atomic
def _record_refused_duplicates(*, claim_id: int, actor: Any, line_ids: list[int]) -> None:
    """One audit event per refused submit naming the invoices another live claim holds. Written after the
    refused submit rolled back, in a transaction of its own (inside a caller's, it shares its fate)."""
    claim = Claim.objects.filter(pk=claim_id).first()
    if claim is None:
        return
    lines = claim.lines.exclude(invoice_key="").order_by("position", "id")
    if line_ids:
        lines = lines.filter(pk__in=line_ids)
    holders = dict(
        InvoiceRegistration.objects.filter(invoice_key__in=[line.invoice_key for line in lines])
        .exclude(claim=claim)
        .values_list("invoice_key", "claim__number")
    )
    invoices = [
        {"line": line.position, "invoice_key": line.invoice_key, "held_by": holders.get(line.invoice_key, "")}
        for line in lines
        if line_ids or line.invoice_key in holders
    ]
    audit_record(action="claim.duplicate_invoice_refused", target=claim, actor=actor, data={"invoices": invoices})


@transaction.atomic
def _claim_submit(*, claim_id: int, actor: Any, justifications: dict[str, str] | None) -> Claim:
    claim = lock_claim(claim_id)
    ensure_claimant(claim, actor)
    if claim.status in (S.SUBMITTED, S.IN_APPROVAL):
        return claim
    ensure_editable(claim)
    hits = evaluate_claim(claim)
    blocks = [h for h in hits if h.severity == BLOCK]
    if blocks:
        refused = PolicyBlocked(
            _("The claim cannot be submitted: %(reasons)s") % {"reasons": " ".join(h.message for h in blocks)},
            fields={"policy": [h.message for h in blocks]},
        )
        refused.duplicate_lines = [h.line_id for h in blocks if h.code == "duplicate_invoice" and h.line_id]
        raise refused
    justifications = {k: (v or "").strip() for k, v in (justifications or {}).items()}
    warnings = [h for h in hits if h.severity == WARN]
    missing = [h for h in warnings if not justifications.get(h.key)]
    if missing:
        raise JustificationMissing(
            _("Explain each policy warning before submitting."),
            fields={f"justification:{h.key}": [h.message] for h in missing},
        )
    _register_invoices(claim)

    resubmission = claim.status == S.RETURNED
    snapshot = claim_snapshot(claim)
    changes = snapshot_diff(claim.last_submitted_snapshot, snapshot) if claim.last_submitted_snapshot else None
    submission = claim.submission_count + 1
    PolicyWarning.objects.bulk_create(
        PolicyWarning(
            claim=claim,
            line_id=h.line_id,
            submission=submission,
            code=h.code,
            message=h.message,
            justification=justifications[h.key][:2000],
        )
        for h in warnings
    )
    department = claim.claimant.department
    return claim_transition(
        claim=claim,
        action="resubmit" if resubmission else "submit",
        actor=actor,
        data={
            "submission": submission,
            "warnings": len(warnings),
            "total": str(claim.total_amount),
            "changes": len(changes or []),
        },
        extra_fields={
            "submitted_at": timezone.now(),
            "submission_count": submission,
            "department": department,
            "department_name": department.name,
            "last_submitted_snapshot": snapshot | {"status": S.SUBMITTED},
            "changes_since_last_submission": changes,
        },
    )


def _register_invoices(claim: Claim) -> None:
    """Claim the lines' invoices; the unique key refuses one another live claim holds, even in a race."""
    InvoiceRegistration.objects.filter(claim=claim).delete()
    rows = [
        InvoiceRegistration(invoice_key=line.invoice_key, line=line, claim=claim)
        for line in claim_lines(claim)
        if line.invoice_key
    ]
    if not rows:
        return
    try:
        with transaction.atomic():
            InvoiceRegistration.objects.bulk_create(rows)
    except IntegrityError:
        taken = set(
            InvoiceRegistration.objects.filter(invoice_key__in=[r.invoice_key for r in rows]).values_list(
                "invoice_key", flat=True
            )
        )
        positions = [i for i, r in enumerate(rows, start=1) if r.invoice_key in taken] or ["?"]
        raise PolicyBlocked(
            _("The invoice on line %(n)s was claimed by another claim a moment ago.") % {"n": positions[0]},
            code="duplicate_invoice",
            fields={"policy": [_("Duplicate invoice.")]},
        ) from None


@transaction.atomic
def claim_withdraw(*, claim_id: int, actor: Any, reason: str = "") -> Claim:
    """Take a submitted claim back before anyone decided on it; it becomes editable again."""
    claim = lock_claim(claim_id)
    ensure_claimant(claim, actor)
    if claim.status == S.WITHDRAWN:
        return claim
    # Subscribers of claim.withdrawn (approvals) refuse it once a decision was made.
    return claim_transition(claim=claim, action="withdraw", actor=actor, data={"reason": reason.strip()[:500]})
