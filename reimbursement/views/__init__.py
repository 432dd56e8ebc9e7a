"""The employee's claim pages (issue 3, item 6). Reads go through reimbursement.selectors, writes through
reimbursement.services; split by sub-domain: claims, lines and files, the bank account."""

from reimbursement.views.claims import (
    claim_delete_view,
    claim_detail_view,
    claim_edit,
    claim_list,
    claim_new,
    claim_print,
    claim_submit_view,
    claim_withdraw_view,
)
from reimbursement.views.lines import (
    attachment_download,
    attachment_remove_view,
    attachment_upload_view,
    line_add_view,
    line_edit_view,
    line_remove_view,
    line_row_view,
)
from reimbursement.views.payee import payee_account_view

__all__ = [
    "attachment_download",
    "attachment_remove_view",
    "attachment_upload_view",
    "claim_delete_view",
    "claim_detail_view",
    "claim_edit",
    "claim_list",
    "claim_new",
    "claim_print",
    "claim_submit_view",
    "claim_withdraw_view",
    "line_add_view",
    "line_edit_view",
    "line_remove_view",
    "line_row_view",
    "payee_account_view",
]
