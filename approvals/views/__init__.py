"""The approver's pages: inbox and history, one task and its decisions, delegation, notifications."""

from approvals.views.delegation import delegation, delegation_stop
from approvals.views.inbox import bulk_approve, history, inbox
from approvals.views.notifications import notification_open, notifications, notifications_mark_read
from approvals.views.tasks import (
    add_approver,
    approve,
    comment,
    cut_line,
    reject,
    return_claim,
    task_detail,
    task_preview,
    transfer,
)

__all__ = [
    "add_approver",
    "approve",
    "bulk_approve",
    "comment",
    "cut_line",
    "delegation",
    "delegation_stop",
    "history",
    "inbox",
    "notification_open",
    "notifications",
    "notifications_mark_read",
    "reject",
    "return_claim",
    "task_detail",
    "task_preview",
    "transfer",
]
