"""Helpers shared by the claim pages: finding a claim the way the selectors allow, and HTMX answers."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from reimbursement.models import Claim, ClaimLine
from reimbursement.selectors import claim_detail

# Partial answers that carry an error: htmx swaps them in place because static/js/claims.js lets it.
PARTIAL_ERROR_STATUS = 400


def visible_claim(request: HttpRequest, claim_id: int) -> Claim:
    """A claim the user may see, with its lines and files; anything else is a 404."""
    try:
        return claim_detail(request.user, claim_id)
    except Claim.DoesNotExist:
        raise Http404 from None


def own_claim(request: HttpRequest, claim_id: int) -> Claim:
    """A claim of the signed-in employee. Someone who may only read it (an approver) gets a 404 too,
    as the services would answer."""
    claim = visible_claim(request, claim_id)
    if claim.claimant.user_id != request.user.pk:
        raise Http404
    return claim


def line_of(claim: Claim, line_id: int) -> ClaimLine:
    """The line from the claim's prefetched lines (no extra query); a line of another claim is a 404."""
    for line in claim.lines.all():
        if line.pk == line_id:
            return line
    raise Http404


def is_owner(request: HttpRequest, claim: Claim) -> bool:
    return claim.claimant.user_id == request.user.pk


def back_to_edit(claim_id: int) -> HttpResponse:
    """Where line and file actions end without HTMX (a browser without script posts the plain form)."""
    return redirect("reimbursement:edit", claim_id=claim_id)
