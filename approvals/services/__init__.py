"""Every write of the approvals app goes through these functions (style.md §2)."""

from approvals.services.delegation import delegation_create, delegation_end
from approvals.services.flows import flow_start, resolve_for_claim
from approvals.services.org_changes import tasks_reassign_for
from approvals.services.rule_editor import (
    MatrixEntryInput,
    RuleInput,
    StepInput,
    matrix_entry_add,
    matrix_entry_remove,
    rule_create,
    rule_delete,
    rule_move,
    rule_set_set_fallback,
    rule_update,
    step_add,
    step_move,
    step_remove,
    step_update,
)
from approvals.services.rules import rule_add, rule_set_draft, rule_set_publish, validate_rule_set
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
    "MatrixEntryInput",
    "RuleInput",
    "StepInput",
    "claim_comment_add",
    "delegation_create",
    "delegation_end",
    "flow_start",
    "matrix_entry_add",
    "matrix_entry_remove",
    "resolve_for_claim",
    "rule_add",
    "rule_create",
    "rule_delete",
    "rule_move",
    "rule_set_draft",
    "rule_set_publish",
    "rule_set_set_fallback",
    "rule_update",
    "step_add",
    "step_move",
    "step_remove",
    "step_update",
    "task_add_approver",
    "task_approve",
    "task_cut_line",
    "task_reject",
    "task_return",
    "task_transfer",
    "tasks_bulk_approve",
    "tasks_reassign_for",
    "tasks_remind_and_escalate",
    "validate_rule_set",
]
