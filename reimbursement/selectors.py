"""Reads of claims. Every list, detail, export and API view starts from ``claims_visible_to``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from audit.selectors import audit_events_for
from reimbursement.models import Attachment, Claim, ClaimLine, ExpenseCategory, PolicyWarning

# Other apps widen visibility without this app importing them: approvals adds "holds or held a task",
# finance adds its roles. Each returns a Q over Claim, or None when it grants nothing to this user.
VisibilityRule = Callable[[Any], Q | None]
_visibility_rules: list[VisibilityRule] = []


def register_visibility(rule: VisibilityRule) -> VisibilityRule:
    if rule not in _visibility_rules:
        _visibility_rules.append(rule)
    return rule


def claims_visible_to(user: Any) -> QuerySet[Claim]:
    """The claims ``user`` may see: their own, plus whatever the registered rules grant. Others are 404."""
    if not user.is_authenticated:
        return Claim.objects.none()
    condition = Q(claimant__user=user)
    for rule in _visibility_rules:
        extra = rule(user)
        if extra is not None:
            condition |= extra
    return Claim.objects.filter(condition)


def claim_list(user: Any) -> QuerySet[Claim]:
    """A user's visible claims ready for a list page: one query with the claimant and a line count."""
    return (
        claims_visible_to(user)
        .select_related("claimant", "claimant__department")
        .annotate(line_count=Count("lines", distinct=True))
        # An aggregate drops the model's default ordering: restate it, with the id as tie-breaker.
        .order_by("-created_at", "-id")
    )


def my_claims(user: Any) -> QuerySet[Claim]:
    """The signed-in employee's own claims, for "My claims"."""
    return claim_list(user).filter(claimant__user=user)


def claim_detail(user: Any, claim_id: int) -> Claim:
    """One visible claim with lines, categories, attachments and warnings in a fixed number of queries."""
    lines = ClaimLine.objects.select_related("category").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("uploaded_at", "id"))
    )
    return (
        claims_visible_to(user)
        .select_related("claimant", "claimant__department", "claimant__manager", "department")
        .prefetch_related(
            Prefetch("lines", queryset=lines.order_by("position", "id")),
            Prefetch("policy_warnings", queryset=PolicyWarning.objects.order_by("submission", "id")),
        )
        .get(pk=claim_id)
    )


def claim_timeline(claim: Claim) -> list:
    """The claim's audit events, oldest first."""
    return list(audit_events_for(claim).select_related("actor"))


def active_categories() -> QuerySet[ExpenseCategory]:
    return ExpenseCategory.objects.filter(active=True).order_by("sort_order", "code")


def attachment_for_download(user: Any, attachment_id: int) -> Attachment:
    """An attachment of a claim the user may see (DoesNotExist otherwise)."""
    return Attachment.objects.select_related("line").get(
        pk=attachment_id, line__claim__in=claims_visible_to(user).values("pk")
    )
