"""Every write to claims goes through these functions (style.md §2)."""

from reimbursement.services.approval import line_set_approved_amount
from reimbursement.services.attachments import attachment_add, attachment_remove
from reimbursement.services.catalogue import fx_rate_set
from reimbursement.services.claims import (
    claim_create,
    claim_delete,
    claim_submit,
    claim_update,
    claim_withdraw,
)
from reimbursement.services.lines import LineInput, line_add, line_remove, line_update, lines_add
from reimbursement.services.payee import payee_account_reveal, payee_account_set
from reimbursement.services.transitions import claim_event, claim_transition, lock_claim

__all__ = [
    "LineInput",
    "attachment_add",
    "attachment_remove",
    "claim_create",
    "claim_delete",
    "claim_event",
    "claim_submit",
    "claim_transition",
    "claim_update",
    "claim_withdraw",
    "fx_rate_set",
    "line_add",
    "line_remove",
    "line_set_approved_amount",
    "line_update",
    "lines_add",
    "lock_claim",
    "payee_account_reveal",
    "payee_account_set",
]
