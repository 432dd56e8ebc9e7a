"""The payment run through the services: batch, bank file, paid, failed, void, and every refusal."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from config.errors import ApplicationError, ConflictError, NotFoundError
from oa_bridge.models import OutboxEvent
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, PayeeAccount, Payment, PaymentBatch, PaymentBatchStatus, PaymentStatus
from reimbursement.payments import services
from reimbursement.payments.exports import BANK_FILE_COLUMNS
from reimbursement.selectors import claims_visible_to
from tests.finance.conftest import ACCOUNTS, approved_claim, bank_account
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today


def rows_of(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def outbox_types(claim: Claim) -> list[str]:
    rows = OutboxEvent.objects.filter(subject=str(claim.pk)).order_by("seq", "id")
    return [r.type.removeprefix("com.baoxiao.") for r in rows]


def people_finance(people):
    """A second finance person."""
    return people["caihong"].user


def test_the_whole_payment_run(with_accounts, finance):
    people = with_accounts
    a1 = approved_claim(people["zhangwei"], "120.00")
    a2 = approved_claim(people["zhangwei"], "80.50")
    b1 = approved_claim(people["lina"], "300.00")
    batch = services.batch_create(actor=finance, claim_ids=[a1.pk, a2.pk, b1.pk], note="November")
    assert batch.number.startswith("PAY-") and batch.status == PaymentBatchStatus.OPEN
    assert batch.total_amount == Decimal("500.50") and batch.payment_count == 3
    for claim in (a1, a2, b1):
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.PAYING
        assert outbox_types(claim)[-1] == "claim.payment_started"

    exported = services.batch_export_bank_file(batch_id=batch.pk, actor=finance)
    rows = rows_of(exported.content)
    # One row per payee: Zhang Wei's two claims are one transfer of their sum.
    by_employee = {r["employee_no"]: r for r in rows}
    assert len(rows) == 2 and exported.row_count == 2
    zhang = by_employee[people["zhangwei"].employee_no]
    assert zhang["amount"] == "200.50" and zhang["claim_count"] == "2"
    assert zhang["claim_numbers"] == f"{a1.number};{a2.number}"
    assert zhang["account_number"] == ACCOUNTS["zhangwei"] and zhang["currency"] == "CNY"
    assert zhang["payee_name"] == people["zhangwei"].name and zhang["bank_name"] == "中国工商银行"
    assert by_employee[people["lina"].employee_no]["amount"] == "300.00"
    assert sum(Decimal(r["amount"]) for r in rows) == batch.total_amount == exported.total
    assert list(rows[0]) == BANK_FILE_COLUMNS

    # The export is audited, with the file's digest; the clear number is in no audit, outbox or batch row.
    event = AuditEvent.objects.get(action="payment_batch.exported", target_id=str(batch.pk))
    assert event.actor == finance and event.data["rows"] == 2 and len(event.data["sha256"]) == 64
    for number in ACCOUNTS.values():
        assert not AuditEvent.objects.filter(data__icontains=number).exists()
        assert not OutboxEvent.objects.filter(data__icontains=number).exists()
        assert not PayeeAccount.objects.filter(account_number_encrypted__contains=number).exists()
    assert ACCOUNTS["zhangwei"] not in str(list(Payment.objects.values()))

    done = services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="ICBC-20261128-01", paid_on=TODAY())
    assert done.newly_paid == 3 and done.batch.status == PaymentBatchStatus.PAID
    for claim in (a1, a2, b1):
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.PAID and claim.paid_at is not None
        assert outbox_types(claim)[-2:] == ["claim.payment_started", "claim.paid"]
        paid = AuditEvent.objects.get(action="claim.paid", target_id=str(claim.pk))
        assert paid.data["reference"] == "ICBC-20261128-01" and paid.data["batch"] == batch.number
    assert set(Payment.objects.filter(batch=batch).values_list("status", flat=True)) == {PaymentStatus.PAID}
    assert AuditEvent.objects.filter(action="payment_batch.paid", target_id=str(batch.pk)).count() == 1


def test_marking_paid_twice_changes_nothing(with_accounts, finance):
    claim = approved_claim(with_accounts["zhangwei"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    services.batch_export_bank_file(batch_id=batch.pk, actor=finance)
    services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="REF-1", paid_on=TODAY())
    seq = Claim.objects.get(pk=claim.pk).event_seq
    events, outbox = AuditEvent.objects.count(), OutboxEvent.objects.count()

    again = services.batch_mark_paid(
        batch_id=batch.pk, actor=people_finance(with_accounts), reference="REF-1", paid_on=TODAY()
    )
    assert again.newly_paid == 0
    assert Claim.objects.get(pk=claim.pk).event_seq == seq
    assert (AuditEvent.objects.count(), OutboxEvent.objects.count()) == (events, outbox)
    with pytest.raises(ConflictError, match="REF-1") as error:
        services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="REF-2", paid_on=TODAY())
    assert error.value.code == "already_paid"
    assert PaymentBatch.objects.get(pk=batch.pk).paid_reference == "REF-1"
    # A paid batch's file can no longer be exported (it would pay twice).
    with pytest.raises(ConflictError, match="no longer be exported"):
        services.batch_export_bank_file(batch_id=batch.pk, actor=finance)


def test_a_failed_payment_returns_its_claim_to_the_queue_and_the_batch_shows_it(with_accounts, finance):
    people = with_accounts
    good = approved_claim(people["zhangwei"], "100.00")
    bad = approved_claim(people["lina"], "200.00")
    batch = services.batch_create(actor=finance, claim_ids=[good.pk, bad.pk])
    payment = Payment.objects.get(batch=batch, claim=bad)
    with pytest.raises(ApplicationError) as error:
        services.payment_mark_failed(payment_id=payment.pk, actor=finance, reason="  ")
    assert "reason" in error.value.fields

    services.payment_mark_failed(payment_id=payment.pk, actor=finance, reason="Account closed")
    payment.refresh_from_db()
    bad.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_reason == "Account closed"
    assert bad.status == ClaimStatus.APPROVED
    assert outbox_types(bad)[-1] == "claim.payment_failed"
    event = AuditEvent.objects.filter(action="claim.payment_failed", target_id=str(bad.pk)).get()
    assert event.data["reason"] == "Account closed" and event.data["batch"] == batch.number
    from reimbursement.payments.selectors import payment_queue

    [queued] = payment_queue(finance)
    assert queued.pk == bad.pk and queued.last_failure == "Account closed" and queued.last_failed_batch == batch.number
    # Failing it again is a no-op; the batch goes on with the rest.
    services.payment_mark_failed(payment_id=payment.pk, actor=finance, reason="Again")
    assert Payment.objects.get(pk=payment.pk).failure_reason == "Account closed"
    exported = services.batch_export_bank_file(batch_id=batch.pk, actor=finance)
    assert [r["claim_numbers"] for r in rows_of(exported.content)] == [good.number]
    done = services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="R", paid_on=TODAY())
    assert done.newly_paid == 1
    assert Claim.objects.get(pk=bad.pk).status == ClaimStatus.APPROVED
    # A paid payment cannot fail any more.
    with pytest.raises(ConflictError, match="already marked paid"):
        services.payment_mark_failed(payment_id=Payment.objects.get(claim=good).pk, actor=finance, reason="Too late")
    # And the failed claim can be batched again: a new live payment beside the failed one.
    second = services.batch_create(actor=finance, claim_ids=[bad.pk])
    assert Payment.objects.filter(claim=bad).count() == 2
    assert Payment.objects.get(claim=bad, status=PaymentStatus.PENDING).batch == second


def test_a_batch_whose_every_payment_failed_is_failed(with_accounts, finance):
    claim = approved_claim(with_accounts["zhangwei"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    services.payment_mark_failed(payment_id=batch.payments.get().pk, actor=finance, reason="Name mismatch")
    assert PaymentBatch.objects.get(pk=batch.pk).status == PaymentBatchStatus.FAILED
    with pytest.raises(ConflictError):
        services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="R", paid_on=TODAY())


def test_finance_voids_a_claim_with_a_reason(with_accounts, finance):
    claim = approved_claim(with_accounts["zhangwei"])
    with pytest.raises(ApplicationError) as error:
        services.claim_void(claim_id=claim.pk, actor=finance, reason="")
    assert "reason" in error.value.fields
    services.claim_void(claim_id=claim.pk, actor=finance, reason="Duplicate of a paper claim")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.VOIDED
    assert AuditEvent.objects.get(action="claim.voided", target_id=str(claim.pk)).data["reason"] == (
        "Duplicate of a paper claim"
    )
    assert outbox_types(claim)[-1] == "claim.voided"
    seq = claim.event_seq
    services.claim_void(claim_id=claim.pk, actor=finance, reason="Again")  # no-op
    assert Claim.objects.get(pk=claim.pk).event_seq == seq
    with pytest.raises(ConflictError):
        services.batch_create(actor=finance, claim_ids=[claim.pk])


def test_a_claim_in_approval_can_be_voided_and_its_tasks_close(people, finance):
    claim = submit(make_claim(people["zhangwei"]))
    services.claim_void(claim_id=claim.pk, actor=finance, reason="Left the company")
    from approvals.models import ApprovalTask

    assert not ApprovalTask.objects.filter(claim=claim, status="pending").exists()


def test_a_claim_being_paid_cannot_be_voided_before_its_payment_failed(with_accounts, finance):
    claim = approved_claim(with_accounts["zhangwei"])
    services.batch_create(actor=finance, claim_ids=[claim.pk])
    with pytest.raises(ConflictError, match="failed first"):
        services.claim_void(claim_id=claim.pk, actor=finance, reason="Wrong")


# --- Bad input ------------------------------------------------------------------------------------


def assert_nothing_done(*claims):
    assert not PaymentBatch.objects.exists() and not Payment.objects.exists()
    for claim in claims:
        assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED


def test_an_empty_selection_is_refused(with_accounts, finance):
    with pytest.raises(ApplicationError, match="at least one claim") as error:
        services.batch_create(actor=finance, claim_ids=[])
    assert error.value.code == "empty_selection"
    assert_nothing_done()


def test_mixed_currencies_are_refused_with_a_clear_message(with_accounts, finance):
    cny = approved_claim(with_accounts["zhangwei"])
    usd = approved_claim(with_accounts["lina"])
    Claim.objects.filter(pk=usd.pk).update(base_currency="USD")  # a subsidiary booking in dollars
    with pytest.raises(ApplicationError, match="CNY, USD; a batch pays in one currency") as error:
        services.batch_create(actor=finance, claim_ids=[cny.pk, usd.pk])
    assert error.value.code == "mixed_currencies"
    assert_nothing_done(cny, usd)


def test_a_claim_another_batch_took_is_refused_by_name(with_accounts, finance):
    first = approved_claim(with_accounts["zhangwei"])
    other = approved_claim(with_accounts["lina"])
    taken = services.batch_create(actor=people_finance(with_accounts), claim_ids=[first.pk])
    with pytest.raises(ConflictError) as error:
        services.batch_create(actor=finance, claim_ids=[first.pk, other.pk])
    assert first.number in error.value.message and taken.number in error.value.message
    assert error.value.status == 409
    assert Claim.objects.get(pk=other.pk).status == ClaimStatus.APPROVED
    assert PaymentBatch.objects.count() == 1


def test_the_constraint_refuses_a_second_live_payment_and_the_service_names_the_claim(with_accounts, finance):
    claim = approved_claim(with_accounts["zhangwei"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    payment = batch.payments.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            batch=batch, claim=claim, payee=payment.payee, amount=1, currency="CNY", account_last4="1", account_index=""
        )
    # A failed payment is not live: another one may follow.
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.FAILED)
    Payment.objects.create(
        batch=batch, claim=claim, payee=payment.payee, amount=1, currency="CNY", account_last4="1", account_index=""
    )


def test_an_employee_without_a_bank_account_is_named(people, finance):
    bank_account(people["zhangwei"])
    ok = approved_claim(people["zhangwei"])
    missing = approved_claim(people["wangfang"])
    with pytest.raises(ApplicationError) as error:
        services.batch_create(actor=finance, claim_ids=[ok.pk, missing.pk])
    assert error.value.code == "no_payee_account" and people["wangfang"].name in error.value.message
    assert people["zhangwei"].name not in error.value.message
    assert_nothing_done(ok, missing)


def test_claims_that_are_not_approved_are_refused(with_accounts, finance):
    in_approval = submit(make_claim(with_accounts["zhangwei"]))
    with pytest.raises(ConflictError, match="in approval"):
        services.batch_create(actor=finance, claim_ids=[in_approval.pk])


def test_others_drafts_do_not_exist_for_finance(people, finance):
    draft = make_claim(people["zhangwei"])
    submitted = submit(make_claim(people["lina"]))
    visible = set(claims_visible_to(finance).values_list("pk", flat=True))
    assert submitted.pk in visible and draft.pk not in visible
    with pytest.raises(NotFoundError):
        services.batch_create(actor=finance, claim_ids=[draft.pk])
    with pytest.raises(NotFoundError):
        services.claim_void(claim_id=draft.pk, actor=finance, reason="x")


def test_a_payee_account_changed_after_batching_blocks_the_export(with_accounts, finance):
    claim = approved_claim(with_accounts["zhangwei"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    bank_account(with_accounts["zhangwei"], number="6222999988887777")
    with pytest.raises(ConflictError, match="changed after this batch") as error:
        services.batch_export_bank_file(batch_id=batch.pk, actor=finance)
    assert with_accounts["zhangwei"].name in error.value.message
    assert not AuditEvent.objects.filter(action="payment_batch.exported").exists()


def test_marking_paid_needs_a_reference_a_past_date_and_an_exported_file(with_accounts, finance):
    claim = approved_claim(with_accounts["zhangwei"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    with pytest.raises(ApplicationError) as error:
        services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference=" ", paid_on=TODAY())
    assert "reference" in error.value.fields
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(ApplicationError) as error:
        services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="R", paid_on=tomorrow)
    assert "paid_on" in error.value.fields
    with pytest.raises(ConflictError, match="Export the bank file"):
        services.batch_mark_paid(batch_id=batch.pk, actor=finance, reference="R", paid_on=TODAY())
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.PAYING


def test_nobody_but_finance_may_do_any_of_it(with_accounts):
    claim = approved_claim(with_accounts["zhangwei"])
    for username in ("zhangwei", "liuyang", "admin"):
        user = with_accounts[username].user if username in with_accounts else None
        if user is None:
            continue
        with pytest.raises(NotFoundError):
            services.batch_create(actor=user, claim_ids=[claim.pk])
        with pytest.raises(NotFoundError):
            services.claim_void(claim_id=claim.pk, actor=user, reason="x")
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED
