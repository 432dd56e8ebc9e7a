"""Dashboard fixtures: claims approved, rejected and pending through the real services, then moved to known
dates (the services stamp "now"; the figures are about months, so the test sets the months)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals import services as approvals
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from reimbursement.models import Claim
from tests.finance.conftest import approve
from tests.reimbursement.factories import add_line, make_claim, submit

ZONE = datetime.timezone(datetime.timedelta(hours=8))


def at(day: str, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=timezone.get_current_timezone())


def backdate(claim: Claim, *, submitted: datetime.datetime, decided: datetime.datetime | None = None) -> Claim:
    """Test set-up only: the claim was submitted and decided at these times instead of a moment ago."""
    Claim.objects.filter(pk=claim.pk).update(submitted_at=submitted, decided_at=decided)
    claim.refresh_from_db()
    return claim


def pending_task(claim: Claim) -> ApprovalTask:
    return ApprovalTask.objects.select_related("assignee__user").get(claim=claim, status=TaskStatus.PENDING)


@pytest.fixture(autouse=True)
def _in_english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def people(demo_company, settings):
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False
    return demo_company


@pytest.fixture
def known(people):
    """Platform: 100 office (Sep, 48 h) and 150 meals + 30 telecom (Oct, 12 h); East sales: 50 telecom
    (Oct, 24 h); a rejected platform claim (Oct, 36 h); one claim of Li Na pending with Liu Yang."""
    zhangwei, lina, heming = people["zhangwei"], people["lina"], people["heming"]
    september = approve(submit(make_claim(zhangwei, amount=Decimal("100.00"), category="office")))
    backdate(september, submitted=at("2026-09-08"), decided=at("2026-09-10"))

    october = make_claim(lina, amount=Decimal("150.00"), category="meals")
    add_line(october, amount=Decimal("30.00"), category="telecom")
    october = approve(submit(october))
    backdate(october, submitted=at("2026-10-04", 10), decided=at("2026-10-04", 22))

    east = approve(submit(make_claim(heming, amount=Decimal("50.00"), category="telecom")))
    backdate(east, submitted=at("2026-10-19"), decided=at("2026-10-20"))

    rejected = submit(make_claim(zhangwei, amount=Decimal("70.00"), category="office"))
    approvals.task_reject(task_id=pending_task(rejected).pk, actor=people["liuyang"].user, reason="No")
    backdate(rejected, submitted=at("2026-10-10", 0), decided=at("2026-10-11", 12))

    pending = submit(make_claim(lina, amount=Decimal("20.00"), category="office"))
    return {"september": september, "october": october, "east": east, "rejected": rejected, "pending": pending}
