"""Approval flows through the services: routing at submit, every approver action, delegation, SLA."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals import services
from approvals.choices import FlowStatus, StepKind, TaskStatus
from approvals.models import ApprovalTask, Notification
from approvals.selectors import inbox_tasks
from audit.models import AuditEvent
from config.errors import ApplicationError, ConflictError, NotFoundError
from oa_bridge.models import OutboxEvent
from reimbursement import services as claims
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim
from reimbursement.selectors import claims_visible_to
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(demo_company):
    return demo_company


def pending(claim):
    return list(ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).select_related("assignee"))


def names(tasks):
    return sorted(t.assignee.user.username for t in tasks)


def big_claim(people, who="zhangwei"):
    return make_claim(people[who], lines=1, category="telecom", amount=Decimal("8000.00"))


def test_an_everyday_claim_goes_to_the_direct_manager_with_the_reason(people):
    claim = submit(make_claim(people["zhangwei"]))
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.IN_APPROVAL
    [task] = pending(claim)
    assert task.assignee == people["liuyang"] and "Direct manager" in task.reason
    assert task.due_at > timezone.now()
    assert Notification.objects.filter(recipient=people["liuyang"].user, verb="approval.task.created").exists()


def test_a_large_claim_goes_manager_then_division_head_then_finance(people):
    claim = submit(big_claim(people))
    assert names(pending(claim)) == ["liuyang"]
    services.task_approve(task_id=pending(claim)[0].pk, actor=people["liuyang"].user)
    assert names(pending(claim)) == ["chenjie"]
    services.task_approve(task_id=pending(claim)[0].pk, actor=people["chenjie"].user)
    finance = pending(claim)
    assert names(finance) == ["auditor", "caihong", "dengyi", "sunli"] or names(finance) == [
        "caihong",
        "dengyi",
        "sunli",
    ]
    services.task_approve(task_id=finance[0].pk, actor=finance[0].assignee.user)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED and claim.approved_amount == Decimal("8000.00")
    assert not pending(claim)  # the other finance tasks were closed ("any one" step)


def test_outbox_events_follow_the_claim_in_order_with_growing_seq(people):
    claim = submit(make_claim(people["zhangwei"]))
    services.task_approve(task_id=pending(claim)[0].pk, actor=people["liuyang"].user)
    events = list(OutboxEvent.objects.filter(subject=str(claim.pk)).order_by("seq"))
    assert [e.type.removeprefix("com.baoxiao.") for e in events] == [
        "claim.submitted",
        "claim.routed",
        "approval.task.created",
        "approval.task.decided",
        "claim.approved",
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].data["claim"]["status"] == "submitted"


def test_approving_twice_is_a_conflict_and_changes_nothing(people):
    claim = submit(make_claim(people["zhangwei"]))
    task = pending(claim)[0]
    services.task_approve(task_id=task.pk, actor=people["liuyang"].user)
    seq = Claim.objects.get(pk=claim.pk).event_seq
    with pytest.raises(ConflictError, match="already decided"):
        services.task_approve(task_id=task.pk, actor=people["liuyang"].user)
    assert Claim.objects.get(pk=claim.pk).event_seq == seq


def test_a_task_that_is_not_mine_does_not_exist(people):
    claim = submit(make_claim(people["zhangwei"]))
    with pytest.raises(NotFoundError):
        services.task_approve(task_id=pending(claim)[0].pk, actor=people["zhoujing"].user)


def test_reject_needs_a_reason_and_is_final(people):
    claim = submit(make_claim(people["zhangwei"]))
    task = pending(claim)[0]
    with pytest.raises(ApplicationError) as error:
        services.task_reject(task_id=task.pk, actor=people["liuyang"].user, reason=" ")
    assert "reason" in error.value.fields
    services.task_reject(task_id=task.pk, actor=people["liuyang"].user, reason="Not a business expense")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    with pytest.raises(ConflictError):
        claims.claim_submit(claim_id=claim.pk, actor=people["zhangwei"].user)


def test_return_and_resubmit_restarts_or_resumes_by_rule(people):
    claim = submit(big_claim(people))
    services.task_approve(task_id=pending(claim)[0].pk, actor=people["liuyang"].user)
    services.task_return(task_id=pending(claim)[0].pk, actor=people["chenjie"].user, reason="Add the hotel invoice")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.RETURNED
    submit(claim)
    # The large-claim rule resumes at the step that returned it: the division head, not the manager again.
    assert names(pending(claim)) == ["chenjie"]
    small = submit(make_claim(people["lina"]))
    services.task_return(task_id=pending(small)[0].pk, actor=people["liuyang"].user, reason="Wrong date")
    submit(small)
    assert names(pending(small)) == ["liuyang"]


def test_withdraw_before_the_first_decision_only(people):
    claim = submit(big_claim(people))
    claims.claim_withdraw(claim_id=claim.pk, actor=people["zhangwei"].user)
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.WITHDRAWN
    assert not pending(claim)
    submit(claim)
    services.task_approve(task_id=pending(claim)[0].pk, actor=people["liuyang"].user)
    with pytest.raises(ConflictError, match="already decided"):
        claims.claim_withdraw(claim_id=claim.pk, actor=people["zhangwei"].user)
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.IN_APPROVAL


def test_transfer_hands_the_task_over_with_a_reason(people):
    claim = submit(make_claim(people["zhangwei"]))
    new = services.task_transfer(
        task_id=pending(claim)[0].pk, actor=people["liuyang"].user, to=people["zhoujing"], comment="On leave"
    )
    assert names(pending(claim)) == ["zhoujing"] and "Transferred by 刘洋" in new.reason
    services.task_approve(task_id=new.pk, actor=people["zhoujing"].user)
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED


def test_add_an_approver_before_me_then_me(people):
    claim = submit(make_claim(people["zhangwei"]))
    mine = pending(claim)[0]
    added = services.task_add_approver(
        task_id=mine.pk, actor=people["liuyang"].user, approver=people["sunli"], before=True, comment="Check the budget"
    )
    assert names(pending(claim)) == ["sunli"]
    services.task_approve(task_id=added.pk, actor=people["sunli"].user)
    assert names(pending(claim)) == ["liuyang"]
    services.task_approve(task_id=mine.pk, actor=people["liuyang"].user)
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED


def test_add_an_approver_after_me_adds_a_step(people):
    claim = submit(make_claim(people["zhangwei"]))
    services.task_add_approver(
        task_id=pending(claim)[0].pk, actor=people["liuyang"].user, approver=people["yuanyuan"], before=False
    )
    services.task_approve(task_id=pending(claim)[0].pk, actor=people["liuyang"].user)
    assert names(pending(claim)) == ["yuanyuan"]
    services.task_approve(task_id=pending(claim)[0].pk, actor=people["yuanyuan"].user)
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED


def test_cutting_a_line_lowers_the_approved_amount(people):
    claim = make_claim(people["zhangwei"], lines=2, amount=Decimal("100.00"))
    submit(claim)
    task = pending(claim)[0]
    line = claim.lines.first()
    with pytest.raises(ApplicationError):
        services.task_cut_line(task_id=task.pk, actor=people["liuyang"].user, line_id=line.pk, amount="150", reason="x")
    services.task_cut_line(
        task_id=task.pk, actor=people["liuyang"].user, line_id=line.pk, amount="60.00", reason="Only the paper"
    )
    services.task_approve(task_id=task.pk, actor=people["liuyang"].user)
    claim.refresh_from_db()
    assert claim.approved_amount == Decimal("160.00") and claim.total_amount == Decimal("200.00")


def test_a_delegate_acts_on_behalf_within_the_window(people):
    today = timezone.localdate()
    services.delegation_create(
        actor=people["liuyang"].user,
        delegate=people["zhoujing"],
        starts_on=today,
        ends_on=today + datetime.timedelta(days=3),
    )
    claim = submit(make_claim(people["zhangwei"]))
    assert [t.claim_id for t in inbox_tasks(people["zhoujing"].user)] == [claim.pk]
    assert claims_visible_to(people["zhoujing"].user).filter(pk=claim.pk).exists()
    task = services.task_approve(task_id=pending(claim)[0].pk, actor=people["zhoujing"].user)
    assert task.decided_by_name == "周静" and task.on_behalf_of_name == "刘洋"
    event = AuditEvent.objects.get(action="approval.task.decided", target_id=str(claim.pk))
    assert event.on_behalf_of_name == "刘洋"


def test_a_delegation_limited_to_categories_covers_only_those_claims(people):
    from reimbursement.models import ExpenseCategory

    today = timezone.localdate()
    services.delegation_create(
        actor=people["liuyang"].user,
        delegate=people["zhoujing"],
        starts_on=today,
        ends_on=today,
        category_ids=[ExpenseCategory.objects.get(code="hotel").pk],
    )
    claim = submit(make_claim(people["zhangwei"]))  # office supplies only
    assert not inbox_tasks(people["zhoujing"].user).exists()
    with pytest.raises(NotFoundError):
        services.task_approve(task_id=pending(claim)[0].pk, actor=people["zhoujing"].user)


def test_approvers_see_claims_they_hold_a_task_on_and_others_do_not(people):
    claim = submit(make_claim(people["zhangwei"]))
    assert claims_visible_to(people["liuyang"].user).filter(pk=claim.pk).exists()
    assert not claims_visible_to(people["zhoujing"].user).filter(pk=claim.pk).exists()
    assert not claims_visible_to(people["chenjie"].user).filter(pk=claim.pk).exists()


def test_an_approver_who_leaves_has_open_tasks_reassigned(people):
    claim = submit(make_claim(people["zhangwei"]))
    liuyang = people["liuyang"]
    liuyang.active = False
    liuyang.save(update_fields=["active"])
    assert services.tasks_reassign_for(employee=liuyang) == 1
    assert names(pending(claim)) == ["sunli"]  # the manager is gone: the fallback approver decides
    assert AuditEvent.objects.filter(action="approval.task.reassigned").count() == 1


def test_sla_reminds_then_escalates_and_is_safe_to_run_twice(people, settings):
    settings.BAOXIAO_REMINDERS_BEFORE_ESCALATION = 1
    claim = submit(make_claim(people["zhangwei"]))
    later = timezone.now() + datetime.timedelta(hours=49)
    assert services.tasks_remind_and_escalate(now=later) == {"reminded": 1, "escalated": 0}
    assert services.tasks_remind_and_escalate(now=later) == {"reminded": 0, "escalated": 0}
    much_later = later + datetime.timedelta(hours=25)
    assert services.tasks_remind_and_escalate(now=much_later) == {"reminded": 0, "escalated": 1}
    assert services.tasks_remind_and_escalate(now=much_later) == {"reminded": 0, "escalated": 0}
    assert names(pending(claim)) == ["chenjie"]


def test_auto_approval_below_a_threshold_with_a_random_audit_share(people):
    import random

    from approvals.models import RoutingRule
    from approvals.routing import ClaimFacts, compiled_published, published_rule_set, resolve

    RoutingRule.objects.filter(name__startswith="Everyday").update(
        auto_approve_below=Decimal("100"), audit_sample_percent=30
    )
    from approvals import routing

    routing._cache.clear()
    claim = make_claim(people["zhangwei"], amount=Decimal("50.00"))
    facts = ClaimFacts.of_claim(claim)
    compiled = compiled_published(published_rule_set())
    outcomes = [resolve(facts, compiled, rng=random.Random(seed)).auto_approved for seed in range(200)]
    assert 0.6 < sum(outcomes) / len(outcomes) < 0.8
    routing._cache.clear()


def test_the_claimant_never_approves_their_own_claim(people):
    claim = submit(make_claim(people["liuyang"]))  # liuyang's manager is chenjie: fine
    assert names(pending(claim)) == ["chenjie"]
    from approvals.models import RoutingStep

    RoutingStep.objects.filter(kind=StepKind.DIRECT_MANAGER, rule__name__startswith="Everyday").update(
        kind=StepKind.DEPARTMENT_HEAD, levels=0
    )
    from approvals import routing

    routing._cache.clear()
    own = submit(make_claim(people["liuyang"], purpose="Another"))  # head of own department = the claimant
    own.refresh_from_db()
    assert own.status == ClaimStatus.APPROVED and not pending(own)  # the only step was skipped
    routing._cache.clear()


def test_flow_keeps_the_rule_version_it_was_routed_with(people):
    from approvals.services.rules import rule_add, rule_set_draft, rule_set_publish

    claim = submit(big_claim(people))
    draft = rule_set_draft(actor=people["admin"].user)
    draft.rules.all().delete()
    rule_add(
        rule_set=draft, name="Everything to HR", steps=[{"kind": StepKind.NAMED, "named_approver": people["yuanyuan"]}]
    )
    rule_set_publish(rule_set_id=draft.pk, actor=people["admin"].user)
    services.task_return(task_id=pending(claim)[0].pk, actor=people["liuyang"].user, reason="fix")
    submit(claim)
    assert names(pending(claim)) == ["liuyang"]  # still v1 for this claim in flight
    fresh = submit(make_claim(people["lina"]))
    assert names(pending(fresh)) == ["yuanyuan"]
    flows = list(claim.approval_flows.values_list("rule_set__version", flat=True))
    assert flows == [1, 1]
    assert FlowStatus.RETURNED in claim.approval_flows.values_list("status", flat=True)


def test_a_rule_that_would_route_to_nobody_is_refused_at_publish(people):
    from approvals.services.rules import rule_add, rule_set_draft, rule_set_publish

    draft = rule_set_draft(actor=people["admin"].user)
    rule_add(rule_set=draft, name="To an empty role", steps=[{"kind": StepKind.ROLE, "role": "nobody-has-this"}])
    with pytest.raises(ApplicationError, match="nobody active holds"):
        rule_set_publish(rule_set_id=draft.pk, actor=people["admin"].user)
