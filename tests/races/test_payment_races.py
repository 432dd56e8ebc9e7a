"""Concurrent payment runs on real PostgreSQL: one live payment and one paid transition per claim, every
other attempt a 409 (or a no-op for a repeated "paid"), never a 500.

Each scenario starts 50 threads at one barrier, mixing three finance people, the API and the services.
Then again with the application's row locks switched off (settings.BAOXIAO_TEST_DISABLE_ROW_LOCKS:
``lock_claim``, the batch and payment locks): the partial unique constraint ``payment_one_live_per_claim``
alone still allows one live payment per claim, and the conditional UPDATEs in batch_mark_paid still pay each claim once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from django.db import IntegrityError
from django.utils import timezone

from audit.models import AuditEvent
from oa_bridge.models import OutboxEvent
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, PayeeAccount, Payment, PaymentBatch, PaymentBatchStatus, PaymentStatus
from reimbursement.payments import services
from tests.finance.conftest import ACCOUNTS, approved_claim, bank_account
from tests.races.conftest import connectors, locks_taken
from tests.races.harness import THREADS, all_at_once, client_for, service_outcome

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FINANCE = ("sunli", "caihong", "dengyi")
DONE = "done"
NO_OP = "no-op"


@pytest.fixture
def people(demo_company, settings):
    """The demo company with the finance fixtures' bank accounts (tests/finance/conftest.py)."""
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False  # outbox rows are what we count; nothing is sent
    assert connectors() >= 1
    PayeeAccount.objects.all().delete()
    for username in ACCOUNTS:
        bank_account(demo_company[username])
    return demo_company


def approved_claims(people, count: int = 3) -> list[Claim]:
    names = ["zhangwei", "lina", "wangfang", "zhaolei"]
    return [approved_claim(people[names[n % len(names)]], f"{100 + n}.00") for n in range(count)]


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
        return service_outcome(lambda: services.batch_create(actor=user, claim_ids=claim_ids), lambda _batch: DONE)

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
            return service_outcome(
                lambda: services.batch_mark_paid(batch_id=batch.pk, actor=user, reference=reference, paid_on=today),
                lambda done: DONE if done.newly_paid else NO_OP,
            )

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
            if n % 2:
                return service_outcome(
                    lambda: services.payment_mark_failed(payment_id=payment.pk, actor=user, reason="Account closed"),
                    lambda _payment: "failed",
                )
            return service_outcome(
                lambda: services.batch_mark_paid(batch_id=batch.pk, actor=user, reference="R", paid_on=today),
                lambda done: "paid" if done.newly_paid else NO_OP,
            )

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


def test_with_the_switch_on_no_row_is_locked(people, no_row_locks):
    [claim] = approved_claims(people, 1)
    finance = people["sunli"].user
    batch = None

    def pay() -> None:
        nonlocal batch
        batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
        services.batch_export_bank_file(batch_id=batch.pk, actor=finance)
        services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="R", paid_on=timezone.localdate())

    assert locks_taken(pay) == []
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.PAID


def test_the_switch_is_off_by_default_and_the_locks_are_taken(people):
    [claim] = approved_claims(people, 1)
    locked = locks_taken(lambda: services.batch_create(actor=people["sunli"].user, claim_ids=[claim.pk]))
    assert any('FROM "reimbursement_claim"' in sql for sql in locked)


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
