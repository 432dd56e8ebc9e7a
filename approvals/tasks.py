"""Periodic approval jobs (scheduled in config/celery.py)."""

from __future__ import annotations

from celery import shared_task

from approvals.services import tasks_remind_and_escalate


@shared_task(name="approvals.tasks.remind_and_escalate", ignore_result=True)
def remind_and_escalate() -> dict[str, int]:
    """Remind approvers of overdue tasks and escalate the ones reminded often enough."""
    return tasks_remind_and_escalate()
