"""The simulator and the dry run over the demo company and its published rules (v1):

* "Large claims: manager, head of division, finance" for 5,000 and more;
* "Everyday claims: manager" for the rest; 孙丽 (sunli) is the fallback approver.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.choices import RuleSetStatus, StepKind
from approvals.models import RuleSet
from approvals.routing import published_rule_set
from approvals.services.rules import rule_add, rule_set_draft, rule_set_publish
from approvals.simulation import dry_run, facts_for, facts_of_claim, simulate
from reimbursement.models import Claim, ExpenseCategory
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db

LARGE = "Large claims: manager, head of division, finance"
EVERYDAY = "Everyday claims: manager"


@pytest.fixture
def people(demo_company):
    return demo_company


def category(code):
    return ExpenseCategory.objects.get(code=code)


def names(step):
    return [a.employee.user.username for a in step.approvers]


def draft_with_rule_on_top(people, name, steps, **conditions):
    """A draft (copy of v1) with one more rule, moved to the top so it is tried first."""
    draft = rule_set_draft(actor=people["admin"].user)
    rule_add(rule_set=draft, name=name, steps=steps, position=1, **conditions)
    return draft


def test_a_large_claim_matches_the_large_rule_and_names_each_approver_with_the_reason(people):
    facts = facts_for(claimant=people["zhangwei"], amount=Decimal("8000"), category_ids=[category("telecom").pk])
    result = simulate(facts, published_rule_set())

    chain = result.chain
    assert chain.rule_name == LARGE
    assert chain.matched_because == "amount ≥ 5000.00"
    assert [s.name for s in chain.steps] == ["Manager", "Head of division", "Finance review"]
    manager, head, finance = chain.steps
    assert names(manager) == ["liuyang"] and manager.approvers[0].reason == "Direct manager of 张伟."
    assert names(head) == ["chenjie"] and head.approvers[0].reason == "Head of 研发中心 R&D."
    assert sorted(names(finance)) == ["caihong", "dengyi", "sunli"]
    assert {a.reason for a in finance.approvers} == {"Holds the role “finance”."}
    assert not any(s.skipped for s in chain.steps) and not chain.notes
    assert result.audit_chain is None


def test_an_everyday_claim_matches_the_second_rule(people):
    facts = facts_for(claimant=people["heming"], amount=Decimal("88"))
    chain = simulate(facts, published_rule_set()).chain
    assert chain.rule_name == EVERYDAY and chain.matched_because == "matches every claim"
    assert [names(s) for s in chain.steps] == [["guoping"]]


def test_a_step_asking_the_previous_approver_again_is_skipped_with_the_reason(people):
    # 刘洋's manager is 陈杰, who also heads the division above Platform.
    chain = simulate(facts_for(claimant=people["liuyang"], amount=Decimal("8000")), published_rule_set()).chain
    manager, head, finance = chain.steps
    assert names(manager) == ["chenjie"]
    assert head.skipped == "The same approver approved the previous step." and head.approvers == []
    assert not finance.skipped


def test_a_step_whose_approver_is_the_claimant_is_skipped_and_the_claimant_leaves_a_role_step(people):
    draft = draft_with_rule_on_top(
        people,
        "Heads first",
        [
            {"name": "Own head", "kind": StepKind.DEPARTMENT_HEAD, "levels": 0},
            {"name": "Finance", "kind": "role", "role": "finance"},
        ],
    )
    own_head, finance = simulate(facts_for(claimant=people["liuyang"], amount=Decimal("10")), draft).chain.steps
    assert own_head.skipped == "The approver is the claimant."
    # An accountant claiming: she leaves the finance step, and so does 孙丽, who approved the step before.
    own_head, finance = simulate(facts_for(claimant=people["caihong"], amount=Decimal("10")), draft).chain.steps
    assert names(own_head) == ["sunli"]
    assert names(finance) == ["dengyi"]


def test_auto_approval_and_the_random_audit_are_both_shown(people):
    draft = draft_with_rule_on_top(
        people,
        "Small claims approve themselves",
        [{"name": "Manager", "kind": StepKind.DIRECT_MANAGER}],
        amount_max=Decimal("1000"),
        auto_approve_below=Decimal("500"),
        audit_sample_percent=10,
    )
    result = simulate(facts_for(claimant=people["zhangwei"], amount=Decimal("120")), draft)
    assert result.chain.auto_approved and result.chain.steps == []
    assert result.chain.notes == ["Auto-approved: below 500.00."]
    assert result.audit_percent == 10
    assert result.audit_chain is not None and not result.audit_chain.auto_approved
    assert result.audit_chain.notes == ["Picked for a random audit although below the auto-approval threshold."]
    assert [names(s) for s in result.audit_chain.steps] == [["liuyang"]]
    # Above the threshold the rule still applies, without auto-approval.
    result = simulate(facts_for(claimant=people["zhangwei"], amount=Decimal("700")), draft)
    assert not result.chain.auto_approved and result.audit_chain is None and result.audit_percent == 0


def test_a_step_that_finds_nobody_goes_to_the_fallback_approver_with_a_note(people):
    draft = draft_with_rule_on_top(
        people, "Five levels up", [{"name": "Far up", "kind": StepKind.MANAGER_LEVEL, "levels": 5}]
    )
    chain = simulate(facts_for(claimant=people["zhangwei"], amount=Decimal("10")), draft).chain
    [step] = chain.steps
    assert names(step) == ["sunli"]
    assert step.approvers[0].reason == "“Far up” resolved to nobody; the fallback approver decides."
    assert chain.notes == ["Step 1 used the fallback approver."]


def test_department_cost_centre_and_project_conditions_are_explained(people):
    draft = draft_with_rule_on_top(
        people,
        "R&D project Apollo",
        [{"kind": StepKind.NAMED, "named_approver": people["yuanyuan"]}],
        departments=[people["chenjie"].department],
        cost_centres="CC-9, CC-10",
        projects="Apollo",
    )
    facts = facts_for(claimant=people["zhangwei"], amount=Decimal("10"), cost_centre="CC-10", project="Apollo")
    chain = simulate(facts, draft).chain
    assert chain.rule_name == "R&D project Apollo"
    assert chain.matched_because == "department in 研发中心 R&D, cost centre CC-10, project Apollo"
    assert chain.steps[0].approvers[0].reason == "Named in the rule."
    # Another project: the rule does not apply, the everyday rule does.
    other = facts_for(claimant=people["zhangwei"], amount=Decimal("10"), cost_centre="CC-10", project="Zeus")
    assert simulate(other, draft).chain.rule_name == EVERYDAY


def test_a_claim_is_simulated_from_its_lines(people):
    claim = make_claim(people["zhangwei"], category="telecom", amount=Decimal("8000.00"))
    facts = facts_of_claim(claim)
    assert facts.amount == Decimal("8000.00") and facts.category_ids == {category("telecom").pk}
    assert simulate(facts, published_rule_set()).chain.rule_name == LARGE


# --- Dry run ---------------------------------------------------------------------------------------------


def recent(days=30):
    return timezone.now() - datetime.timedelta(days=days)


def sets():
    return (
        RuleSet.objects.get(status=RuleSetStatus.DRAFT),
        RuleSet.objects.get(status=RuleSetStatus.PUBLISHED),
    )


@pytest.fixture
def submitted(people):
    """Four claims routed by v1: two everyday ones (R&D, sales), a large one, and one from long ago."""
    claims = {
        "rnd_small": submit(make_claim(people["zhangwei"])),
        "sales_small": submit(make_claim(people["heming"])),
        "rnd_large": submit(make_claim(people["lina"], category="telecom", amount=Decimal("8000.00"))),
        "old_sales": submit(make_claim(people["linxue"])),
    }
    Claim.objects.filter(pk=claims["old_sales"].pk).update(submitted_at=timezone.now() - datetime.timedelta(days=45))
    return claims


def test_the_dry_run_lists_exactly_the_claims_whose_chain_changes(people, submitted):
    draft_with_rule_on_top(
        people,
        "Sales: the VP approves",
        [{"name": "VP", "kind": StepKind.MANAGER_LEVEL, "levels": 2}],
        departments=[people["hujun"].department],
    )
    draft, published = sets()
    result = dry_run(draft=draft, published=published, since=recent())

    assert result.checked == 3  # the claim of 45 days ago is outside the window
    [change] = result.changes
    assert change.claim == submitted["sales_small"]
    assert [names(s) for s in change.before.active_steps] == [["guoping"]]
    assert [names(s) for s in change.after.active_steps] == [["hujun"]]
    assert change.after.rule_name == "Sales: the VP approves"
    # A longer window takes in the old sales claim too.
    wider = dry_run(draft=draft, published=published, since=recent(60))
    assert wider.checked == 4
    assert {c.claim for c in wider.changes} == {submitted["sales_small"], submitted["old_sales"]}


def test_a_draft_identical_to_the_published_rules_changes_nothing_even_with_random_audits(people, submitted):
    # Publish rules that auto-approve with a 50 % audit: each claim draws; the draft (a copy) must draw the same.
    draft = rule_set_draft(actor=people["admin"].user)
    rule_add(
        rule_set=draft,
        name="Coin flip",
        steps=[{"kind": StepKind.DIRECT_MANAGER}],
        position=1,
        auto_approve_below=Decimal("100000"),
        audit_sample_percent=50,
    )
    rule_set_publish(rule_set_id=draft.pk, actor=people["admin"].user)
    rule_set_draft(actor=people["admin"].user)
    draft, published = sets()
    first = dry_run(draft=draft, published=published, since=recent(60))
    assert first.checked == 4 and first.changes == []


def test_the_dry_run_is_stable_from_one_run_to_the_next(people, submitted):
    draft_with_rule_on_top(
        people,
        "Half the claims audited",
        [{"kind": StepKind.NAMED, "named_approver": people["yuanyuan"]}],
        auto_approve_below=Decimal("100000"),
        audit_sample_percent=50,
    )
    draft, published = sets()
    runs = [dry_run(draft=draft, published=published, since=recent(60)) for _ in range(3)]
    assert len({tuple(c.claim.pk for c in run.changes) for run in runs}) == 1


def test_the_dry_run_reads_the_org_chart_once_per_person_not_once_per_claim(people, submitted):
    draft_with_rule_on_top(
        people,
        "Sales: the VP approves",
        [{"kind": StepKind.MANAGER_LEVEL, "levels": 2}],
        departments=[people["hujun"].department],
    )
    draft, published = sets()
    dry_run(draft=draft, published=published, since=recent())  # the published set is compiled once per process
    with CaptureQueriesContext(connection) as few:
        dry_run(draft=draft, published=published, since=recent())
    for _ in range(6):  # more claims of the same people
        submit(make_claim(people["zhangwei"]))
        submit(make_claim(people["heming"]))
    with CaptureQueriesContext(connection) as many:
        result = dry_run(draft=draft, published=published, since=recent())
    assert result.checked == 15
    assert len(many) == len(few)


def test_routings_own_org_reads_agree_with_the_org_selectors(people):
    # routing.OrgLookups reads the org chart with raw SQL for speed; it must see what the selectors see.
    from django.contrib.auth.models import Group

    from approvals.routing import OrgLookups
    from org.models import Department, Employee
    from org.selectors import department_ancestors, manager_chain

    org = OrgLookups()
    # A cycle the OA might send: the CEO reporting to a team lead of his own line.
    Employee.objects.filter(user__username="wangjianguo").update(manager=people["liuyang"])
    for employee in Employee.objects.select_related("department"):
        for levels in (0, 1, 2, 3, 5, 40):
            assert [e.pk for e in org.manager_chain(employee, levels)] == [
                e.pk for e in manager_chain(employee, levels=levels)
            ], (employee, levels)
    for department in Department.objects.all():
        expected = list(reversed(department_ancestors(department, include_self=True)))
        got = org.departments_up(department)
        assert [d.pk for d in got] == [d.pk for d in expected]
        assert [d.head.pk if d.head else None for d in got] == [d.head_id for d in expected]
    for role in ("finance", "auditor", "admin", "nobody-has-this"):
        expected = Employee.objects.filter(user__groups__in=Group.objects.filter(name=role), active=True)
        assert [e.pk for e in org.role_members(role)] == [e.pk for e in expected.order_by("employee_no")]
    Employee.objects.filter(user__username="dengyi").update(active=False)
    assert "dengyi" not in [e.user.username for e in org.role_members("finance")]
