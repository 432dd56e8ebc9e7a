"""Keeping open tasks on people who can act when the org chart changes."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from approvals.routing import ClaimFacts, compiled_published, resolve
from approvals.services.flows import announce_task
from org.models import Employee
from reimbursement.services import claim_event, lock_claim


def tasks_reassign_for(*, employee: Employee) -> int:
    """Re-resolve the open tasks of an approver who left or moved, by each claim's frozen rule version.

    Each claim is handled in its own transaction. A step that now resolves to the same person (or
    nobody) goes to the rule set's fallback approver. Returns the number of tasks moved.
    """
    moved = 0
    task_ids = list(
        ApprovalTask.objects.filter(assignee=employee, status__in=(TaskStatus.PENDING, TaskStatus.WAITING)).values_list(
            "pk", flat=True
        )
    )
    for task_id in task_ids:
        with transaction.atomic():
            claim_id = ApprovalTask.objects.filter(pk=task_id).values_list("claim_id", flat=True).first()
            claim = lock_claim(claim_id)
            task = (
                ApprovalTask.objects.select_for_update(of=("self",))
                .select_related("step", "step__flow__rule_set")
                .get(pk=task_id)
            )
            if task.status not in (TaskStatus.PENDING, TaskStatus.WAITING) or task.assignee_id != employee.pk:
                continue
            replacement, reason = _replacement(task, claim)
            if replacement is None:
                continue
            new = ApprovalTask.objects.create(
                step=task.step,
                claim=claim,
                assignee=replacement,
                reason=reason[:300],
                status=task.status,
                activated_at=timezone.now() if task.status == TaskStatus.PENDING else None,
                due_at=task.due_at,
            )
            task.status = TaskStatus.TRANSFERRED
            task.comment = _("Reassigned: %(name)s is no longer available.") % {"name": employee.name}
            task.save(update_fields=["status", "comment"])
            claim_event(
                claim=claim,
                name="approval.task.reassigned",
                actor=None,
                data={
                    "task": task.pk,
                    "new_task": new.pk,
                    "from": employee.name,
                    "to": replacement.name,
                    "reason": reason,
                },
            )
            if new.status == TaskStatus.PENDING:
                announce_task(task=new, claim=claim)
            moved += 1
    return moved


def _replacement(task: ApprovalTask, claim) -> tuple[Employee | None, str]:
    flow = task.step.flow
    rule_set = flow.rule_set
    if rule_set is None:
        return None, ""
    chain = resolve(ClaimFacts.of_claim(claim), compiled_published(rule_set))
    for step in chain.steps:
        if step.source_step_id and step.source_step_id == task.step.source_step_id:
            for approver in step.approvers:
                if approver.employee.pk != task.assignee_id and approver.employee.active:
                    return approver.employee, _("Re-resolved after an org change: %(why)s") % {"why": approver.reason}
    if rule_set.fallback_approver_id and rule_set.fallback_approver_id != task.assignee_id:
        return rule_set.fallback_approver, _("The approver left; the fallback approver decides.")
    return None, ""
