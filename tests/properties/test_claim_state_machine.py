"""A stateful property test of the claim and approval state machine, driven through the service functions
only (create, add a line, submit, approve / reject / return the pending task, withdraw, batch for payment,
mark paid, fail the payment, void), by the people the services expect, in any order Hypothesis picks.

After every step, for every claim made so far:
- its status is one of ClaimStatus, and a live payment exists exactly when it is paying or paid;
- paid ≤ approved ≤ claimed: the paid payment's amount is at most the approved total, which is at most
  the claimed total (a paid claim is paid exactly its approved total);
- one outbox row per domain event and outbound connector: each transition or claim event takes the next
  ``seq`` (1, 2, ... ``event_seq``) with exactly one AuditEvent carrying that ``seq``, and for each seq
  exactly one OutboxEvent per enabled outbound connector (oa_bridge fans each domain event out to every
  connector; in the demo there is one, the OA sandbox), of type ``com.baoxiao.<audit action>``;
- an action refused with a domain error (ApplicationError) changes nothing: claim, lines, tasks,
  payments, audit events and outbox rows are as before;
- a claim in a terminal state (rejected, paid, voided) never changes again: every action either raises the
  domain error or is the idempotent repeat of the one that ended it (void again, paid again), a no-op.
At the end of each example the audit chain verifies (audit.verification.verify_chain).

Each example runs in a savepoint that is rolled back, so examples do not see each other. Settings: the
"ci" profile (30 examples of up to 20 steps, derandomized, no deadline); HYPOTHESIS_PROFILE=long for
300 examples of up to 50 steps.
"""

from __future__ import annotations

import os
from collections import Counter
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from approvals import services as approvals
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from audit.models import AuditEvent
from audit.verification import verify_chain
from config.errors import ApplicationError
from oa_bridge.models import Connector, OutboxEvent
from reimbursement import services
from reimbursement.choices import TERMINAL_STATUSES, ClaimStatus
from reimbursement.models import Claim, ClaimLine, Payment, PaymentStatus
from reimbursement.payments import services as payments
from tests.reimbursement.factories import line_input, make_claim, submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

