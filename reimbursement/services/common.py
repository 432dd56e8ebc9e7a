"""Helpers shared by the claim services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import ConflictError, ForbiddenError, NotFoundError
from reimbursement.models import Claim


def ensure_claimant(claim: Claim, actor: Any) -> None:
    """Only the claimant changes their claim. Someone who may see it (an approver, finance) is told so;
    anyone else is told it does not exist, as the views do."""
    employee = getattr(actor, "employee", None)
    if employee is not None and employee.pk == claim.claimant_id:
        return
    from reimbursement.selectors import claims_visible_to

    if actor is not None and claims_visible_to(actor).filter(pk=claim.pk).exists():
        raise ForbiddenError(_("Only the claimant can change this claim."))
    raise NotFoundError(_("This claim does not exist."))


def ensure_editable(claim: Claim) -> None:
    if not claim.is_editable:
        raise ConflictError(
            _("Claim %(number)s is %(status)s and can no longer be changed.")
            % {"number": claim.number, "status": claim.get_status_display()},
            code="not_editable",
        )


def recompute_total(claim: Claim) -> None:
    """Store the sum of the lines' base amounts on the (locked) claim."""
    total = claim.lines.aggregate(total=Sum("base_amount"))["total"] or Decimal("0.00")
    if total != claim.total_amount:
        claim.total_amount = total
        claim.updated_at = timezone.now()
        # One UPDATE: the total follows from the lines, whose own changes django-auditlog records.
        Claim.objects.filter(pk=claim.pk).update(total_amount=total, updated_at=claim.updated_at)
