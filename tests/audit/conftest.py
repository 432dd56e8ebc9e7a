"""Helpers for the audit tests: a claim's whole journey through the real services, and tampering."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import connection

from approvals import services as approvals
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from reimbursement import services as claims
from reimbursement.models import Claim
from tests.reimbursement.factories import line_input, make_claim, submit

TRIGGER = "audit_auditevent_append_only"


@pytest.fixture
def people(demo_company):
    return demo_company


def pending_task(claim: Claim) -> ApprovalTask:
    return ApprovalTask.objects.select_related("assignee__user").get(claim=claim, status=TaskStatus.PENDING)


def journey(people) -> Claim:
    """Draft, two lines, submit, returned by the manager, one line changed and one removed, resubmitted,
    approved: every kind of audited write a claim sees before payment."""
    zhangwei = people["zhangwei"]
    claim = make_claim(zhangwei, lines=2)
    submit(claim)
    approvals.task_return(task_id=pending_task(claim).pk, actor=people["liuyang"].user, reason="Which printer?")
    first, second = claim.lines.order_by("position")
    claims.line_update(line_id=first.pk, actor=zhangwei.user, data=line_input(description="Paper for the 3rd floor"))
    claims.line_remove(line_id=second.pk, actor=zhangwei.user)
    submit(claim)
    approvals.task_approve(task_id=pending_task(claim).pk, actor=people["liuyang"].user, comment="OK")
    claim.refresh_from_db()
    return claim


@contextmanager
def append_only_lifted():
    """Let the test change audit rows by hand, as an attacker with table access would: on PostgreSQL with
    the trigger disabled (inside the test's transaction, rolled back with it); SQLite has no trigger."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # ALTER TABLE waits for no deferred foreign-key check: run them now (they pass), defer again after.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def tamper(sql: str, params: list | None = None) -> None:
    with append_only_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])
