"""Changes approvers make to a claim's content, called by the approvals app (never by views directly)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from config.errors import ApplicationError, ConflictError, NotFoundError
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, ClaimLine
from reimbursement.services.transitions import claim_event


def line_set_approved_amount(
    *, claim: Claim, line_id: int, amount: Decimal | str, reason: str, actor: Any, on_behalf_of_name: str = ""
) -> ClaimLine:
    """Cut a line's approved amount below the claimed one (the claim must be locked and in approval)."""
    if claim.status != ClaimStatus.IN_APPROVAL:
        raise ConflictError(_("Only a claim in approval can be cut."))
    line = ClaimLine.objects.filter(pk=line_id, claim=claim).first()
    if line is None:
        raise NotFoundError(_("This line does not exist."))
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        value = Decimal("-1")
    errors: dict[str, list[str]] = {}
    if not value.is_finite() or value < 0 or value >= line.base_amount or value != value.quantize(Decimal("0.01")):
        errors["amount"] = [
            _("Enter an amount from 0 up to less than %(max)s %(cur)s.")
            % {"max": line.base_amount, "cur": claim.base_currency}
        ]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the amount is cut.")]
    if errors:
        raise ApplicationError(_("Please correct the cut."), fields=errors)
    previous = line.approved_amount
    line.approved_amount = value
    line.save(update_fields=["approved_amount", "updated_at"])
    claim._snapshot_lines = None  # the cached snapshot of the lines no longer holds
    claim.approved_amount = claim.lines.aggregate(total=Sum(Coalesce("approved_amount", "base_amount")))["total"]
    claim.save(update_fields=["approved_amount", "updated_at"])
    claim_event(
        claim=claim,
        name="claim.line.cut",
        actor=actor,
        on_behalf_of_name=on_behalf_of_name,
        data={
            "line": line.pk,
            "claimed": str(line.base_amount),
            "approved": str(value),
            "previous": str(previous) if previous is not None else None,
            "reason": reason.strip()[:500],
        },
    )
    return line
