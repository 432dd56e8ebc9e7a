"""Concurrent decisions on real PostgreSQL: exactly one lands, every other attempt is a 409, none a 500.

Each scenario starts 50 threads at one barrier (tests/races/harness.py), mixing the assignee and a
delegate, the API and the services. Then the same again with the application's row locks switched off
(settings.BAOXIAO_TEST_DISABLE_ROW_LOCKS: ``lock_claim`` and the task lock), to show what the database alone
still guarantees: the conditional UPDATE that takes a task out of ``pending`` (approvals/services/tasks.py,
``_leave_pending``) keeps one decision per task, the claim's conditional UPDATE by status and ``event_seq``
(reimbursement/services/transitions.py) one transition per state, and the unique constraints on flows and
outbox rows one submission per claim.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from approvals import services
from approvals.choices import DECIDED_TASK_STATUSES, FlowStatus, TaskStatus
from approvals.models import ApprovalFlow, ApprovalTask
from audit.models import AuditEvent
from oa_bridge.models import Connector, OutboxEvent
from reimbursement import services as claims
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim
from tests.races.conftest import connectors, locks_taken
from tests.races.harness import THREADS, all_at_once, client_for, service_outcome
from tests.reimbursement.factories import make_claim, submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TASKS = "/api/v1/approval-tasks/"
DECIDED = "decided"
CONFLICT = "409"


# --- Attempts -------------------------------------------------------------------------------------


def by_api(client: APIClient, task_id: int, action: str) -> Callable[[], str]:
    body = {"reason": "Not a business expense"} if action == "reject" else {"comment": "OK"}

    def attempt() -> str:
        response = client.post(f"{TASKS}{task_id}/{action}/", body)
        return DECIDED if response.status_code == 200 else str(response.status_code)

    return attempt


def by_service(user, task_id: int, action: str) -> Callable[[], str]:
    def decide():
        if action == "reject":
            return services.task_reject(task_id=task_id, actor=user, reason="Not a business expense")
        return services.task_approve(task_id=task_id, actor=user, comment="OK")

    return lambda: service_outcome(decide, lambda _task: DECIDED)


def clients_for(people) -> dict[int, APIClient]:
    return {e.pk: client_for(e.user) for e in (people["liuyang"], people["zhoujing"])}


def attempt(people, clients: dict[int, APIClient], task_id: int, n: int, action: str) -> Callable[[], str]:
    """The n-th attempt: the assignee or the delegate (alternately), through the API or the services."""
    who = people["liuyang"] if n % 2 == 0 else people["zhoujing"]
    if (n // 2) % 2 == 0:
        return by_api(clients[who.pk], task_id, action)
    return by_service(who.user, task_id, action)


def assert_one_decision(claim: Claim) -> str:
    """Exactly one decided task, one audit event for it, one outbox row per connector; the decision."""
    decided = list(ApprovalTask.objects.filter(claim=claim, status__in=DECIDED_TASK_STATUSES))
    assert len(decided) == 1, decided
    events = AuditEvent.objects.filter(action="approval.task.decided", target_id=str(claim.pk))
    assert events.count() == 1
    rows = OutboxEvent.objects.filter(type="com.baoxiao.approval.task.decided", subject=str(claim.pk))
    assert rows.count() == connectors()
    assert {r.data["change"]["decision"] for r in rows} == {decided[0].status}
    claim.refresh_from_db()
    expected = ClaimStatus.APPROVED if decided[0].status == TaskStatus.APPROVED else ClaimStatus.REJECTED
    assert claim.status == expected
    final = AuditEvent.objects.filter(action__in=["claim.approved", "claim.rejected"], target_id=str(claim.pk))
    assert final.count() == 1
    assert claim.approval_flows.get().status in (FlowStatus.APPROVED, FlowStatus.REJECTED)
    return decided[0].status


@pytest.fixture
def people(demo_company, settings):
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False  # rows are what we count; nothing is sent
    assert connectors() >= 1  # the demo's OA sandbox: so "one row per connector" means something
    today = timezone.localdate()
    services.delegation_create(
        actor=demo_company["liuyang"].user,
        delegate=demo_company["zhoujing"],
        starts_on=today,
        ends_on=today + datetime.timedelta(days=1),
    )
    return demo_company


def submitted(people, who: str = "zhangwei") -> tuple[Claim, ApprovalTask]:
    claim = submit(make_claim(people[who], amount=Decimal("120.00")))
    return claim, ApprovalTask.objects.get(claim=claim, status=TaskStatus.PENDING)


# --- The races ------------------------------------------------------------------------------------


def test_fifty_approvals_of_one_task_land_once(people, locking):
    claim, task = submitted(people)
    clients = clients_for(people)
    outcomes = all_at_once([attempt(people, clients, task.pk, n, "approve") for n in range(THREADS)])
    assert outcomes == Counter({DECIDED: 1, CONFLICT: THREADS - 1}), outcomes
    assert assert_one_decision(claim) == TaskStatus.APPROVED


def test_approve_against_reject_lands_one_decision(people, locking):
    claim, task = submitted(people)
    clients = clients_for(people)
    # Four approvals then four rejections, each four from assignee and delegate through API and services.
    actions = ["reject" if (n // 4) % 2 else "approve" for n in range(THREADS)]
    outcomes = all_at_once([attempt(people, clients, task.pk, n, actions[n]) for n in range(THREADS)])
    assert outcomes == Counter({DECIDED: 1, CONFLICT: THREADS - 1}), outcomes
    assert_one_decision(claim)


def test_twenty_claims_decided_at_once_each_land_once(people, locking):
    reports = ["zhangwei", "lina", "wangfang", "zhaolei", "huangyan"]
    pairs = [submitted(people, reports[n % len(reports)]) for n in range(20)]
    clients = clients_for(people)
    # Fifty attempts over twenty claims (two or three each); each round shifts who acts and by which
    # path, and a third of them reject.
    attempts = [
        attempt(people, clients, pairs[n % 20][1].pk, n % 20 + n // 20, "reject" if n % 3 == 0 else "approve")
        for n in range(THREADS)
    ]
    outcomes = all_at_once(attempts)
    assert outcomes == Counter({DECIDED: 20, CONFLICT: THREADS - 20}), outcomes
    decisions = Counter(assert_one_decision(claim) for claim, _task in pairs)
    assert sum(decisions.values()) == 20


# --- What holds without the application's locks ---------------------------------------------------


def test_with_the_switch_on_no_row_is_locked(people, no_row_locks):
    _claim, task = submitted(people)
    with CaptureQueriesContext(connection) as queries:
        services.task_approve(task_id=task.pk, actor=people["liuyang"].user)
    assert not [q for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    # The decision is the conditional UPDATE: it only moves a task that is still pending.
    assert any(
        q["sql"].startswith('UPDATE "approvals_approvaltask"') and "\"status\" = 'pending'" in q["sql"]
        for q in queries.captured_queries
    )


def test_the_switch_is_off_by_default_and_the_locks_are_taken(people):
    from django.conf import settings

    assert settings.BAOXIAO_TEST_DISABLE_ROW_LOCKS is False
    _claim, task = submitted(people)
    locked = locks_taken(lambda: services.task_approve(task_id=task.pk, actor=people["liuyang"].user))
    assert any('FROM "reimbursement_claim"' in sql for sql in locked)
    assert any('FROM "approvals_approvaltask"' in sql for sql in locked)


def test_without_locks_or_connectors_the_conditional_updates_alone_keep_one_decision(people, no_row_locks):
    """With no outbound connector there is no outbox row whose unique (connector, subject, type, seq) could
    collide either: the conditional UPDATEs (task out of ``pending``, claim by status and ``event_seq``) are
    the only guards left, and they are enough. (Before ``_leave_pending``, this run let all 50 approvals
    land: 50 approval.task.decided events for one task.)"""
    Connector.objects.update(enabled=False)
    claim, task = submitted(people)
    clients = clients_for(people)
    outcomes = all_at_once([attempt(people, clients, task.pk, n, "approve") for n in range(THREADS)])
    assert outcomes == Counter({DECIDED: 1, CONFLICT: THREADS - 1}), outcomes
    assert AuditEvent.objects.filter(action="approval.task.decided", target_id=str(claim.pk)).count() == 1
    assert ApprovalTask.objects.filter(claim=claim, status=TaskStatus.APPROVED).count() == 1
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED


def test_without_the_lock_concurrent_submits_land_once_and_the_rest_are_409(people, locking):
    """Fifty concurrent submits of one claim. Without the lock, the claim's conditional UPDATE (by status
    and ``event_seq``, reimbursement/services/transitions.py) turns every loser into a 409; the unique
    active-flow and outbox constraints stay beneath it. (Before that guard the losers hit an
    IntegrityError: a 500 through the API.)"""
    claim = make_claim(people["lina"], amount=Decimal("60.00"))
    user = people["lina"].user
    api = client_for(user)

    def attempt(n: int) -> Callable[[], str]:
        if n % 2:
            return lambda: service_outcome(
                lambda: claims.claim_submit(claim_id=claim.pk, actor=user), lambda _claim: "submitted"
            )

        def by_api() -> str:
            response = api.post(f"/api/v1/claims/{claim.pk}/submit/", {}, format="json")
            return "submitted" if response.status_code == 200 else str(response.status_code)

        return by_api

    outcomes = all_at_once([attempt(n) for n in range(THREADS)])
    # A submit that finds the claim already submitted is a no-op answered 200 (an idempotent click), or a
    # 409 once it has moved on to in_approval.
    assert outcomes["submitted"] >= 1 and set(outcomes) <= {"submitted", CONFLICT}, outcomes
    assert ApprovalFlow.objects.filter(claim=claim).count() == 1
    assert ApprovalFlow.objects.filter(claim=claim, status=FlowStatus.ACTIVE).count() == 1
    assert ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).count() == 1
    assert AuditEvent.objects.filter(action="claim.submitted", target_id=str(claim.pk)).count() == 1
    rows = OutboxEvent.objects.filter(type="com.baoxiao.claim.routed", subject=str(claim.pk))
    assert rows.count() == connectors()
    print(f"\n[{locking}] concurrent submits: {dict(outcomes)}")
