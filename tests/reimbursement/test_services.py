"""Claim services: create, edit, submit, withdraw, and what each refuses."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from config.errors import ApplicationError, ConflictError, NotFoundError
from oa_bridge.models import OutboxEvent
from reimbursement import services
from reimbursement.choices import ClaimStatus
from reimbursement.errors import JustificationMissing, PolicyBlocked
from reimbursement.models import Claim, ClaimLine, InvoiceRegistration, PolicyWarning
from reimbursement.policy import evaluate_claim
from tests.reimbursement.factories import add_line, line_input, make_claim, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def zhang(demo_company):
    return demo_company["zhangwei"]


def state(claim):
    """Everything a failed action must leave untouched."""
    claim = Claim.objects.get(pk=claim.pk)
    lines = list(ClaimLine.objects.filter(claim=claim).order_by("id").values())
    return claim.status, claim.total_amount, claim.event_seq, lines, InvoiceRegistration.objects.count()


def test_a_new_claim_gets_a_readable_number_and_its_total_follows_the_lines(zhang):
    claim = make_claim(zhang, lines=2, amount=Decimal("10.50"))
    assert claim.number == f"BX-{timezone.now():%Y}-{claim.pk:06d}"
    assert claim.total_amount == Decimal("21.00")
    line = claim.lines.first()
    services.line_update(line_id=line.pk, actor=zhang.user, data=line_input(amount="100.00"))
    claim.refresh_from_db()
    assert claim.total_amount == Decimal("110.50")
    services.line_remove(line_id=line.pk, actor=zhang.user)
    claim.refresh_from_db()
    assert claim.total_amount == Decimal("10.50")
    assert list(claim.lines.values_list("position", flat=True)) == [1]


def test_a_foreign_line_takes_the_rate_of_its_date_and_stores_the_base_amount(zhang):
    from reimbursement.models import FxRate

    day = timezone.localdate() - datetime.timedelta(days=5)
    rate = FxRate.objects.get(currency="USD", date=day).rate
    claim = make_claim(zhang, lines=0)
    line = add_line(claim, currency="USD", amount="100.00", expense_date=day)
    assert line.fx_rate == rate
    assert line.base_amount == (Decimal("100.00") * rate).quantize(Decimal("0.01"))
    assert line.fx_rate_source == "table"


def test_a_manual_rate_needs_a_reason_and_is_audited(zhang):
    claim = make_claim(zhang, lines=0)
    with pytest.raises(ApplicationError) as error:
        add_line(claim, currency="USD", fx_rate="7.00")
    assert "fx_override_reason" in error.value.fields
    line = add_line(claim, currency="USD", amount="10.00", fx_rate="7.00", fx_override_reason="Card statement rate")
    assert (line.fx_rate, line.base_amount, line.fx_rate_source) == (Decimal("7"), Decimal("70.00"), "manual")
    event = AuditEvent.objects.get(action="claim.line.fx_overridden")
    assert event.data["reason"] == "Card statement rate" and event.actor == zhang.user


def test_a_currency_without_a_rate_is_refused_with_a_way_out(zhang, settings):
    settings.BAOXIAO_CURRENCIES = [*settings.BAOXIAO_CURRENCIES, "CHF"]
    claim = make_claim(zhang, lines=0)
    with pytest.raises(ApplicationError) as error:
        add_line(claim, currency="CHF")
    assert "ask finance" in error.value.fields["currency"][0]


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"expense_date": timezone.localdate() + datetime.timedelta(days=1)}, "expense_date"),
        ({"expense_date": timezone.localdate() - datetime.timedelta(days=400)}, "expense_date"),
        ({"currency": "XYZ"}, "currency"),
        ({"category_id": 999999}, "category"),
        ({"invoice_kind": "vat_digital", "invoice_number": "123"}, "invoice_number"),
        ({"invoice_kind": "vat_special", "invoice_code": "12", "invoice_number": "12345678"}, "invoice_code"),
        ({"invoice_kind": "receipt", "seller_tax_id": "not-an-id"}, "seller_tax_id"),
        ({"tax_amount": "500", "amount": "100"}, "tax_amount"),
    ],
)
def test_bad_line_input_names_the_field_and_changes_nothing(zhang, overrides, field):
    claim = make_claim(zhang, lines=1)
    before = state(claim)
    with pytest.raises(ApplicationError) as error:
        add_line(claim, **overrides)
    assert field in error.value.fields
    with pytest.raises(ApplicationError):
        services.line_update(line_id=claim.lines.first().pk, actor=zhang.user, data=line_input(**overrides))
    assert state(claim) == before


def test_submit_freezes_department_writes_audit_and_one_outbox_event(zhang):
    claim = make_claim(zhang, lines=2)
    claim = services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    assert claim.status == ClaimStatus.IN_APPROVAL  # routed at once by the demo rules
    assert claim.department == zhang.department and claim.department_name == zhang.department.name
    assert claim.submission_count == 1
    assert AuditEvent.objects.filter(action="claim.submitted", target_id=str(claim.pk)).count() == 1
    event = OutboxEvent.objects.get(subject=str(claim.pk), type="com.baoxiao.claim.submitted")
    assert event.type == "com.baoxiao.claim.submitted" and event.seq == 1
    assert event.data["claim"]["number"] == claim.number and len(event.data["claim"]["lines"]) == 2


def test_submitting_twice_is_a_no_op(zhang):
    claim = make_claim(zhang)
    first = services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    events = OutboxEvent.objects.count()
    again = services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    assert again.event_seq == first.event_seq and OutboxEvent.objects.count() == events


def test_a_warning_needs_a_justification_which_is_kept_for_approvers(zhang):
    claim = make_claim(zhang, lines=0)
    add_line(claim, category="hotel", amount="800.00")  # above the 600 cap for level 4: a warning
    [line] = claim.lines.all()
    from tests.reimbursement.factories import png

    services.attachment_add(line_id=line.pk, actor=zhang.user, upload=png(1))
    warnings = [h for h in evaluate_claim(claim) if h.severity == "warn"]
    assert [h.code.split(":")[0] for h in warnings] == ["policy"]
    before = state(claim)
    with pytest.raises(JustificationMissing) as error:
        services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    assert list(error.value.fields) == [f"justification:{warnings[0].key}"]
    assert state(claim) == before
    services.claim_submit(claim_id=claim.pk, actor=zhang.user, justifications={warnings[0].key: "Only hotel left"})
    warning = PolicyWarning.objects.get(claim=claim)
    assert warning.justification == "Only hotel left" and warning.line_id == line.pk and warning.submission == 1


def test_a_block_names_the_line_and_rule_and_refuses_submit(zhang):
    claim = make_claim(zhang, lines=1)
    add_line(claim, category="entertainment", amount="6000.00")
    before = state(claim)
    with pytest.raises(PolicyBlocked) as error:
        services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    messages = error.value.fields["policy"]
    assert any("Line 2" in m and "Client entertainment: 5,000 at most" in m for m in messages)
    assert state(claim) == before


def test_a_claim_without_lines_cannot_be_submitted(zhang):
    claim = make_claim(zhang, lines=0)
    with pytest.raises(PolicyBlocked, match="at least one"):
        services.claim_submit(claim_id=claim.pk, actor=zhang.user)


def test_duplicate_invoice_is_blocked_across_claims_and_released_by_withdraw(zhang, demo_company):
    invoice = {"invoice_kind": "vat_digital", "invoice_number": "24312000000012345678"}
    first = make_claim(zhang, **invoice)
    services.claim_submit(claim_id=first.pk, actor=zhang.user)
    lina = demo_company["lina"]
    second = make_claim(lina, **{**invoice, "invoice_number": "2431 2000 0000 1234 5678"})  # typed with spaces
    with pytest.raises(PolicyBlocked, match=first.number):
        services.claim_submit(claim_id=second.pk, actor=lina.user)
    services.claim_withdraw(claim_id=first.pk, actor=zhang.user)
    assert services.claim_submit(claim_id=second.pk, actor=lina.user).status == ClaimStatus.IN_APPROVAL


def test_the_database_refuses_a_second_registration_of_an_invoice(zhang):
    from django.db import IntegrityError, transaction

    claim = make_claim(zhang, invoice_kind="vat_digital", invoice_number="24312000000099999999")
    services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    other = make_claim(zhang, invoice_kind="vat_digital", invoice_number="24312000000099999999")
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceRegistration.objects.create(
            invoice_key="DIGITAL:24312000000099999999", line=other.lines.get(), claim=other
        )


def test_the_same_file_and_a_similar_line_warn(zhang):
    from tests.reimbursement.factories import png

    day = timezone.localdate() - datetime.timedelta(days=2)
    first = make_claim(zhang, lines=0)
    line = add_line(first, amount="50.00", expense_date=day)
    services.attachment_add(line_id=line.pk, actor=zhang.user, upload=png(7))
    services.claim_submit(claim_id=first.pk, actor=zhang.user)
    second = make_claim(zhang, lines=0)
    line2 = add_line(second, amount="50.00", expense_date=day)
    services.attachment_add(line_id=line2.pk, actor=zhang.user, upload=png(7))
    codes = sorted(h.code for h in evaluate_claim(second))
    assert codes == ["duplicate_file", "similar_line"]
    assert all(h.severity == "warn" for h in evaluate_claim(second))


def test_daily_and_monthly_caps_add_up_other_live_claims(zhang):
    day = timezone.localdate() - datetime.timedelta(days=1)
    first = make_claim(zhang, lines=0)
    add_line(first, category="meals", amount="180.00", expense_date=day)
    submit(first)
    second = make_claim(zhang, lines=0)
    add_line(second, category="meals", amount="150.00", expense_date=day)  # 330 on the day > 300
    hits = [h for h in evaluate_claim(second) if "daily" in h.message]
    assert len(hits) == 1 and "330.00" in hits[0].message
    services.claim_withdraw(claim_id=first.pk, actor=zhang.user)  # a withdrawn claim no longer counts
    assert not [h for h in evaluate_claim(second) if "daily" in h.message]


def test_policy_check_costs_the_same_queries_for_2_or_20_lines(zhang, django_assert_max_num_queries):
    small, large = make_claim(zhang, lines=2), make_claim(zhang, lines=20)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        evaluate_claim(small)
    with django_assert_max_num_queries(len(few)):
        evaluate_claim(large)


def test_withdraw_returns_the_claim_to_the_claimant_for_editing(zhang):
    claim = make_claim(zhang)
    services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    claim = services.claim_withdraw(claim_id=claim.pk, actor=zhang.user, reason="Wrong project")
    assert claim.status == ClaimStatus.WITHDRAWN and claim.is_editable
    add_line(claim)
    assert services.claim_submit(claim_id=claim.pk, actor=zhang.user).submission_count == 2


def test_a_resubmission_after_return_records_what_changed(zhang):
    from approvals.models import ApprovalTask
    from approvals.services import task_return

    claim = make_claim(zhang, lines=2)
    services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    task = ApprovalTask.objects.get(claim=claim, status="pending")
    task_return(task_id=task.pk, actor=task.assignee.user, reason="Receipt missing")
    first_line = claim.lines.first()
    services.line_update(line_id=first_line.pk, actor=zhang.user, data=line_input(amount="99.00"))
    claim = services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    assert claim.submission_count == 2
    changed = {(c["kind"], c.get("field")) for c in claim.changes_since_last_submission}
    assert ("line", "amount") in changed and ("claim", "total_amount") in changed
    assert AuditEvent.objects.filter(action="claim.resubmitted").count() == 1


def test_only_never_submitted_drafts_can_be_deleted(zhang):
    draft = make_claim(zhang)
    services.claim_delete(claim_id=draft.pk, actor=zhang.user)
    assert not Claim.objects.filter(pk=draft.pk).exists()
    submitted = make_claim(zhang)
    services.claim_submit(claim_id=submitted.pk, actor=zhang.user)
    with pytest.raises(ConflictError):
        services.claim_delete(claim_id=submitted.pk, actor=zhang.user)


def test_a_submitted_claim_cannot_be_edited(zhang):
    claim = make_claim(zhang)
    services.claim_submit(claim_id=claim.pk, actor=zhang.user)
    with pytest.raises(ConflictError):
        add_line(claim)
    with pytest.raises(ConflictError):
        services.claim_update(claim_id=claim.pk, actor=zhang.user, purpose="changed")


def test_someone_elses_claim_does_not_exist_for_me(zhang, demo_company):
    claim = make_claim(zhang)
    other = demo_company["lina"].user
    for action in (
        lambda: services.claim_submit(claim_id=claim.pk, actor=other),
        lambda: services.claim_update(claim_id=claim.pk, actor=other, purpose="x"),
        lambda: add_line(claim.__class__(pk=claim.pk, claimant=demo_company["lina"])),
        lambda: services.claim_delete(claim_id=claim.pk, actor=other),
    ):
        with pytest.raises(NotFoundError):
            action()


def test_invalid_transitions_are_conflicts_with_a_message(zhang):
    from django.db import transaction

    from reimbursement.services import claim_transition, lock_claim

    claim = make_claim(zhang)
    with pytest.raises(ConflictError, match="cannot be paid"), transaction.atomic():
        claim_transition(claim=lock_claim(claim.pk), action="pay", actor=None)
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.DRAFT
