"""Starting and advancing approval flows. Called from the claim's domain events and the task services."""

from __future__ import annotations

import datetime
import random
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.choices import FlowStatus, ReturnPolicy, StepMode, StepStatus, TaskStatus
from approvals.models import ApprovalFlow, ApprovalStep, ApprovalTask, RoutingRule, RuleSet
from approvals.routing import ClaimFacts, ResolvedChain, compiled_published, published_rule_set, resolve
from audit.services import audit_record
from reimbursement.models import Claim
from reimbursement.services import claim_event, claim_transition

OPEN = (TaskStatus.WAITING, TaskStatus.PENDING)


def resolve_for_claim(
    claim: Claim, *, rule_set: RuleSet | None = None, rng: random.Random | None = None
) -> ResolvedChain | None:
    """The chain a claim gets from ``rule_set`` (default: the published one), or None without rules."""
    rule_set = rule_set or published_rule_set()
    if rule_set is None:
        return None
    return resolve(ClaimFacts.of_claim(claim), compiled_published(rule_set), rng=rng)


def flow_start(*, claim: Claim, actor: Any) -> ApprovalFlow | None:
    """Freeze the chain for the submission the (locked) claim just made and open its first step.

    A resubmission keeps the rule-set version the claim was first routed with (a claim in flight is
    never re-routed by later rule edits); a "resume" rule starts again at the step that returned it.
    """
    previous = claim.approval_flows.order_by("-submission").first()
    rule_set = previous.rule_set if previous and previous.rule_set_id else published_rule_set()
    if rule_set is None:
        # No rules configured at all: nothing to route, the claim waits in "submitted" for finance.
        audit_record(action="approval.unrouted", target=claim, actor=None, data={"reason": "no published rule set"})
        return None
    chain = resolve(ClaimFacts.of_claim(claim), compiled_published(rule_set))
    flow = ApprovalFlow.objects.create(
        claim=claim,
        submission=claim.submission_count,
        rule_set=rule_set,
        rule_id=chain.rule_id,
        rule_name=chain.rule_name,
        auto_approved=chain.auto_approved,
    )
    resume_from = _resume_position(previous)
    steps_created = []
    for resolved in chain.steps:
        step = ApprovalStep.objects.create(
            flow=flow,
            position=resolved.position,
            name=resolved.name,
            mode=resolved.mode,
            sla_hours=resolved.sla_hours,
            source_step_id=resolved.source_step_id,
            explanation=(resolved.skipped or resolved.explanation)[:300],
            status=StepStatus.SKIPPED if resolved.skipped else StepStatus.WAITING,
        )
        if resolved.skipped:
            continue
        if resume_from and resolved.position < resume_from:
            step.status = StepStatus.APPROVED
            step.explanation = _("Approved before the claim was returned.")[:300]
            step.save(update_fields=["status", "explanation"])
            continue
        ApprovalTask.objects.bulk_create(
            ApprovalTask(step=step, claim=claim, assignee=a.employee, reason=a.reason[:300], status=TaskStatus.WAITING)
            for a in resolved.approvers
        )
        steps_created.append(step)
    audit_record(
        action="approval.routed",
        target=claim,
        actor=None,
        data={
            "rule_set": rule_set.version,
            "rule": chain.rule_name,
            "because": chain.matched_because,
            "steps": [
                {"name": s.name, "approvers": [a.employee.name for a in s.approvers], "skipped": s.skipped}
                for s in chain.steps
            ],
            "notes": chain.notes,
            "resume_from": resume_from,
        },
    )
    if chain.auto_approved or not steps_created:
        flow_finish(
            flow=flow,
            claim=claim,
            status=FlowStatus.APPROVED,
            actor=None,
            note="; ".join(chain.notes) or _("No step needed an approver."),
        )
        return flow
    claim_transition(
        claim=claim, action="route", actor=None, data={"rule_set": rule_set.version, "rule": chain.rule_name}
    )
    step_activate(step=steps_created[0], claim=claim)
    return flow


