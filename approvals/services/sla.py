"""Due times: remind approvers of overdue tasks, escalate to their manager after enough reminders."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from approvals.services.flows import announce_task
from reimbursement.services import claim_event, lock_claim


def tasks_remind_and_escalate(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """One pass of the SLA job (beat, every few minutes). Safe to run twice: a task is reminded at most
    once per interval, and an escalated task is closed so it is never escalated again."""
    now = now or timezone.now()
    interval = datetime.timedelta(hours=settings.BAOXIAO_REMINDER_INTERVAL_HOURS)
    counts = {"reminded": 0, "escalated": 0}
    due = ApprovalTask.objects.filter(status=TaskStatus.PENDING, due_at__lte=now).values_list("pk", flat=True)
    for task_id in list(due):
        with transaction.atomic():
            claim_id = ApprovalTask.objects.filter(pk=task_id).values_list("claim_id", flat=True).first()
            claim = lock_claim(claim_id)
            task = (
                ApprovalTask.objects.select_for_update(of=("self",))
                .select_related("assignee__manager", "step")
                .get(pk=task_id)
            )
            if task.status != TaskStatus.PENDING or (task.last_reminded_at and now - task.last_reminded_at < interval):
                continue
            manager = task.assignee.manager
            if (
                task.reminders_sent >= settings.BAOXIAO_REMINDERS_BEFORE_ESCALATION
                and manager
                and manager.active
                and manager.pk != claim.claimant_id
            ):
                new = ApprovalTask.objects.create(
                    step=task.step,
                    claim=claim,
                    assignee=manager,
                    status=TaskStatus.PENDING,
                    activated_at=now,
                    due_at=now + datetime.timedelta(hours=task.step.sla_hours),
                    reason=(
                        _("Escalated: %(name)s did not decide within the due time.") % {"name": task.assignee.name}
                    )[:300],
                )
                task.status = TaskStatus.TRANSFERRED
                task.comment = _("Escalated to %(m)s after %(n)d reminders.") % {
                    "m": manager.name,
                    "n": task.reminders_sent,
                }
                task.save(update_fields=["status", "comment"])
                claim_event(
                    claim=claim,
                    name="approval.task.escalated",
                    actor=None,
                    data={"task": task.pk, "new_task": new.pk, "from": task.assignee.name, "to": manager.name},
                )
                announce_task(task=new, claim=claim)
                counts["escalated"] += 1
            else:
                task.reminders_sent += 1
                task.last_reminded_at = now
                task.save(update_fields=["reminders_sent", "last_reminded_at"])
                claim_event(
                    claim=claim,
                    name="approval.task.reminded",
                    actor=None,
                    data={
                        "task": task.pk,
                        "assignee": task.assignee.name,
                        "assignee_id": task.assignee_id,
                        "reminder": task.reminders_sent,
                    },
                )
                counts["reminded"] += 1
    return counts
