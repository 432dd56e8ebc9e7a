"""Concurrent decisions on real PostgreSQL: exactly one lands, every other attempt is a 409, none a 500.

Each scenario starts 50 threads at one barrier, mixing the assignee and a delegate, the API and the
services. Then the same again with the application's locks switched off (``lock_claim`` and every
``select_for_update``), to show what the database alone still guarantees: the conditional UPDATE that
takes a task out of ``pending`` (approvals/services/tasks.py, ``_leave_pending``) keeps one decision per
task, and the unique constraints on flows and outbox rows keep one submission per claim.
"""

from __future__ import annotations

import datetime
import sys
import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from approvals import services
from approvals.choices import DECIDED_TASK_STATUSES, FlowStatus, TaskStatus
from approvals.models import ApprovalFlow, ApprovalTask
from audit.models import AuditEvent
from config.errors import ApplicationError, NotFoundError
from oa_bridge.models import Connector, OutboxEvent
from reimbursement import services as claims
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim
from reimbursement.services import transitions
from tests.reimbursement.factories import make_claim, submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 50
TASKS = "/api/v1/approval-tasks/"
DECIDED = "decided"
CONFLICT = "409"


# --- Harness --------------------------------------------------------------------------------------


def all_at_once(attempts: list[Callable[[], str]]) -> Counter:
    """Run each attempt in its own thread, all released by one barrier; count what they answered."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = [""] * len(attempts)

    def run(index: int, attempt: Callable[[], str]) -> None:
        try:
            barrier.wait(timeout=60)
            outcomes[index] = attempt()
        except Exception as exc:  # anything unexpected is counted, never lost in a thread
            outcomes[index] = f"raised {type(exc).__name__}: {exc}"[:200]
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return Counter(outcomes)


def client_for(employee) -> APIClient:
    """Made before the threads start (the token too), so they only race on the decision."""
    client = APIClient()
    client.raise_request_exception = False  # a server error is an answer to count: 500
    token, _ = Token.objects.get_or_create(user=employee.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def by_api(client: APIClient, task_id: int, action: str) -> Callable[[], str]:
    body = {"reason": "Not a business expense"} if action == "reject" else {"comment": "OK"}

    def attempt() -> str:
        response = client.post(f"{TASKS}{task_id}/{action}/", body)
        return DECIDED if response.status_code == 200 else str(response.status_code)

    return attempt


def by_service(user, task_id: int, action: str) -> Callable[[], str]:
    def attempt() -> str:
        try:
            if action == "reject":
                services.task_reject(task_id=task_id, actor=user, reason="Not a business expense")
            else:
                services.task_approve(task_id=task_id, actor=user, comment="OK")
        except ApplicationError as exc:
            return str(exc.status)
        except IntegrityError:
            return "500 IntegrityError"  # what the API would answer
        return DECIDED

    return attempt


def clients_for(people) -> dict[int, APIClient]:
    return {e.pk: client_for(e) for e in (people["liuyang"], people["zhoujing"])}


def attempt(people, clients: dict[int, APIClient], task_id: int, n: int, action: str) -> Callable[[], str]:
    """The n-th attempt: the assignee or the delegate (alternately), through the API or the services."""
    who = people["liuyang"] if n % 2 == 0 else people["zhoujing"]
    if (n // 2) % 2 == 0:
        return by_api(clients[who.pk], task_id, action)
    return by_service(who.user, task_id, action)


def connectors() -> int:
    return Connector.objects.filter(enabled=True, deliver_events=True).count()


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


@pytest.fixture(params=["app lock", "database only"])
def locking(request, monkeypatch):
    """Run with the application's locks, and again with them disabled."""
    if request.param == "database only":
        disable_locks(monkeypatch)
    return request.param


def _unlocked_claim(claim_id: int) -> Claim:
    """lock_claim without the lock: a plain read."""
    claim = Claim.objects.select_related("claimant", "claimant__department").filter(pk=claim_id).first()
    if claim is None:
        raise NotFoundError("This claim does not exist.")
    return claim


def disable_locks(monkeypatch) -> list[str]:
    """Replace lock_claim wherever the name is bound (approvals imports it from reimbursement.services)
    and make every select_for_update a plain SELECT, so no row lock is taken anywhere."""
    original = transitions.lock_claim
    patched = []
    for name, module in list(sys.modules.items()):
        if getattr(module, "lock_claim", None) is original:
            monkeypatch.setattr(module, "lock_claim", _unlocked_claim)
            patched.append(name)
    assert {"approvals.services.tasks", "reimbursement.services", "reimbursement.services.transitions"} <= set(patched)
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, *args, **kwargs: self)
    return patched


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


def test_with_the_locks_disabled_no_row_is_locked(people, monkeypatch):
    _claim, task = submitted(people)
    disable_locks(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        services.task_approve(task_id=task.pk, actor=people["liuyang"].user)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "FOR UPDATE" not in sql
    # The decision is the conditional UPDATE: it only moves a task that is still pending.
    assert any(
        q["sql"].startswith('UPDATE "approvals_approvaltask"') and "\"status\" = 'pending'" in q["sql"]
        for q in queries.captured_queries
    )


def test_without_locks_or_connectors_the_conditional_update_alone_keeps_one_decision(people, monkeypatch):
    """With no outbound connector there is no outbox row whose unique (connector, subject, type, seq) could
    collide either: the conditional UPDATE is the only guard left, and it is enough. (Before it was added,
    this run let all 50 approvals land: 50 approval.task.decided events for one task.)"""
    Connector.objects.update(enabled=False)
    claim, task = submitted(people)
    disable_locks(monkeypatch)
    clients = clients_for(people)
    outcomes = all_at_once([attempt(people, clients, task.pk, n, "approve") for n in range(THREADS)])
    assert outcomes == Counter({DECIDED: 1, CONFLICT: THREADS - 1}), outcomes
    assert AuditEvent.objects.filter(action="approval.task.decided", target_id=str(claim.pk)).count() == 1
    assert ApprovalTask.objects.filter(claim=claim, status=TaskStatus.APPROVED).count() == 1
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED


def test_without_the_lock_the_flow_constraints_still_allow_one_submission(people, monkeypatch):
    """Twenty concurrent submits of one claim with no lock: the unique active-flow and one-flow-per-submission
    constraints (and the outbox's one-row-per-seq) let exactly one submission land. The losers get an
    IntegrityError, which the API would answer with 500: the lock is what turns them into no-ops."""
    claim = make_claim(people["lina"], amount=Decimal("60.00"))
    disable_locks(monkeypatch)

    def attempt() -> str:
        try:
            claims.claim_submit(claim_id=claim.pk, actor=people["lina"].user)
        except ApplicationError as exc:
            return str(exc.status)
        except IntegrityError:
            return "IntegrityError"
        return "submitted"

    outcomes = all_at_once([attempt] * 20)
    assert outcomes["submitted"] >= 1 and set(outcomes) <= {"submitted", "409", "IntegrityError"}, outcomes
    assert ApprovalFlow.objects.filter(claim=claim).count() == 1
    assert ApprovalFlow.objects.filter(claim=claim, status=FlowStatus.ACTIVE).count() == 1
    assert ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).count() == 1
    rows = OutboxEvent.objects.filter(type="com.baoxiao.claim.routed", subject=str(claim.pk))
    assert rows.count() == connectors()
    print(f"\nconcurrent submits without the lock: {dict(outcomes)}")