def _resume_position(previous: ApprovalFlow | None) -> int | None:
    """For a "resume" rule: the position of the step that returned the previous flow."""
    if previous is None or previous.status != FlowStatus.RETURNED or previous.rule_id is None:
        return None
    policy = RoutingRule.objects.filter(pk=previous.rule_id).values_list("return_policy", flat=True).first()
    if policy != ReturnPolicy.RESUME:
        return None
    returned = (
        ApprovalTask.objects.filter(step__flow=previous, status=TaskStatus.RETURNED).select_related("step").first()
    )
    return returned.step.position if returned else None


def step_activate(*, step: ApprovalStep, claim: Claim) -> None:
    """Open a step: its tasks become pending with a due time, and each is announced."""
    now = timezone.now()
    step.status = StepStatus.ACTIVE
    step.save(update_fields=["status"])
    due = now + datetime.timedelta(hours=step.sla_hours)
    tasks = list(step.tasks.filter(status=TaskStatus.WAITING, blocked_by__isnull=True).select_related("assignee"))
    for task in tasks:
        task.status, task.activated_at, task.due_at = TaskStatus.PENDING, now, due
        task.save(update_fields=["status", "activated_at", "due_at"])
        announce_task(task=task, claim=claim)


def announce_task(*, task: ApprovalTask, claim: Claim) -> None:
    claim_event(
        claim=claim,
        name="approval.task.created",
        actor=None,
        data={
            "task": task.pk,
            "step": task.step.name,
            "assignee": task.assignee.name,
            "assignee_id": task.assignee_id,
            "reason": task.reason,
            "due_at": task.due_at.isoformat() if task.due_at else None,
        },
    )


def step_is_complete(step: ApprovalStep) -> bool:
    statuses = list(
        step.tasks.exclude(status__in=[TaskStatus.TRANSFERRED, TaskStatus.CANCELLED]).values_list("status", flat=True)
    )
    if step.mode == StepMode.ANY:
        return TaskStatus.APPROVED in statuses
    return bool(statuses) and all(s == TaskStatus.APPROVED for s in statuses)


def flow_advance(*, flow: ApprovalFlow, claim: Claim, actor: Any) -> None:
    """After an approval: close the step when it is complete and open the next, or approve the claim."""
    step = flow.steps.filter(status=StepStatus.ACTIVE).order_by("position").first()
    if step is None or not step_is_complete(step):
        return
    step.status = StepStatus.APPROVED
    step.save(update_fields=["status"])
    step.tasks.filter(status__in=OPEN).update(status=TaskStatus.CANCELLED)
    following = flow.steps.filter(status=StepStatus.WAITING, position__gt=step.position).order_by("position").first()
    if following is not None:
        step_activate(step=following, claim=claim)
        return
    flow_finish(flow=flow, claim=claim, status=FlowStatus.APPROVED, actor=actor)


def flow_finish(*, flow: ApprovalFlow, claim: Claim, status: str, actor: Any, note: str = "") -> None:
    """Close the flow; an approved flow approves the claim (with the cut amounts, if any)."""
    flow.status = status
    flow.finished_at = timezone.now()
    flow.save(update_fields=["status", "finished_at"])
    ApprovalTask.objects.filter(step__flow=flow, status__in=OPEN).update(status=TaskStatus.CANCELLED)
    if status == FlowStatus.APPROVED:
        from django.db.models import Sum
        from django.db.models.functions import Coalesce

        approved = claim.lines.aggregate(total=Sum(Coalesce("approved_amount", "base_amount")))["total"]
        claim_transition(
            claim=claim,
            action="approve",
            actor=actor,
            data={"auto": flow.auto_approved, "note": note, "approved_amount": str(approved)},
            extra_fields={"approved_amount": approved},
        )
