"""Concurrent payment runs on real PostgreSQL: one live payment and one paid transition per claim, every
other attempt a 409 (or a no-op for a repeated "paid"), never a 500.

Each scenario starts 50 threads at one barrier, mixing three finance people, the API and the services.
Then again with the application's locks switched off (``lock_claim`` wherever it is bound, and every
``select_for_update``): the partial unique constraint ``payment_one_live_per_claim`` alone still allows one
live payment per claim, and the conditional UPDATEs in batch_mark_paid still pay each claim once.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from config.errors import ApplicationError, NotFoundError
from oa_bridge.models import Connector, OutboxEvent
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, Payment, PaymentBatch, PaymentBatchStatus, PaymentStatus
from reimbursement.payments import services
from reimbursement.services import transitions
from tests.finance.conftest import approved_claim

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 50
FINANCE = ("sunli", "caihong", "dengyi")
DONE = "done"
NO_OP = "no-op"


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


def client_for(user) -> APIClient:
    client = APIClient()
    client.raise_request_exception = False  # a server error is an answer to count: 500
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _unlocked_claim(claim_id: int) -> Claim:
    """lock_claim without the lock: a plain read."""
    claim = Claim.objects.select_related("claimant", "claimant__department").filter(pk=claim_id).first()
    if claim is None:
        raise NotFoundError("This claim does not exist.")
    return claim


def disable_locks(monkeypatch) -> list[str]:
    """Replace lock_claim wherever the name is bound and make every select_for_update a plain SELECT."""
    original = transitions.lock_claim
    patched = []
    for name, module in list(sys.modules.items()):
        if getattr(module, "lock_claim", None) is original:
            monkeypatch.setattr(module, "lock_claim", _unlocked_claim)
            patched.append(name)
    assert "reimbursement.payments.services" in patched
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, *args, **kwargs: self)
    return patched


@pytest.fixture
def people(with_accounts, settings):
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False
    assert Connector.objects.filter(enabled=True, deliver_events=True).exists()
    return with_accounts


@pytest.fixture(params=["app lock", "database only"])
def locking(request, monkeypatch):
    if request.param == "database only":
        disable_locks(monkeypatch)
    return request.param


def approved_claims(people, count: int = 3) -> list[Claim]:
    names = ["zhangwei", "lina", "wangfang", "zhaolei"]
    return [approved_claim(people[names[n % len(names)]], f"{100 + n}.00") for n in range(count)]


def connectors() -> int:
    return Connector.objects.filter(enabled=True, deliver_events=True).count()


def assert_one_transition(claim: Claim, action: str, outbox_type: str) -> None:
    assert AuditEvent.objects.filter(action=action, target_id=str(claim.pk)).count() == 1
    rows = OutboxEvent.objects.filter(type=f"com.baoxiao.{outbox_type}", subject=str(claim.pk))
    assert rows.count() == connectors()


# --- Batching the same claims ---------------------------------------------------------------------


def create_attempt(people, clients, claim_ids: list[int], n: int) -> Callable[[], str]:
    user = people[FINANCE[n % len(FINANCE)]].user
    if n % 2 == 0:

        def by_api() -> str:
            response = clients[user.pk].post("/api/v1/finance/batches/", {"claims": claim_ids})
            return DONE if response.status_code == 201 else str(response.status_code)

        return by_api

    def by_service() -> str:
        try:
            services.batch_create(actor=user, claim_ids=claim_ids)
        except ApplicationError as exc:
            return str(exc.status)
        except IntegrityError:
            return "500 IntegrityError"
        return DONE

    return by_service


def test_fifty_batches_of_the_same_claims_make_one(people, locking):
    claims = approved_claims(people)
    clients = {people[name].user.pk: client_for(people[name].user) for name in FINANCE}
    ids = [c.pk for c in claims]
    outcomes = all_at_once([create_attempt(people, clients, ids, n) for n in range(THREADS)])
    assert outcomes == Counter({DONE: 1, "409": THREADS - 1}), outcomes
    assert PaymentBatch.objects.count() == 1
    for claim in claims:
        assert Payment.objects.filter(claim=claim, status__in=["pending", "paid"]).count() == 1
        assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.PAYING
        assert_one_transition(claim, "claim.payment_started", "claim.payment_started")
    print(f"\n[{locking}] concurrent batches of the same claims: {dict(outcomes)}")


def test_overlapping_selections_give_each_claim_one_live_payment(people, locking):
    """Threads pick different but overlapping pairs of five claims: whatever lands, no claim is in two."""
    claims = approved_claims(people, 5)
    clients = {people[name].user.pk: client_for(people[name].user) for name in FINANCE}
    pairs = [[claims[n % 5].pk, claims[(n + 1) % 5].pk] for n in range(THREADS)]
    outcomes = all_at_once([create_attempt(people, clients, pairs[n], n) for n in range(THREADS)])
    assert set(outcomes) <= {DONE, "409"}, outcomes
    assert 1 <= outcomes[DONE] <= 2  # at most two disjoint pairs fit in five claims
    live = Counter(Payment.objects.filter(status__in=["pending", "paid"]).values_list("claim_id", flat=True))
    assert set(live.values()) == {1}
    assert Claim.objects.filter(pk__in=live, status=ClaimStatus.PAYING).count() == len(live)
    assert Claim.objects.exclude(pk__in=live).filter(status=ClaimStatus.APPROVED).count() == 5 - len(live)
    assert sum(b.payment_count for b in PaymentBatch.objects.all()) == len(live)
    print(f"\n[{locking}] overlapping selections: {dict(outcomes)}")


# --- Marking the same batch paid ------------------------------------------------------------------


def test_fifty_marks_paid_pay_each_claim_once(people, locking):
    claims = approved_claims(people)
    finance = people["sunli"].user
    batch = services.batch_create(actor=finance, claim_ids=[c.pk for c in claims])
    services.batch_export_bank_file(batch_id=batch.pk, actor=finance)
    clients = {people[name].user.pk: client_for(people[name].user) for name in FINANCE}
    today = timezone.localdate()

    def attempt(n: int) -> Callable[[], str]:
        user = people[FINANCE[n % len(FINANCE)]].user
        reference = "ICBC-A" if n % 5 else "ICBC-B"  # a few disagree about the reference

        def by_api() -> str:
            body = {"reference": reference, "paid_on": today.isoformat()}
            response = clients[user.pk].post(f"/api/v1/finance/batches/{batch.pk}/mark-paid/", body)
            if response.status_code == 200:
                return DONE if response.json()["newly_paid"] else NO_OP
            return str(response.status_code)

        def by_service() -> str:
            try:
                done = services.batch_mark_paid(batch_id=batch.pk, actor=user, reference=reference, paid_on=today)
            except ApplicationError as exc:
                return str(exc.status)
            except IntegrityError:
                return "500 IntegrityError"
            return DONE if done.newly_paid else NO_OP

        return by_api if n % 2 == 0 else by_service

    outcomes = all_at_once([attempt(n) for n in range(THREADS)])
    assert outcomes[DONE] == 1 and set(outcomes) <= {DONE, NO_OP, "409"}, outcomes
    batch.refresh_from_db()
    assert batch.status == PaymentBatchStatus.PAID
    winners_reference_count = 40 if batch.paid_reference == "ICBC-A" else 10
    assert outcomes[NO_OP] == winners_reference_count - 1 and outcomes["409"] == THREADS - winners_reference_count
    for claim in claims:
        assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.PAID
        assert Payment.objects.get(claim=claim).status == PaymentStatus.PAID
        assert_one_transition(claim, "claim.paid", "claim.paid")
        assert AuditEvent.objects.get(action="claim.paid", target_id=str(claim.pk)).data["reference"] == (
            batch.paid_reference
        )
    assert AuditEvent.objects.filter(action="payment_batch.paid", target_id=str(batch.pk)).count() == 1
    print(f"\n[{locking}] concurrent marks paid: {dict(outcomes)}")


def test_failing_and_paying_at_once_never_both_land(people, locking):
    """Half the threads fail the one payment, half mark the batch paid: the payment ends paid or failed,
    with the claim paid or back in the queue to match, and one transition."""
    [claim] = approved_claims(people, 1)
    finance = people["sunli"].user
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    services.batch_export_bank_file(batch_id=batch.pk, actor=finance)
    payment = batch.payments.get()
    today = timezone.localdate()

    def attempt(n: int) -> Callable[[], str]:
        user = people[FINANCE[n % len(FINANCE)]].user

        def run() -> str:
            try:
                if n % 2:
                    services.payment_mark_failed(payment_id=payment.pk, actor=user, reason="Account closed")
                    return "failed"
                done = services.batch_mark_paid(batch_id=batch.pk, actor=user, reference="R", paid_on=today)
                return "paid" if done.newly_paid else NO_OP
            except ApplicationError as exc:
                return str(exc.status)
            except IntegrityError:
                return "500 IntegrityError"

        return run

    outcomes = all_at_once([attempt(n) for n in range(THREADS)])
    assert not any(o.startswith(("500", "raised")) for o in outcomes), outcomes
    payment.refresh_from_db()
    claim.refresh_from_db()
    if payment.status == PaymentStatus.PAID:
        assert claim.status == ClaimStatus.PAID and outcomes["paid"] == 1 and outcomes["failed"] == 0
        assert not AuditEvent.objects.filter(action="claim.payment_failed", target_id=str(claim.pk)).exists()
    else:
        assert payment.status == PaymentStatus.FAILED and claim.status == ClaimStatus.APPROVED
        assert outcomes["paid"] == 0 and outcomes["failed"] >= 1
        assert AuditEvent.objects.filter(action="claim.payment_failed", target_id=str(claim.pk)).count() == 1
        assert not AuditEvent.objects.filter(action="claim.paid", target_id=str(claim.pk)).exists()
    print(f"\n[{locking}] fail against paid: {dict(outcomes)} -> {payment.status}")


def test_with_the_locks_disabled_no_row_is_locked(people, monkeypatch):
    from django.test.utils import CaptureQueriesContext

    [claim] = approved_claims(people, 1)
    disable_locks(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        services.batch_create(actor=people["sunli"].user, claim_ids=[claim.pk])
    assert "FOR UPDATE" not in " ".join(q["sql"] for q in queries.captured_queries)


def test_the_database_alone_refuses_a_second_live_payment(people):
    [claim] = approved_claims(people, 1)
    batch = services.batch_create(actor=people["sunli"].user, claim_ids=[claim.pk])
    payment = batch.payments.get()
    with pytest.raises(IntegrityError, match="payment_one_live_per_claim"):
        Payment.objects.create(
            batch=batch,
            claim=claim,
            payee=payment.payee,
            amount=payment.amount,
            currency="CNY",
            account_last4="0000",
            account_index="x",
        )
