"""Every write of the approvals app goes through these functions (style.md §2)."""

from approvals.services.delegation import delegation_create, delegation_end
from approvals.services.flows import flow_start, resolve_for_claim
from approvals.services.org_changes import tasks_reassign_for
from approvals.services.rules import rule_set_draft, rule_set_publish
from approvals.services.sla import tasks_remind_and_escalate
from approvals.services.tasks import (
    BulkResult,
    claim_comment_add,
    task_add_approver,
    task_approve,
    task_cut_line,
    task_reject,
    task_return,
    task_transfer,
    tasks_bulk_approve,
)

__all__ = [
    "BulkResult",
    "claim_comment_add",
    "delegation_create",
    "delegation_end",
    "flow_start",
    "resolve_for_claim",
    "rule_set_draft",
    "rule_set_publish",
    "task_add_approver",
    "task_approve",
    "task_cut_line",
    "task_reject",
    "task_return",
    "task_transfer",
    "tasks_bulk_approve",
    "tasks_reassign_for",
    "tasks_remind_and_escalate",
]
