"""Reads for approvers: the inbox, a claim's chain, delegations in force."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from approvals.choices import OPEN_TASK_STATUSES, TaskStatus
from approvals.models import ApprovalFlow, ApprovalTask, Delegation
from org.models import Employee
from reimbursement.models import Claim, ClaimLine


def active_delegations_to(employee: Employee, *, today: datetime.date | None = None) -> list[Delegation]:
    """Delegations in force today where ``employee`` is the delegate, with their category limits."""
    today = today or timezone.localdate()
    return list(
        Delegation.objects.filter(delegate=employee, active=True, starts_on__lte=today, ends_on__gte=today)
        .select_related("delegator")
        .prefetch_related("categories")
    )


def _delegation_condition(delegations: list[Delegation]) -> Q | None:
    """Tasks of the delegators, limited to claims with a line in the delegated categories when set."""
    condition = None
    for delegation in delegations:
        # Never the tasks of the delegate's own claims (as delegation_for): nobody approves their own expenses.
        part = Q(assignee_id=delegation.delegator_id) & ~Q(claim__claimant_id=delegation.delegate_id)
        category_ids = [c.pk for c in delegation.categories.all()]
        if category_ids:
            part &= Q(Exists(ClaimLine.objects.filter(claim_id=OuterRef("claim_id"), category_id__in=category_ids)))
        condition = part if condition is None else condition | part
    return condition


def delegation_for(*, delegate: Employee, delegator_id: int, claim: Claim) -> Delegation | None:
    """The delegation letting ``delegate`` act for ``delegator_id`` on this claim today, if any.

    Never on the delegate's own claim: a delegation does not let anyone approve their own expenses."""
    if claim.claimant_id == delegate.pk:
        return None
    for delegation in active_delegations_to(delegate):
        if delegation.delegator_id != delegator_id:
            continue
        category_ids = {c.pk for c in delegation.categories.all()}
        if not category_ids or claim.lines.filter(category_id__in=category_ids).exists():
            return delegation
    return None


def inbox_tasks(user: Any, *, include_delegated: bool = True) -> QuerySet[ApprovalTask]:
    """Pending tasks of the user, and of those who delegated to them, ready for the inbox list."""
    employee = getattr(user, "employee", None)
    if employee is None:
        return ApprovalTask.objects.none()
    condition = Q(assignee=employee)
    if include_delegated:
        delegated = _delegation_condition(active_delegations_to(employee))
        if delegated is not None:
            condition |= delegated
    return ApprovalTask.objects.filter(condition, status=TaskStatus.PENDING).select_related(
        "claim", "claim__claimant", "claim__claimant__department", "assignee", "step"
    )


def task_history(user: Any) -> QuerySet[ApprovalTask]:
    """Tasks the user decided or transferred (as assignee or delegate), newest first."""
    employee = getattr(user, "employee", None)
    if employee is None:
        return ApprovalTask.objects.none()
    return (
        ApprovalTask.objects.filter(Q(assignee=employee) | Q(decided_by=user))
        .exclude(status__in=OPEN_TASK_STATUSES)
        .exclude(status=TaskStatus.CANCELLED)
        .select_related("claim", "claim__claimant", "step")
        .order_by("-decided_at", "-id")
    )


def pending_count(user: Any) -> int:
    return inbox_tasks(user).count()


def claim_flows(claim: Claim) -> list[ApprovalFlow]:
    """Every flow of the claim with steps and tasks, oldest first (three queries)."""
    from django.db.models import Prefetch

    from approvals.models import ApprovalStep

    tasks = ApprovalTask.objects.select_related("assignee").order_by("id")
    steps = ApprovalStep.objects.prefetch_related(Prefetch("tasks", queryset=tasks)).order_by("position")
    return list(claim.approval_flows.prefetch_related(Prefetch("steps", queryset=steps)).order_by("submission"))


def claims_with_tasks_q(user: Any) -> Q | None:
    """Visibility for approvers: claims on which they hold or held a task, or a delegator of theirs does."""
    employee = getattr(user, "employee", None)
    if employee is None:
        return None
    assignees = [employee.pk, *(d.delegator_id for d in active_delegations_to(employee))]
    return Q(
        pk__in=ApprovalTask.objects.filter(assignee_id__in=assignees)
        .exclude(status=TaskStatus.WAITING)
        .values("claim_id")
    )
