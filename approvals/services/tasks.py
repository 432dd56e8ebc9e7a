"""What an approver (or their delegate, or the OA on their behalf) does with a task.

Every action locks the claim, then the task, re-reads both and checks that the task is still pending
and that the actor may act on it. Exactly one decision lands per task; a second one is a ConflictError
("already decided") that the API turns into 409 and the OA inbound handler into 200-and-nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.choices import DecisionChannel, FlowStatus, StepMode, StepStatus, TaskStatus
from approvals.models import ApprovalStep, ApprovalTask, ClaimComment
from approvals.selectors import delegation_for
from approvals.services.flows import announce_task, flow_advance, flow_finish
from config.errors import ApplicationError, ConflictError, ForbiddenError, NotFoundError
from config.locks import for_update
from org.models import Employee
from reimbursement.models import Claim
from reimbursement.services import claim_event, claim_transition, line_set_approved_amount, lock_claim


@dataclass
class Acting:
    """Who acts on a task: the assignee, or a delegate "on behalf of" the assignee."""

    task: ApprovalTask
    claim: Claim
    actor: Any
    actor_name: str
    on_behalf_of_name: str


def _act(task_id: int, actor: Any, *, require_pending: bool = True) -> Acting:
    claim_id = ApprovalTask.objects.filter(pk=task_id).values_list("claim_id", flat=True).first()
    if claim_id is None:
        raise NotFoundError(_("This task does not exist."))
    claim = lock_claim(claim_id)
    task = (
        for_update(ApprovalTask.objects, of=("self",)).select_related("step", "step__flow", "assignee").get(pk=task_id)
    )
    employee = getattr(actor, "employee", None)
    if employee is None:
        raise NotFoundError(_("This task does not exist."))
    on_behalf = ""
    if task.assignee_id != employee.pk:
        if delegation_for(delegate=employee, delegator_id=task.assignee_id, claim=claim) is None:
            raise NotFoundError(_("This task does not exist."))
        on_behalf = task.assignee.name
    if require_pending and task.status != TaskStatus.PENDING:
        raise _not_pending(task)
    return Acting(task, claim, actor, employee.name, on_behalf)


def _not_pending(task: ApprovalTask) -> ConflictError:
    if task.status in (TaskStatus.APPROVED, TaskStatus.REJECTED, TaskStatus.RETURNED):
        return ConflictError(
            _("This task was already decided (%(status)s) by %(who)s.")
            % {"status": task.get_status_display(), "who": task.decided_by_name or _("someone")},
            code="already_decided",
        )
    return ConflictError(
        _("This task is not waiting for a decision (%(s)s).") % {"s": task.get_status_display()},
        code="task_not_pending",
    )


def _leave_pending(task: ApprovalTask, **changes: Any) -> None:
    """Take the task out of ``pending`` with one conditional UPDATE, or raise ConflictError.

    The claim lock taken in ``_act`` already serialises every action on a claim. This is the database's
    own guard beneath it, for a path that reaches here without the lock: of two concurrent
    ``UPDATE ... WHERE status = 'pending'`` on one row, PostgreSQL makes the second wait for the first to
    commit, re-checks the condition and updates nothing. Without it, 50 concurrent approvals with the lock
    disabled all landed (tests/approvals/test_races.py).
    """
    if ApprovalTask.objects.filter(pk=task.pk, status=TaskStatus.PENDING).update(**changes) != 1:
        task.refresh_from_db()
        raise _not_pending(task)
    for name, value in changes.items():
        setattr(task, name, value)


def _decide(acting: Acting, status: str, *, comment: str, channel: str) -> None:
    task = acting.task
    _leave_pending(
        task,
        status=status,
        decided_at=timezone.now(),
        decided_by=acting.actor,
        decided_by_name=acting.actor_name,
        on_behalf_of_name=acting.on_behalf_of_name,
        channel=channel,
        comment=comment.strip()[:4000],
    )
    claim_event(
        claim=acting.claim,
        name="approval.task.decided",
        actor=acting.actor,
        actor_name=acting.actor_name,
        on_behalf_of_name=acting.on_behalf_of_name,
        data={
            "task": task.pk,
            "decision": status,
            "step": task.step.name,
            "comment": task.comment,
            "channel": channel,
            "assignee": task.assignee.name,
        },
    )
    # An approver added "before" this one may have been waiting on it.
    for waiting in ApprovalTask.objects.filter(blocked_by=task, status=TaskStatus.WAITING):
        waiting.blocked_by = None
        waiting.save(update_fields=["blocked_by"])
        if status == TaskStatus.APPROVED and waiting.step.status == StepStatus.ACTIVE:
            waiting.status, waiting.activated_at = TaskStatus.PENDING, timezone.now()
            waiting.due_at = task.due_at
            waiting.save(update_fields=["status", "activated_at", "due_at"])
            announce_task(task=waiting, claim=acting.claim)


def _required(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ApplicationError(message, fields={field: [message]})
    return text


@transaction.atomic
def task_approve(*, task_id: int, actor: Any, comment: str = "", channel: str = DecisionChannel.WEB) -> ApprovalTask:
    """Approve; the step completes when any one (or all) approved, then the next step opens."""
    acting = _act(task_id, actor)
    _decide(acting, TaskStatus.APPROVED, comment=comment, channel=channel)
    flow_advance(flow=acting.task.step.flow, claim=acting.claim, actor=actor)
    return acting.task


@transaction.atomic
def task_reject(*, task_id: int, actor: Any, reason: str, channel: str = DecisionChannel.WEB) -> ApprovalTask:
    """Reject the claim (final): a reason is required."""
    reason = _required(reason, "reason", _("Give the reason for rejecting."))
    acting = _act(task_id, actor)
    _decide(acting, TaskStatus.REJECTED, comment=reason, channel=channel)
    flow_finish(flow=acting.task.step.flow, claim=acting.claim, status=FlowStatus.REJECTED, actor=actor)
    claim_transition(
        claim=acting.claim,
        action="reject",
        actor=actor,
        actor_name=acting.actor_name,
        on_behalf_of_name=acting.on_behalf_of_name,
        data={"reason": reason, "task": task_id},
    )
    return acting.task


@transaction.atomic
def task_return(*, task_id: int, actor: Any, reason: str, channel: str = DecisionChannel.WEB) -> ApprovalTask:
    """Send the claim back to the claimant for changes: a reason is required."""
    reason = _required(reason, "reason", _("Say what the claimant should change."))
    acting = _act(task_id, actor)
    _decide(acting, TaskStatus.RETURNED, comment=reason, channel=channel)
    flow_finish(flow=acting.task.step.flow, claim=acting.claim, status=FlowStatus.RETURNED, actor=actor)
    claim_transition(
        claim=acting.claim,
        action="return",
        actor=actor,
        actor_name=acting.actor_name,
        on_behalf_of_name=acting.on_behalf_of_name,
        data={"reason": reason, "task": task_id},
    )
    return acting.task


def _new_task_for(acting: Acting, employee: Employee, step: ApprovalStep, reason: str, **extra) -> ApprovalTask:
    if not employee.active:
        raise ApplicationError(
            _("%(name)s has left and cannot approve.") % {"name": employee.name},
            fields={"assignee": [_("This person has left.")]},
        )
    if employee.pk == acting.claim.claimant_id:
        raise ApplicationError(
            _("The claimant cannot approve their own claim."), fields={"assignee": [_("This is the claimant.")]}
        )
    return ApprovalTask.objects.create(step=step, claim=acting.claim, assignee=employee, reason=reason[:300], **extra)


@transaction.atomic
def task_transfer(*, task_id: int, actor: Any, to: Employee, comment: str = "") -> ApprovalTask:
    """Hand the task to someone else (转交); the new task says who transferred it and why."""
    acting = _act(task_id, actor)
    if to.pk == acting.task.assignee_id:
        raise ApplicationError(_("The task is already theirs."), fields={"assignee": [_("Choose someone else.")]})
    _leave_pending(
        acting.task,
        status=TaskStatus.TRANSFERRED,
        comment=comment.strip()[:4000],
        decided_at=timezone.now(),
        decided_by=actor,
        decided_by_name=acting.actor_name,
    )
    new = _new_task_for(
        acting,
        to,
        acting.task.step,
        _("Transferred by %(who)s: %(why)s") % {"who": acting.actor_name, "why": comment.strip() or "—"},
        status=TaskStatus.PENDING,
        activated_at=timezone.now(),
        due_at=acting.task.due_at,
    )
    claim_event(
        claim=acting.claim,
        name="approval.task.transferred",
        actor=actor,
        actor_name=acting.actor_name,
        on_behalf_of_name=acting.on_behalf_of_name,
        data={"task": acting.task.pk, "new_task": new.pk, "to": to.name, "comment": comment.strip()},
    )
    announce_task(task=new, claim=acting.claim)
    return new


@transaction.atomic
def task_add_approver(*, task_id: int, actor: Any, approver: Employee, before: bool, comment: str = "") -> ApprovalTask:
    """Add an approver (加签): before me (they decide first, then me) or after me (a new step)."""
    acting = _act(task_id, actor)
    task, step = acting.task, acting.task.step
    reason = _("Added by %(who)s: %(why)s") % {"who": acting.actor_name, "why": comment.strip() or "—"}
    if before:
        new = _new_task_for(
            acting, approver, step, reason, status=TaskStatus.PENDING, activated_at=timezone.now(), due_at=task.due_at
        )
        _leave_pending(task, status=TaskStatus.WAITING, blocked_by=new)
        if step.mode == StepMode.ANY:
            # In an "any" step the added approver's yes alone must not close the step: make it "all".
            step.mode = StepMode.ALL
            step.save(update_fields=["mode"])
            step.tasks.filter(status__in=(TaskStatus.WAITING, TaskStatus.PENDING)).exclude(
                pk__in=[task.pk, new.pk]
            ).update(status=TaskStatus.CANCELLED)
    else:
        flow = step.flow
        flow.steps.filter(position__gt=step.position).update(position=F("position") + 1)
        added = ApprovalStep.objects.create(
            flow=flow,
            position=step.position + 1,
            name=_("Added approver"),
            mode=StepMode.ANY,
            sla_hours=step.sla_hours,
            explanation=reason[:300],
        )
        new = _new_task_for(acting, approver, added, reason, status=TaskStatus.WAITING)
    claim_event(
        claim=acting.claim,
        name="approval.approver_added",
        actor=actor,
        actor_name=acting.actor_name,
        on_behalf_of_name=acting.on_behalf_of_name,
        data={
            "task": task.pk,
            "new_task": new.pk,
            "approver": approver.name,
            "position": "before" if before else "after",
            "comment": comment.strip(),
        },
    )
    if before:
        announce_task(task=new, claim=acting.claim)
    return new


@transaction.atomic
def task_cut_line(*, task_id: int, actor: Any, line_id: int, amount: Decimal | str, reason: str):
    """Approve less than claimed on one line; the approver must hold the pending task."""
    acting = _act(task_id, actor)
    return line_set_approved_amount(
        claim=acting.claim,
        line_id=line_id,
        amount=amount,
        reason=reason,
        actor=actor,
        on_behalf_of_name=acting.on_behalf_of_name,
    )


@transaction.atomic
def claim_comment_add(*, claim_id: int, actor: Any, text: str) -> ClaimComment:
    """A comment on a claim by its claimant or one of its approvers (or their delegate). Others who may
    read the claim (finance, auditors) are refused: a comment reaches the OA and the claimant."""
    from approvals.selectors import active_delegations_to
    from reimbursement.selectors import claims_visible_to

    text = _required(text, "text", _("Write a comment."))
    if not claims_visible_to(actor).filter(pk=claim_id).exists():
        raise NotFoundError(_("This claim does not exist."))
    claim = lock_claim(claim_id)
    employee = getattr(actor, "employee", None)
    if employee is None:
        raise ForbiddenError(_("Only the claimant and the approvers can comment on this claim."))
    if employee.pk != claim.claimant_id:
        people = [employee.pk, *(d.delegator_id for d in active_delegations_to(employee))]
        if not ApprovalTask.objects.filter(claim=claim, assignee_id__in=people).exists():
            raise ForbiddenError(_("Only the claimant and the approvers can comment on this claim."))
    name = getattr(getattr(actor, "employee", None), "name", "") or actor.get_username()
    comment = ClaimComment.objects.create(claim=claim, author=actor, author_name=name, text=text[:4000])
    claim_event(claim=claim, name="claim.commented", actor=actor, data={"comment": comment.pk, "text": text[:500]})
    return comment


@dataclass
class BulkResult:
    task_id: int
    ok: bool
    message: str = ""
    code: str = ""  # the ApplicationError's code when refused (not_found, already_decided, ...)


def tasks_bulk_approve(
    *, task_ids: list[int], actor: Any, comment: str = "", channel: str = DecisionChannel.WEB
) -> list[BulkResult]:
    """Approve each task in its own transaction: one refusal does not undo the others."""
    results = []
    for task_id in dict.fromkeys(task_ids):
        try:
            task_approve(task_id=task_id, actor=actor, comment=comment, channel=channel)
            results.append(BulkResult(task_id, True))
        except ApplicationError as exc:
            results.append(BulkResult(task_id, False, exc.message, exc.code))
    return results
