"""A delegation never lets the delegate decide on their own claim (found by the access matrix: the
manager's delegate could approve, through the API and the inbox, the claim they had submitted)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from approvals import services as approvals
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from approvals.selectors import inbox_tasks
from tests.reimbursement.factories import make_claim, submit

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def delegated(demo_company):
    """liuyang delegates to zhangwei; zhangwei and lina each submit a claim that waits on liuyang."""
    manager, me, colleague = demo_company["liuyang"], demo_company["zhangwei"], demo_company["lina"]
    today = timezone.localdate()
    approvals.delegation_create(
        actor=manager.user, delegate=me, starts_on=today, ends_on=today + datetime.timedelta(days=5)
    )
    mine = ApprovalTask.objects.get(claim=submit(make_claim(me)), status=TaskStatus.PENDING)
    theirs = ApprovalTask.objects.get(claim=submit(make_claim(colleague)), status=TaskStatus.PENDING)
    assert mine.assignee == theirs.assignee == manager
    return me, mine, theirs


def test_a_delegate_cannot_approve_their_own_claim_through_the_api(delegated):
    me, mine, theirs = delegated
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=me.user).key}")
    assert api.get(f"/api/v1/approval-tasks/{mine.pk}/").status_code == 404
    assert api.post(f"/api/v1/approval-tasks/{mine.pk}/approve/", {}, format="json").status_code == 404
    mine.refresh_from_db()
    assert mine.status == TaskStatus.PENDING
    # The delegation still works for everyone else's claims.
    assert api.post(f"/api/v1/approval-tasks/{theirs.pk}/approve/", {}, format="json").status_code == 200


def test_a_delegates_inbox_leaves_out_their_own_claims(delegated, client):
    me, mine, theirs = delegated
    assert set(inbox_tasks(me.user)) == {theirs}
    client.force_login(me.user)
    assert client.get(f"/approvals/tasks/{mine.pk}/").status_code == 404
    assert client.post(f"/approvals/tasks/{mine.pk}/approve/").status_code == 404
    mine.refresh_from_db()
    assert mine.status == TaskStatus.PENDING
