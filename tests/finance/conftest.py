"""Finance fixtures: approved claims made through the real services (submit, then every approver approves)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from approvals import services as approvals
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim
from reimbursement.services import payee_account_set
from tests.reimbursement.factories import make_claim, submit

# Account numbers the tests look for: in the bank file and nowhere else.
ACCOUNTS = {
    "zhangwei": "6222020200112233445",
    "lina": "6217000010012345678",
    "wangfang": "6228480010987654321",
    "zhaolei": "6216610200016789012",
}


def approve(claim: Claim) -> Claim:
    """Approve every pending task until the claim is decided (manager, then any further steps)."""
    for _ in range(10):
        task = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).select_related("assignee").first()
        if task is None:
            break
        approvals.task_approve(task_id=task.pk, actor=task.assignee.user)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED, claim.status
    return claim


def approved_claim(employee, amount: str = "120.00", **line) -> Claim:
    return approve(submit(make_claim(employee, amount=Decimal(amount), **line)))


def bank_account(employee, number: str | None = None):
    return payee_account_set(
        employee=employee,
        actor=employee.user,
        account_name=employee.name,
        bank_name="中国工商银行",
        branch="上海分行",
        account_number=number or ACCOUNTS[employee.user.username],
    )


@pytest.fixture(autouse=True)
def _in_english():
    """Messages are matched in English; a request in Chinese elsewhere leaves its language active in
    the thread (LocaleMiddleware does not switch back), so set it for every test here."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def people(demo_company, settings):
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False  # outbox rows are what we check; nothing is sent
    # The demo gives everyone a bank account; these tests decide who has one.
    from reimbursement.models import PayeeAccount

    PayeeAccount.objects.all().delete()
    return demo_company


@pytest.fixture
def finance(people):
    return people["sunli"].user


@pytest.fixture
def with_accounts(people):
    for username in ACCOUNTS:
        bank_account(people[username])
    return people