settings.register_profile(
    "baoxiao-props-ci",
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "baoxiao-props-long",
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = "baoxiao-props-long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "baoxiao-props-ci"

ACTIONS = ["add_line", "submit", "approve", "reject", "return", "withdraw", "start_payment", "pay", "fail", "void"]
LIKELY = {
    ClaimStatus.DRAFT: ["submit", "add_line"],
    ClaimStatus.RETURNED: ["submit", "add_line", "void"],
    ClaimStatus.WITHDRAWN: ["submit", "void"],
    ClaimStatus.IN_APPROVAL: ["approve", "approve", "approve", "reject", "return", "withdraw"],
    ClaimStatus.APPROVED: ["start_payment", "start_payment", "void"],
    ClaimStatus.PAYING: ["pay", "pay", "fail", "void"],
}
# The repeat of the action that ended a claim is answered as done, changing nothing.
IDEMPOTENT_REPEATS = {ClaimStatus.VOIDED: {"void"}, ClaimStatus.PAID: {"pay"}, ClaimStatus.REJECTED: set()}
CLAIMANTS = ["zhangwei", "lina"]
MAX_CLAIMS = 3


class Skip(Exception):
    """The action has nothing to act on for this claim (no task, no payment): not a step."""


def snapshot(claim_id: int) -> tuple:
    """Everything an action could change about one claim."""
    claim = Claim.objects.values(
        "status", "event_seq", "total_amount", "approved_amount", "submission_count", "decided_at", "paid_at"
    ).get(pk=claim_id)
    lines = list(ClaimLine.objects.filter(claim_id=claim_id).order_by("pk").values_list("pk", "amount"))
    tasks = list(ApprovalTask.objects.filter(claim_id=claim_id).order_by("pk").values_list("pk", "status"))
    paid = list(Payment.objects.filter(claim_id=claim_id).order_by("pk").values_list("pk", "status", "amount"))
    audit = AuditEvent.objects.filter(target_type="reimbursement.claim", target_id=str(claim_id)).count()
    outbox = OutboxEvent.objects.filter(subject=str(claim_id)).count()
    return claim, lines, tasks, paid, audit, outbox


class ClaimLife(RuleBasedStateMachine):
    people: dict = {}
    seen: Counter = Counter()  # what the steps did, over every example: shows the run went somewhere

    def __init__(self):
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.claims: list[int] = []
        self.finance = self.people["sunli"].user
        self.connectors = Connector.objects.filter(enabled=True, deliver_events=True).count()

    def teardown(self):
        try:
            report = verify_chain()
            assert report.whole, report.broken
        finally:
            transaction.set_rollback(True)
            self._savepoint.__exit__(None, None, None)

    # --- Rules ------------------------------------------------------------------------------------

    @precondition(lambda self: len(self.claims) < MAX_CLAIMS)
    @rule(who=st.sampled_from(CLAIMANTS), amount=st.decimals(Decimal("1.00"), Decimal("400.00"), places=2))
    def create(self, who, amount):
        claim = make_claim(self.people[who], amount=amount)
        self.claims.append(claim.pk)

    @precondition(lambda self: self.claims)
    @rule(
        index=st.integers(0, MAX_CLAIMS - 1),
        action=st.sampled_from(ACTIONS),
        amount=st.decimals(Decimal("1.00"), Decimal("300.00"), places=2),
    )
    def act(self, index, action, amount):
        claim_id = self.claims[index % len(self.claims)]
        before = snapshot(claim_id)
        status = before[0]["status"]
        try:
            self._do(action, claim_id, amount)
        except Skip:
            assert snapshot(claim_id) == before
            return
        except ApplicationError as exc:
            self.seen[f"{status}: {action} refused"] += 1
            assert snapshot(claim_id) == before, f"{action} was refused ({exc.message}) but changed the claim"
            return
        after = snapshot(claim_id)
        self.seen[f"{status} -> {after[0]['status']}"] += 1
        if status in TERMINAL_STATUSES:
            assert action in IDEMPOTENT_REPEATS[status], f"{action} was accepted on a {status} claim"
            assert after == before, f"{action} changed a {status} claim"

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, MAX_CLAIMS - 1), data=st.data())
    def advance(self, index, data):
        """An action that usually applies to the claim's state, so that examples reach the later states
        (payment, paid) as often as the early ones; ``act`` tries anything anywhere."""
        claim_id = self.claims[index % len(self.claims)]
        status = Claim.objects.values_list("status", flat=True).get(pk=claim_id)
        action = data.draw(st.sampled_from(LIKELY.get(status, ACTIONS)), label="action")
        self.act(index=index, action=action, amount=Decimal("50.00"))

    def _do(self, action: str, claim_id: int, amount: Decimal) -> None:
        claim = Claim.objects.select_related("claimant__user").get(pk=claim_id)
        claimant = claim.claimant.user
        if action == "add_line":
            services.line_add(claim_id=claim_id, actor=claimant, data=line_input(amount=amount))
        elif action == "submit":
            submit(claim)
        elif action in ("approve", "reject", "return"):
            task = self._task(claim_id)
            if action == "approve":
                approvals.task_approve(task_id=task.pk, actor=task.assignee.user, comment="OK")
            elif action == "reject":
                approvals.task_reject(task_id=task.pk, actor=task.assignee.user, reason="Not a business expense")
            else:
                approvals.task_return(task_id=task.pk, actor=task.assignee.user, reason="Add the receipt")
        elif action == "withdraw":
            services.claim_withdraw(claim_id=claim_id, actor=claimant, reason="Wrong amount")
        elif action == "start_payment":
            payments.batch_create(actor=self.finance, claim_ids=[claim_id])
        elif action == "pay":
            payment = self._payment(claim_id)
            if not payment.batch.export_count:
                payments.batch_export_bank_file(batch_id=payment.batch_id, actor=self.finance)
            reference = f"REF-{payment.batch_id}"
            payments.batch_mark_paid(
                batch_id=payment.batch_id, actor=self.finance, reference=reference, paid_on=timezone.localdate()
            )
        elif action == "fail":
            payment = self._payment(claim_id)
            payments.payment_mark_failed(payment_id=payment.pk, actor=self.finance, reason="Account closed")
        elif action == "void":
            payments.claim_void(claim_id=claim_id, actor=self.finance, reason="Duplicate claim")

    def _task(self, claim_id: int) -> ApprovalTask:
        """The pending task, else the latest one (deciding it again must be refused)."""
        tasks = ApprovalTask.objects.filter(claim_id=claim_id).select_related("assignee__user")
        task = tasks.filter(status=TaskStatus.PENDING).order_by("pk").first() or tasks.order_by("-pk").first()
        if task is None:
            raise Skip
        return task

    def _payment(self, claim_id: int) -> Payment:
        """The live payment, else the latest one (failing or paying it again must be refused or a no-op)."""
        rows = Payment.objects.filter(claim_id=claim_id).select_related("batch")
        payment = rows.filter(status=PaymentStatus.PENDING).first() or rows.order_by("-pk").first()
        if payment is None:
            raise Skip
        return payment

    # --- Invariants -------------------------------------------------------------------------------

    @invariant()
    def states_amounts_and_payments_agree(self):
        for claim in Claim.objects.filter(pk__in=self.claims):
            assert claim.status in ClaimStatus.values
            claimed = claim.total_amount
            approved = claim.approved_amount if claim.approved_amount is not None else claimed
            assert Decimal("0") <= approved <= claimed, (claim.status, approved, claimed)
            live = list(claim.payments.filter(status__in=[PaymentStatus.PENDING, PaymentStatus.PAID]))
            paid = sum((p.amount for p in live if p.status == PaymentStatus.PAID), Decimal("0"))
            assert paid <= approved
            if claim.status == ClaimStatus.PAYING:
                assert [p.status for p in live] == [PaymentStatus.PENDING]
            elif claim.status == ClaimStatus.PAID:
                assert [p.status for p in live] == [PaymentStatus.PAID] and paid == approved
            else:
                assert live == [], (claim.status, live)

    @invariant()
    def one_audit_event_and_one_outbox_row_per_connector_for_each_seq(self):
        for claim in Claim.objects.filter(pk__in=self.claims):
            audit = dict(
                AuditEvent.objects.filter(
                    target_type="reimbursement.claim", target_id=str(claim.pk), data__has_key="seq"
                ).values_list("data__seq", "action")
            )
            seqs = list(range(1, claim.event_seq + 1))
            events = AuditEvent.objects.filter(
                target_type="reimbursement.claim", target_id=str(claim.pk), data__has_key="seq"
            )
            assert events.count() == claim.event_seq and sorted(audit) == seqs, (claim.event_seq, audit)
            rows = list(OutboxEvent.objects.filter(subject=str(claim.pk)).values_list("seq", "type"))
            assert len(rows) == claim.event_seq * self.connectors
            for seq, type_ in rows:
                assert type_ == f"com.baoxiao.{audit[seq]}", (seq, type_, audit[seq])


def test_any_sequence_of_actions_keeps_the_claim_invariants(demo_company, settings):
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False  # the rows are what we check; nothing is sent
    ClaimLife.people = demo_company
    assert Connector.objects.filter(enabled=True, deliver_events=True).count() >= 1
    ClaimLife.seen = Counter()
    run_state_machine_as_test(ClaimLife, settings=settings_for_run())
    seen = ClaimLife.seen
    print("\n" + "\n".join(f"{n:4d}  {what}" for what, n in seen.most_common()))
    # The examples reached every part of the machine, terminal states included.
    for transition in ["draft -> in_approval", "in_approval -> approved", "approved -> paying", "paying -> paid"]:
        assert seen[transition], transition
    assert seen["in_approval -> rejected"] and seen["in_approval -> returned"] and seen["paying -> approved"]
    assert any(k.endswith("-> voided") for k in seen)
    assert any(k.startswith("paid") for k in seen) and any(k.startswith("voided") for k in seen)
    assert sum(n for k, n in seen.items() if k.endswith("refused")) > 0


def settings_for_run():
    from hypothesis import settings as hypothesis_settings

    return hypothesis_settings.get_profile(PROFILE)
