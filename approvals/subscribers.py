"""How approvals react to a claim's domain events, inside the claim's transaction."""

from __future__ import annotations

from django.utils.translation import gettext as _

from approvals.choices import DECIDED_TASK_STATUSES, FlowStatus, TaskStatus
from approvals.models import ApprovalFlow, ApprovalTask
from approvals.services.flows import flow_finish, flow_start
from config.domain_events import DomainEvent, subscribe
from config.errors import ConflictError


@subscribe("claim.submitted", "claim.resubmitted")
def route_submitted_claim(event: DomainEvent) -> None:
    """Resolve the chain and open the first step as soon as a claim is (re)submitted."""
    flow_start(claim=event.subject, actor=event.actor)


@subscribe("claim.withdrawn")
def refuse_withdraw_after_a_decision(event: DomainEvent) -> None:
    """The claimant may withdraw only before the first decision; otherwise the whole withdraw rolls back."""
    flow = ApprovalFlow.objects.filter(claim=event.subject, status=FlowStatus.ACTIVE).first()
    if flow is None:
        return
    if ApprovalTask.objects.filter(step__flow=flow, status__in=DECIDED_TASK_STATUSES).exists():
        raise ConflictError(
            _("An approver already decided on this claim; it can no longer be withdrawn."), code="already_decided"
        )
    flow_finish(flow=flow, claim=event.subject, status=FlowStatus.CANCELLED, actor=event.actor)


@subscribe("claim.voided")
def close_flow_of_voided_claim(event: DomainEvent) -> None:
    flow = ApprovalFlow.objects.filter(claim=event.subject, status=FlowStatus.ACTIVE).first()
    if flow is not None:
        flow_finish(flow=flow, claim=event.subject, status=FlowStatus.CANCELLED, actor=event.actor)
        ApprovalTask.objects.filter(step__flow=flow, status=TaskStatus.PENDING).update(status=TaskStatus.CANCELLED)
