"""THE access table: every page and API endpoint × every role → the answer expected.

Roles, in column order: employee (zhangwei), manager (liuyang, zhangwei's manager), finance (sunli),
auditor (granted the Platform department only), admin, anonymous. Objects are named as in
tests/security/world.py: ``own_*`` belong to the employee (so, to the manager, they are a subordinate's),
``foreign_*`` to wuhao of another team. Answers:

- a number: that status code exactly;
- ``login``: a redirect to the sign-in page (anonymous on pages);
- ``ok``: allowed past every access check: below 500 and not 401/403/404, not a sign-in redirect
  (a POST without its form data may answer 200 with errors, 302, 400 or 409);
- ``no``: refused as if it did not exist: 404.

A POST row is sent with an empty body inside a savepoint that is rolled back, so rows do not affect
each other. POSTs that would reach the network for an admin (OA connector test, directory sync, sandbox
decision) are sent as GETs instead: the access decision comes first either way.
"""

from __future__ import annotations

ROLES = ("employee", "manager", "finance", "auditor", "admin", "anonymous")

# (url name, method, {url kwarg: object spec (tests/security/matrix_world.resolve)}, answers by role[, body])
TABLE: list[tuple] = [
    # --- everyone signed in
    ("home", "GET", {}, "200 200 200 200 200 login"),
    ("org:directory", "GET", {}, "200 200 200 200 200 login"),
    ("org:department", "GET", {"pk": "#department_id:own_submitted"}, "200 200 200 200 200 login"),
    ("password_change", "GET", {}, "200 200 200 200 200 login"),
    ("password_change_done", "GET", {}, "200 200 200 200 200 login"),
    ("login", "GET", {}, "302 302 302 302 302 200"),
    ("set_language", "POST", {}, "302 302 302 302 302 302"),
    ("healthz", "GET", {}, "ok ok ok ok ok ok"),
    ("api-schema", "GET", {}, "200 200 200 200 200 200"),
    ("api-docs", "GET", {}, "200 200 200 200 200 200"),
    ("admin:index", "GET", {}, "302 302 302 302 200 302"),
    # --- claims (pages)
    ("reimbursement:my_claims", "GET", {}, "200 200 200 200 200 login"),
    ("reimbursement:new", "GET", {}, "200 200 200 200 200 login"),
    ("reimbursement:bank_account", "GET", {}, "200 200 200 200 200 login"),
    ("reimbursement:detail", "GET", {"claim_id": "own_draft"}, "200 no no no no login"),
    ("reimbursement:detail", "GET", {"claim_id": "own_submitted"}, "200 200 200 200 no login"),
    ("reimbursement:detail", "GET", {"claim_id": "foreign_submitted"}, "no no 200 no no login"),
    ("reimbursement:detail", "GET", {"claim_id": "foreign_draft"}, "no no no no no login"),
    ("reimbursement:edit", "GET", {"claim_id": "own_draft"}, "200 no no no no login"),
    ("reimbursement:edit", "GET", {"claim_id": "foreign_draft"}, "no no no no no login"),
    ("reimbursement:submit", "POST", {"claim_id": "own_draft"}, "ok no no no no login"),
    ("reimbursement:submit", "POST", {"claim_id": "foreign_draft"}, "no no no no no login"),
    ("reimbursement:withdraw", "POST", {"claim_id": "own_submitted"}, "ok no no no no login"),
    ("reimbursement:withdraw", "POST", {"claim_id": "foreign_submitted"}, "no no no no no login"),
    ("reimbursement:delete", "POST", {"claim_id": "own_draft"}, "ok no no no no login"),
    ("reimbursement:delete", "POST", {"claim_id": "foreign_draft"}, "no no no no no login"),
    ("reimbursement:print", "GET", {"claim_id": "own_submitted"}, "200 200 200 200 no login"),
    ("reimbursement:print", "GET", {"claim_id": "foreign_submitted"}, "no no 200 no no login"),
    ("reimbursement:line_add", "POST", {"claim_id": "own_draft"}, "ok no no no no login"),
    ("reimbursement:line_add", "POST", {"claim_id": "foreign_draft"}, "no no no no no login"),
    ("reimbursement:line_row", "GET", {"claim_id": "own_draft", "line_id": "own_draft.line"}, "ok no no no no login"),
    (
        "reimbursement:line_row",
        "GET",
        {"claim_id": "foreign_draft", "line_id": "foreign_draft.line"},
        "no no no no no login",
    ),
    (
        "reimbursement:line_row",
        "GET",
        {"claim_id": "own_draft", "line_id": "foreign_draft.line"},
        "no no no no no login",
    ),
    ("reimbursement:line_edit", "GET", {"claim_id": "own_draft", "line_id": "own_draft.line"}, "ok no no no no login"),
    (
        "reimbursement:line_edit",
        "GET",
        {"claim_id": "foreign_draft", "line_id": "foreign_draft.line"},
        "no no no no no login",
    ),
    (
        "reimbursement:line_remove",
        "POST",
        {"claim_id": "own_draft", "line_id": "own_draft.line"},
        "ok no no no no login",
    ),
    (
        "reimbursement:line_remove",
        "POST",
        {"claim_id": "foreign_draft", "line_id": "foreign_draft.line"},
        "no no no no no login",
    ),
    (
        "reimbursement:attachment_upload",
        "POST",
        {"claim_id": "own_draft", "line_id": "own_draft.line"},
        "ok no no no no login",
    ),
    (
        "reimbursement:attachment_upload",
        "POST",
        {"claim_id": "foreign_draft", "line_id": "foreign_draft.line"},
        "no no no no no login",
    ),
    ("reimbursement:attachment", "GET", {"attachment_id": "own_attachment"}, "200 no no no no login"),
    ("reimbursement:attachment", "GET", {"attachment_id": "foreign_attachment"}, "no no no no no login"),
    ("reimbursement:attachment_remove", "POST", {"attachment_id": "own_attachment"}, "ok no no no no login"),
    ("reimbursement:attachment_remove", "POST", {"attachment_id": "foreign_attachment"}, "no no no no no login"),
    # --- approvals (pages)
    ("approvals:inbox", "GET", {}, "200 200 200 200 200 login"),
    ("approvals:bulk_approve", "POST", {}, "ok ok ok ok ok login"),
    ("approvals:history", "GET", {}, "200 200 200 200 200 login"),
    ("approvals:task", "GET", {"task_id": "own_task"}, "no 200 no no no login"),
    ("approvals:task", "GET", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:task_preview", "GET", {"task_id": "own_task"}, "no 200 no no no login"),
    ("approvals:task_preview", "GET", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:task_approve", "POST", {"task_id": "own_task"}, "no ok no no no login"),
    ("approvals:task_approve", "POST", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:task_reject", "POST", {"task_id": "own_task"}, "no ok no no no login"),
    ("approvals:task_reject", "POST", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:task_return", "POST", {"task_id": "own_task"}, "no ok no no no login"),
    ("approvals:task_return", "POST", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:task_transfer", "POST", {"task_id": "own_task"}, "no ok no no no login"),
    ("approvals:task_transfer", "POST", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:task_add_approver", "POST", {"task_id": "own_task"}, "no ok no no no login"),
    ("approvals:task_add_approver", "POST", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:task_cut", "POST", {"task_id": "own_task"}, "no ok no no no login"),
    ("approvals:task_cut", "POST", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:task_comment", "POST", {"task_id": "own_task"}, "no ok no no no login"),
    ("approvals:task_comment", "POST", {"task_id": "foreign_task"}, "no no no no no login"),
    ("approvals:delegation", "GET", {}, "200 200 200 200 200 login"),
    ("approvals:delegation_end", "POST", {"delegation_id": "delegation"}, "no ok no no no login"),
    ("approvals:delegation_end", "POST", {"delegation_id": "foreign_delegation"}, "no no no no no login"),
    ("approvals:notifications", "GET", {}, "200 200 200 200 200 login"),
    ("approvals:notifications_read", "POST", {}, "ok ok ok ok ok login"),
    ("approvals:notification_open", "GET", {"notification_id": "notification"}, "no ok no no no login"),
    ("approvals:notification_open", "GET", {"notification_id": "foreign_notification"}, "no no no no no login"),
    # --- routing rules (admins only)
    ("rules:index", "GET", {}, "no no no no 200 login"),
    ("rules:version", "GET", {"version": "published.version"}, "no no no no 200 login"),
    ("rules:draft", "GET", {}, "no no no no 200 login"),
    ("rules:draft_start", "POST", {}, "no no no no ok login"),
    ("rules:publish", "POST", {}, "no no no no ok login"),
    ("rules:fallback", "POST", {}, "no no no no ok login"),
    ("rules:matrix", "GET", {}, "no no no no ok login"),
    ("rules:matrix_remove", "POST", {"entry_id": "999999"}, "no no no no no login"),
    ("rules:rule_new", "GET", {}, "no no no no 200 login"),
    ("rules:rule_edit", "GET", {"rule_id": "rule"}, "no no no no 200 login"),
    ("rules:rule_delete", "POST", {"rule_id": "rule"}, "no no no no ok login"),
    ("rules:rule_move", "POST", {"rule_id": "rule"}, "no no no no ok login"),
    ("rules:step_add", "GET", {"rule_id": "rule"}, "no no no no ok login"),
    ("rules:step_edit", "GET", {"step_id": "step"}, "no no no no ok login"),
    ("rules:step_remove", "POST", {"step_id": "step"}, "no no no no ok login"),
    ("rules:step_move", "POST", {"step_id": "step"}, "no no no no ok login"),
    ("rules:simulate", "GET", {}, "no no no no 200 login"),
    ("rules:dry_run", "GET", {}, "no no no no ok login"),
    # --- finance (pages)
    ("finance:queue", "GET", {}, "no no 200 no no login"),
    ("finance:batches", "GET", {}, "no no 200 no no login"),
    ("finance:batch_create", "POST", {}, "no no ok no no login"),
    ("finance:batch", "GET", {"batch_id": "batch"}, "no no 200 no no login"),
    ("finance:bank_file", "POST", {"batch_id": "batch"}, "no no 200 no no login"),
    ("finance:mark_paid", "POST", {"batch_id": "batch"}, "no no ok no no login"),
    ("finance:payment_fail", "POST", {"payment_id": "payment"}, "no no ok no no login"),
    ("finance:claim_void", "POST", {"claim_id": "own_submitted"}, "no no ok no no login"),
    ("finance:journal", "GET", {}, "no no 200 no no login"),
    # --- dashboards, compliance reports and audit packs (finance and auditors; an admin has neither role)
    ("dashboards:index", "GET", {}, "no no 200 200 no login"),
    ("dashboards:claims", "GET", {}, "no no 200 200 no login"),
    ("reports:index", "GET", {}, "no no 200 200 no login"),
    ("reports:report", "GET", {"slug": "=policy-warnings"}, "no no 200 200 no login"),
    ("reports:report", "GET", {"slug": "=no-such-report"}, "no no no no no login"),
    ("reports:lines", "GET", {}, "no no 200 200 no login"),
    ("reports:export", "GET", {"job_uuid": "=00000000-0000-4000-8000-000000000000"}, "no no no no no login"),
    (
        "reports:export_download",
        "GET",
        {"job_uuid": "=00000000-0000-4000-8000-000000000000"},
        "no no no no no login",
    ),
    ("reimbursement:pack_pdf", "POST", {"claim_id": "own_submitted"}, "no no ok ok no login"),
    ("reimbursement:pack_zip", "POST", {"claim_id": "own_submitted"}, "no no ok ok no login"),
    ("reimbursement:pack_pdf", "POST", {"claim_id": "foreign_submitted"}, "no no ok no no login"),
    ("reimbursement:pack_zip", "POST", {"claim_id": "foreign_submitted"}, "no no ok no no login"),
    # --- OA bridge (admins only, but the inbound endpoint and the sandbox's own OA API)
    ("oa_ops:overview", "GET", {}, "no no no no 200 login"),
    ("oa_ops:events", "GET", {}, "no no no no 200 login"),
    ("oa_ops:event", "GET", {"pk": "outbox_event"}, "no no no no 200 login"),
    ("oa_ops:event_replay", "POST", {"pk": "outbox_event"}, "no no no no ok login"),
    ("oa_ops:replay_failed", "POST", {}, "no no no no ok login"),
    ("oa_ops:connector_pause", "POST", {"pk": "connector"}, "no no no no ok login"),
    ("oa_ops:connector_test", "GET", {"pk": "connector"}, "no no no no 405 login"),
    # the settings page exists for vendor kinds only; the demo's connector is the sandbox
    ("oa_ops:connector_settings", "GET", {"pk": "connector"}, "no no no no no login"),
    ("oa_ops:connector_new", "GET", {"kind": "=feishu"}, "no no no no 200 login"),
    ("oa_ops:connector_new", "GET", {"kind": "=generic"}, "no no no no no login"),
    ("oa_sync:index", "GET", {}, "no no no no 200 login"),
    ("oa_sync:run", "GET", {"pk": "999999"}, "no no no no no login"),
    ("oa_sync:confirm", "POST", {"pk": "999999"}, "no no no no no login"),
    ("oa_sync:connector", "GET", {"slug": "#slug:connector"}, "no no no no 200 login"),
    ("oa_sync:sync_now", "GET", {"slug": "#slug:connector"}, "405 405 405 405 405 login"),
    ("oa_inbound", "POST", {"slug": "#slug:connector"}, "401 401 401 401 401 401"),  # signed by the OA or nothing
    ("oa_sandbox:inbox", "GET", {}, "no no no no 200 login"),
    ("oa_sandbox:decide", "GET", {"pk": "999999"}, "405 405 405 405 405 login"),
    ("oa_sandbox:directory", "GET", {}, "no no no no 200 login"),
    ("oa_sandbox:webhook", "POST", {}, "400 400 400 400 400 400"),  # an unsigned, empty event
    ("oa_sandbox:api_departments", "GET", {}, "401 401 401 401 401 401"),
    ("oa_sandbox:api_users", "GET", {}, "401 401 401 401 401 401"),
    ("oa_sandbox:api_user", "GET", {"external_id": "=u-0001"}, "401 401 401 401 401 401"),
    # --- API: claims, lines, files
    ("api-token", "POST", {}, "400 400 400 400 400 400"),
    ("api-category-list", "GET", {}, "200 200 200 200 200 401"),
    ("api-claim-list", "GET", {}, "200 200 200 200 200 401"),
    ("api-claim-detail", "GET", {"claim_id": "own_draft"}, "200 no no no no 401"),
    ("api-claim-detail", "GET", {"claim_id": "own_submitted"}, "200 200 200 200 no 401"),
    ("api-claim-detail", "GET", {"claim_id": "foreign_submitted"}, "no no 200 no no 401"),
    ("api-claim-detail", "GET", {"claim_id": "foreign_draft"}, "no no no no no 401"),
    ("api-claim-preflight", "GET", {"claim_id": "own_draft"}, "200 no no no no 401"),
    ("api-claim-preflight", "GET", {"claim_id": "foreign_draft"}, "no no no no no 401"),
    ("api-claim-submit", "POST", {"claim_id": "own_draft"}, "ok no no no no 401"),
    ("api-claim-submit", "POST", {"claim_id": "foreign_draft"}, "no no no no no 401"),
    # The API tells those who may read the claim that only the claimant acts on it (403); pages say 404.
    ("api-claim-withdraw", "POST", {"claim_id": "own_submitted"}, "ok 403 403 403 no 401"),
    ("api-claim-withdraw", "POST", {"claim_id": "foreign_submitted"}, "no no 403 no no 401"),
    ("api-line-list", "GET", {"claim_id": "own_draft"}, "200 no no no no 401"),
    ("api-line-list", "GET", {"claim_id": "own_submitted"}, "200 200 200 200 no 401"),
    ("api-line-list", "GET", {"claim_id": "foreign_draft"}, "no no no no no 401"),
    ("api-line-detail", "GET", {"claim_id": "own_draft", "line_id": "own_draft.line"}, "200 no no no no 401"),
    ("api-line-detail", "GET", {"claim_id": "foreign_draft", "line_id": "foreign_draft.line"}, "no no no no no 401"),
    ("api-line-detail", "GET", {"claim_id": "own_draft", "line_id": "foreign_draft.line"}, "no no no no no 401"),
    ("api-attachment-list", "GET", {"claim_id": "own_draft", "line_id": "own_draft.line"}, "200 no no no no 401"),
    (
        "api-attachment-list",
        "GET",
        {"claim_id": "foreign_draft", "line_id": "foreign_draft.line"},
        "no no no no no 401",
    ),
    (
        "api-attachment-detail",
        "GET",
        {"claim_id": "own_draft", "line_id": "own_draft.line", "attachment_id": "own_attachment"},
        "200 no no no no 401",
    ),
    (
        "api-attachment-detail",
        "GET",
        {"claim_id": "foreign_draft", "line_id": "foreign_draft.line", "attachment_id": "foreign_attachment"},
        "no no no no no 401",
    ),
    (
        "api-attachment-detail",
        "GET",
        {"claim_id": "own_draft", "line_id": "own_draft.line", "attachment_id": "foreign_attachment"},
        "no no no no no 401",
    ),
    (
        "api-attachment-download",
        "GET",
        {"claim_id": "own_draft", "line_id": "own_draft.line", "attachment_id": "own_attachment"},
        "200 no no no no 401",
    ),
    (
        "api-attachment-download",
        "GET",
        {"claim_id": "foreign_draft", "line_id": "foreign_draft.line", "attachment_id": "foreign_attachment"},
        "no no no no no 401",
    ),
    # --- API: approvals
    ("api-approvals-inbox", "GET", {}, "200 200 200 200 200 401"),
    ("api-approvals-history", "GET", {}, "200 200 200 200 200 401"),
    ("api-delegation-list", "GET", {}, "200 200 200 200 200 401"),
    ("api-delegation-end", "POST", {"delegation_id": "delegation"}, "no 200 no no no 401"),
    ("api-delegation-end", "POST", {"delegation_id": "foreign_delegation"}, "no no no no no 401"),
    ("api-task-bulk-approve", "POST", {}, "400 400 400 400 400 401"),
    ("api-task-detail", "GET", {"task_id": "own_task"}, "no 200 no no no 401"),
    ("api-task-detail", "GET", {"task_id": "foreign_task"}, "no no no no no 401"),
    ("api-task-approve", "POST", {"task_id": "own_task"}, "no 200 no no no 401"),
    ("api-task-approve", "POST", {"task_id": "foreign_task"}, "no no no no no 401"),
    ("api-task-reject", "POST", {"task_id": "own_task"}, "no ok no no no 401"),
    ("api-task-reject", "POST", {"task_id": "foreign_task"}, "no no no no no 401"),
    ("api-task-return", "POST", {"task_id": "own_task"}, "no ok no no no 401"),
    ("api-task-return", "POST", {"task_id": "foreign_task"}, "no no no no no 401"),
    ("api-task-transfer", "POST", {"task_id": "own_task"}, "no ok no no no 401"),
    ("api-task-transfer", "POST", {"task_id": "foreign_task"}, "no no no no no 401"),
    ("api-task-add-approver", "POST", {"task_id": "own_task"}, "no ok no no no 401"),
    ("api-task-add-approver", "POST", {"task_id": "foreign_task"}, "no no no no no 401"),
    ("api-task-cut-line", "POST", {"task_id": "own_task"}, "no ok no no no 401"),
    ("api-task-cut-line", "POST", {"task_id": "foreign_task"}, "no no no no no 401"),
    # Finance and auditors read claims but do not join the conversation (403: visible, not theirs to comment).
    ("api-claim-comments", "POST", {"claim_id": "own_submitted"}, "ok ok 403 403 no 401", {"text": "Why?"}),
    ("api-claim-comments", "POST", {"claim_id": "foreign_submitted"}, "no no 403 no no 401", {"text": "Why?"}),
    # --- API: routing (admins only)
    ("api-rule-set-list", "GET", {}, "no no no no 200 401"),
    ("api-rule-set-draft", "POST", {}, "no no no no ok 401"),
    ("api-rule-set-detail", "GET", {"rule_set_id": "published"}, "no no no no 200 401"),
    ("api-rule-set-rules", "POST", {"rule_set_id": "draft_rules"}, "no no no no ok 401"),
    ("api-rule-set-publish", "POST", {"rule_set_id": "draft_rules"}, "no no no no ok 401"),
    ("api-routing-simulate", "POST", {}, "no no no no ok 401"),
    # --- API: finance
    ("api-finance-queue", "GET", {}, "no no 200 no no 401"),
    ("api-finance-batches", "GET", {}, "no no 200 no no 401"),
    ("api-finance-batch", "GET", {"batch_id": "batch"}, "no no 200 no no 401"),
    ("api-finance-batch-export", "POST", {"batch_id": "batch"}, "no no 200 no no 401"),
    ("api-finance-batch-paid", "POST", {"batch_id": "batch"}, "no no ok no no 401"),
    ("api-finance-payment-fail", "POST", {"payment_id": "payment"}, "no no ok no no 401"),
    ("api-finance-claim-void", "POST", {"claim_id": "own_submitted"}, "no no ok no no 401"),
    ("api-finance-journal", "GET", {}, "no no 400 no no 401"),  # 400: the dates are required
    # --- last: it signs the client out
    ("logout", "POST", {}, "302 302 302 302 302 302"),
]

# URL patterns deliberately outside the table, each with the reason.
EXEMPT = {
    # Django's own admin checks is_staff on every page; admin:index in the table proves the door.
    "admin:*": "Django admin",
}

# Pages that may name claims outside claims_visible_to, for whom: the administrator's tools. The routing
# simulator offers recent claims to dry-run the draft rules against, and the OA operations screens show
# which claim each outbound event is about (its CloudEvent, as the OA received it).
FOREIGN_CLAIMS_ALLOWED = {("rules:simulate", "admin"), ("oa_ops:events", "admin"), ("oa_ops:event", "admin")}

# Responses allowed to carry a bank account number in clear: the bank file finance downloads for the bank.
CLEAR_NUMBERS_ALLOWED = {("finance:bank_file", "finance"), ("api-finance-batch-export", "finance")}
