"""Report fixtures: a small company history built through the real services (submit, approve through the
OA, a delegate deciding for the claimant's manager, a refused duplicate invoice, a return, a void), with
task times set afterwards so the overdue and cycle-time figures are known to the hour."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals import services as approvals
from approvals.choices import DecisionChannel, TaskStatus
from approvals.models import ApprovalTask
from config.errors import ApplicationError
from reimbursement.models import Claim, PolicyRule
from reimbursement.payments.services import claim_void
from tests.finance.conftest import approve
from tests.reimbursement.factories import category, make_claim, submit

INVOICE = "24312000000011112222"


@pytest.fixture(autouse=True)
def _in_english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def people(demo_company, settings):
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False
    return demo_company


def pending_task(claim: Claim) -> ApprovalTask:
    return ApprovalTask.objects.select_related("assignee").get(claim=claim, status=TaskStatus.PENDING)


def took_hours(claim: Claim, hours: float) -> None:
    """Make the claim's decided task look as if it waited ``hours`` for its decision."""
    task = ApprovalTask.objects.get(claim=claim, decided_at__isnull=False)
    ApprovalTask.objects.filter(pk=task.pk).update(activated_at=task.decided_at - datetime.timedelta(hours=hours))


@pytest.fixture
def history(people):
    """Claims A..G of the docstring above; returns them by name with the people."""
    p = people
    PolicyRule.objects.create(
        name="Office cap", kind="cap_per_expense", action="warn", amount=Decimal("100"), category=category("office")
    )
    # A: zhangwei, office 150 CNY over the warning cap, justified; approved by liuyang in 2 h.
    a = make_claim(p["zhangwei"], amount=Decimal("150.00"), category="office")
    submit(a, justification="Toner for the team printer")
    a = approve(a)
    took_hours(a, 2)
    # B: lina, meals 80 CNY, approved by liuyang through the OA in 4 h.
    b = submit(make_claim(p["lina"], amount=Decimal("80.00"), category="meals"))
    approvals.task_approve(task_id=pending_task(b).pk, actor=p["liuyang"].user, channel=DecisionChannel.OA)
    took_hours(b, 4)
    # C: heming's invoice; D: the same invoice again, refused. C waits at guoping, 5 h past due.
    c = submit(make_claim(p["heming"], invoice_kind="vat_digital", invoice_number=INVOICE))
    d = make_claim(p["heming"], purpose="Same invoice again", invoice_kind="vat_digital", invoice_number=INVOICE)
    with pytest.raises(ApplicationError):
        submit(d)
    ApprovalTask.objects.filter(pk=pending_task(c).pk).update(due_at=timezone.now() - datetime.timedelta(hours=5))
    # E: liuyang's claim goes to chenjie, who delegated to zhangwei, who reports to liuyang: a breach.
    e = submit(make_claim(p["liuyang"], amount=Decimal("60.00"), category="office"))
    today = timezone.localdate()
    approvals.delegation_create(actor=p["chenjie"].user, delegate=p["zhangwei"], starts_on=today, ends_on=today)
    approvals.task_approve(task_id=pending_task(e).pk, actor=p["zhangwei"].user)
    took_hours(e, 10)
    # F: wuhao's claim returned by zhoujing, then voided by finance.
    f = submit(make_claim(p["wuhao"], amount=Decimal("45.00"), category="meals"))
    approvals.task_return(task_id=pending_task(f).pk, actor=p["zhoujing"].user, reason="Add the taxi receipt")
    claim_void(claim_id=f.pk, actor=p["sunli"].user, reason="Claimed twice by mistake")
    # G: mating, 10 USD of meals (7.10 CNY each), approved by zhoujing.
    g = approve(submit(make_claim(p["mating"], amount=Decimal("10.00"), currency="USD", category="meals")))
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "G": g, "people": p}


@pytest.fixture
def finance(people):
    return people["sunli"].user


@pytest.fixture
def auditor(people):
    return people["auditor"].user


def range_params(days_back: int = 30, days_ahead: int = 1) -> dict[str, str]:
    today = timezone.localdate()
    return {
        "date_from": (today - datetime.timedelta(days=days_back)).isoformat(),
        "date_to": (today + datetime.timedelta(days=days_ahead)).isoformat(),
    }
