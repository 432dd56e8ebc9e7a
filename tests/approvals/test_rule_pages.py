"""The routing-rule pages: admins only, the draft editor end to end, publishing, refusals, query counts."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.choices import RuleSetStatus, StepKind, TaskStatus
from approvals.models import ApprovalTask, MatrixEntry, RoutingRule, RuleSet
from approvals.services.rule_editor import (
    MatrixEntryInput,
    RuleInput,
    StepInput,
    matrix_entry_add,
    rule_delete,
    rule_update,
    step_add,
)
from approvals.services.rules import rule_add, rule_set_draft, rule_set_publish
from audit.models import AuditEvent
from config.errors import ApplicationError
from reimbursement.models import ExpenseCategory
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db

RULES = "/approvals/rules/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def people(demo_company):
    return demo_company


@pytest.fixture
def admin(client, people):
    client.force_login(people["admin"].user)
    return client


def v1():
    return RuleSet.objects.get(version=1)


@pytest.fixture
def draft(people):
    """A draft (a copy of v1) with a matrix entry, as the pages find it."""
    rule_set = rule_set_draft(actor=people["admin"].user)
    matrix_entry_add(
        rule_set_id=rule_set.pk,
        actor=people["admin"].user,
        data=MatrixEntryInput(department_id=people["hujun"].department_id, approver_id=people["hujun"].pk),
    )
    return rule_set


def every_page(draft):
    rule = draft.rules.order_by("position").first()
    step = rule.steps.first()
    entry = draft.matrix.first()
    return [
        ("get", RULES),
        ("get", f"{RULES}versions/1/"),
        ("get", f"{RULES}draft/"),
        ("post", f"{RULES}draft/start/"),
        ("post", f"{RULES}draft/publish/"),
        ("post", f"{RULES}draft/fallback/"),
        ("get", f"{RULES}draft/matrix/"),
        ("post", f"{RULES}draft/matrix/"),
        ("post", f"{RULES}draft/matrix/{entry.pk}/remove/"),
        ("get", f"{RULES}draft/rules/new/"),
        ("post", f"{RULES}draft/rules/new/"),
        ("get", f"{RULES}draft/rules/{rule.pk}/"),
        ("post", f"{RULES}draft/rules/{rule.pk}/"),
        ("post", f"{RULES}draft/rules/{rule.pk}/delete/"),
        ("post", f"{RULES}draft/rules/{rule.pk}/move/"),
        ("get", f"{RULES}draft/rules/{rule.pk}/steps/"),
        ("post", f"{RULES}draft/rules/{rule.pk}/steps/"),
        ("get", f"{RULES}draft/steps/{step.pk}/"),
        ("post", f"{RULES}draft/steps/{step.pk}/"),
        ("post", f"{RULES}draft/steps/{step.pk}/remove/"),
        ("post", f"{RULES}draft/steps/{step.pk}/move/"),
        ("get", f"{RULES}simulate/"),
        ("get", f"{RULES}simulate/?source=person&claimant=E0004&amount=8000&rules=published"),
        ("get", f"{RULES}dry-run/"),
    ]


@pytest.mark.parametrize("username", ["zhangwei", "liuyang", "sunli", "auditor"])
def test_everyone_but_admins_gets_404_on_every_page_and_nothing_changes(client, people, draft, username):
    client.force_login(people[username].user)
    events = AuditEvent.objects.count()
    for method, url in every_page(draft):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url)
    assert AuditEvent.objects.count() == events
    assert RuleSet.objects.get(pk=draft.pk).status == RuleSetStatus.DRAFT


def test_signed_out_visitors_are_sent_to_sign_in(client, people, draft):
    for method, url in every_page(draft)[:3]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_admins_see_the_menu_entry_and_others_do_not(client, people):
    client.force_login(people["zhangwei"].user)
    assert RULES not in client.get("/").content.decode()
    client.force_login(people["admin"].user)
    assert f'href="{RULES}"' in client.get("/").content.decode()


def test_the_rules_page_shows_the_published_rules_in_words_and_the_history(admin, people):
    html = admin.get(RULES).content.decode()
    assert "Published: v1" in html
    assert "Large claims: manager, head of division, finance" in html
    assert "amount 5,000.00 or more" in html
    assert "the head of the department 1 level above the claimant&#x27;s" in html
    assert "everyone with the role “Finance”" in html
    assert 'data-testid="start-draft"' in html


def test_an_admin_builds_the_rule_publishes_it_and_a_new_claim_of_8000_is_routed_by_it(admin, people):
    # Start a draft: a copy of v1.
    response = admin.post(f"{RULES}draft/start/")
    assert response.status_code == 302 and response["Location"] == f"{RULES}draft/"
    draft = RuleSet.objects.get(status=RuleSetStatus.DRAFT)
    assert draft.version == 2 and draft.rules.count() == 2

    # The rule: amounts above 5,000 go to the department head, then finance.
    response = admin.post(
        f"{RULES}draft/rules/new/",
        {"name": "Above 5,000: department head, then finance", "amount_min": "5,000.01", "return_policy": "restart"},
    )
    assert response.status_code == 302
    rule = draft.rules.get(name="Above 5,000: department head, then finance")
    assert rule.amount_min == Decimal("5000.01")
    steps_url = f"{RULES}draft/rules/{rule.pk}/steps/"
    prefix = f"new-{rule.pk}"
    response = admin.post(
        steps_url,
        {
            f"{prefix}-kind": "department_head",
            f"{prefix}-levels": "0",
            f"{prefix}-mode": "any",
            f"{prefix}-sla_hours": "24",
        },
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and f'id="rule-{rule.pk}-steps"' in html
    assert "the head of the claimant&#x27;s department" in html
    admin.post(
        steps_url,
        {
            f"{prefix}-kind": "role",
            f"{prefix}-role": "finance",
            f"{prefix}-mode": "any",
            f"{prefix}-sla_hours": "48",
            f"{prefix}-name": "Finance",
        },
        **HTMX,
    )
    assert list(rule.steps.order_by("position").values_list("kind", "levels", "role")) == [
        (StepKind.DEPARTMENT_HEAD, 0, ""),
        (StepKind.ROLE, 1, "finance"),
    ]
    # First matching rule wins: move it above the two copied rules.
    for _ in range(2):
        admin.post(f"{RULES}draft/rules/{rule.pk}/move/", {"direction": "up"})
    assert list(draft.rules.order_by("position").values_list("name", flat=True))[0] == rule.name

    response = admin.post(f"{RULES}draft/publish/")
    assert response.status_code == 302 and response["Location"] == RULES
    draft.refresh_from_db()
    assert draft.status == RuleSetStatus.PUBLISHED and draft.published_by == people["admin"].user
    assert v1().status == RuleSetStatus.RETIRED
    assert "Published: v2" in admin.get(RULES).content.decode()

    claim = submit(make_claim(people["zhangwei"], category="telecom", amount=Decimal("8000.00")))
    flow = claim.approval_flows.get()
    assert flow.rule_set_id == draft.pk and flow.rule_name == rule.name
    [task] = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING)
    assert task.assignee == people["liuyang"] and task.reason == "Head of 平台组 Platform."
    assert list(flow.steps.values_list("name", flat=True)) == ["Department head", "Finance"]

    actions = list(
        AuditEvent.objects.filter(target_type="approvals.ruleset", target_id=str(draft.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == [
        "rule_set.drafted",
        "rule_set.rule_added",
        "rule_set.step_added",
        "rule_set.step_added",
        "rule_set.rule_moved",
        "rule_set.rule_moved",
        "rule_set.published",
    ]


def test_publishing_a_rule_that_routes_to_nobody_lists_the_problems_and_changes_nothing(admin, people, draft):
    rule_add(rule_set=draft, name="Forgotten steps", steps=[], position=1)
    rule_add(rule_set=draft, name="Matrix without entries", steps=[{"kind": StepKind.MATRIX, "name": "Matrix"}])
    MatrixEntry.objects.filter(rule_set=draft).delete()
    events = AuditEvent.objects.count()

    response = admin.post(f"{RULES}draft/publish/")

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="publish-refused"' in html
    assert "Rule “Forgotten steps” has no steps." in html
    assert "Rule “Matrix without entries”, step “Matrix”: the approval matrix is empty." in html
    draft.refresh_from_db()
    assert draft.status == RuleSetStatus.DRAFT and draft.published_at is None
    assert v1().status == RuleSetStatus.PUBLISHED
    assert AuditEvent.objects.count() == events
    # The editor says the same before anyone tries.
    assert "Rule “Forgotten steps” has no steps." in admin.get(f"{RULES}draft/").content.decode()


def test_a_published_rule_set_cannot_be_edited(admin, people):
    rule = v1().rules.order_by("position").first()
    step = rule.steps.first()
    data = {"name": "Hijacked", "return_policy": "restart"}

    response = admin.post(f"{RULES}draft/rules/{rule.pk}/", data, follow=True)
    assert "Published rule sets cannot change; edit the draft." in response.content.decode()
    response = admin.get(f"{RULES}draft/rules/{rule.pk}/")
    assert response.status_code == 302 and response["Location"] == RULES
    for url in (f"{RULES}draft/rules/{rule.pk}/delete/", f"{RULES}draft/steps/{step.pk}/remove/"):
        admin.post(url)
    rule.refresh_from_db()
    assert rule.name.startswith("Large claims") and rule.steps.count() == 3

    user = people["admin"].user
    for attempt in (
        lambda: rule_update(rule_id=rule.pk, actor=user, data=RuleInput(name="Hijacked")),
        lambda: rule_delete(rule_id=rule.pk, actor=user),
        lambda: step_add(rule_id=rule.pk, actor=user, data=StepInput(kind=StepKind.DIRECT_MANAGER)),
    ):
        with pytest.raises(ApplicationError) as refused:
            attempt()
        assert refused.value.code == "not_draft"
    assert not AuditEvent.objects.filter(action__startswith="rule_set.rule_").exists()


def test_steps_are_edited_moved_and_removed_in_place(admin, people, draft):
    rule = draft.rules.order_by("position").first()  # Large claims: manager, head of division, finance
    manager, head, finance = rule.steps.order_by("position")
    block = f'id="rule-{rule.pk}-steps"'

    response = admin.get(f"{RULES}draft/steps/{head.pk}/", **HTMX)
    assert block in response.content.decode() and f'name="step-{head.pk}-kind"' in response.content.decode()
    prefix = f"step-{head.pk}"
    response = admin.post(
        f"{RULES}draft/steps/{head.pk}/",
        {
            f"{prefix}-kind": "named",
            f"{prefix}-named_approver": "袁媛 · E0029",
            f"{prefix}-mode": "all",
            f"{prefix}-sla_hours": "12",
        },
        **HTMX,
    )
    assert "袁媛" in response.content.decode()
    head.refresh_from_db()
    assert (head.kind, head.named_approver, head.mode, head.sla_hours) == ("named", people["yuanyuan"], "all", 12)

    admin.post(f"{RULES}draft/steps/{finance.pk}/move/", {"direction": "up"}, **HTMX)
    assert list(rule.steps.order_by("position").values_list("pk", flat=True)) == [manager.pk, finance.pk, head.pk]

    response = admin.post(f"{RULES}draft/steps/{manager.pk}/remove/", **HTMX)
    assert block in response.content.decode()
    assert list(rule.steps.order_by("position").values_list("pk", "position")) == [(finance.pk, 1), (head.pk, 2)]


def test_a_step_with_a_mistake_comes_back_with_the_message_in_place(admin, draft):
    rule = draft.rules.order_by("position").first()
    prefix = f"new-{rule.pk}"
    response = admin.post(
        f"{RULES}draft/rules/{rule.pk}/steps/",
        {
            f"{prefix}-kind": "named",
            f"{prefix}-named_approver": "Nobody Atall",
            f"{prefix}-mode": "any",
            f"{prefix}-sla_hours": "48",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert 'data-testid="error-named_approver"' in response.content.decode()
    assert rule.steps.count() == 3


def test_a_rule_with_an_empty_amount_range_is_refused_with_the_message_on_the_field(admin, draft):
    response = admin.post(
        f"{RULES}draft/rules/new/",
        {"name": "Impossible", "amount_min": "500", "amount_max": "100", "return_policy": "restart"},
    )
    assert response.status_code == 200
    assert 'data-testid="error-amount_max"' in response.content.decode()
    assert not RoutingRule.objects.filter(name="Impossible").exists()


def test_rules_are_edited_and_deleted(admin, people, draft):
    rule = draft.rules.order_by("position").last()  # Everyday claims
    response = admin.post(
        f"{RULES}draft/rules/{rule.pk}/",
        {
            "name": "Everyday claims in sales",
            "departments": [people["hujun"].department_id],
            "level_max": "5",
            "auto_approve_below": "200",
            "audit_sample_percent": "5",
            "return_policy": "resume",
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Everyday claims in sales" and rule.level_max == 5 and rule.return_policy == "resume"
    assert list(rule.departments.all()) == [people["hujun"].department]
    html = admin.get(f"{RULES}draft/").content.decode()
    assert "claimant in 销售部 Sales (or below)" in html
    assert "Auto-approved below 200.00, except 5% picked at random for the steps." in html
    event = AuditEvent.objects.filter(action="rule_set.rule_updated").get()
    assert event.data["changes"]["name"] == ["Everyday claims: manager", "Everyday claims in sales"]

    admin.post(f"{RULES}draft/rules/{rule.pk}/delete/")
    assert not RoutingRule.objects.filter(pk=rule.pk).exists()
    assert (
        AuditEvent.objects.filter(action="rule_set.rule_deleted").get().data["rule"]["steps"][0]["kind"]
        == "direct_manager"
    )


def test_the_fallback_approver_and_the_matrix_are_edited(admin, people, draft):
    admin.post(f"{RULES}draft/fallback/", {"fallback-approver": "袁媛 · E0029"})
    draft.refresh_from_db()
    assert draft.fallback_approver == people["yuanyuan"]

    admin.post(
        f"{RULES}draft/matrix/",
        {"department": people["zhangwei"].department_id, "amount_min": "1,000", "approver": "E0002"},
    )
    entry = MatrixEntry.objects.get(rule_set=draft, approver=people["chenjie"])
    assert entry.amount_min == Decimal("1000") and entry.category is None
    assert "陈杰" in admin.get(f"{RULES}draft/matrix/").content.decode()
    admin.post(f"{RULES}draft/matrix/{entry.pk}/remove/")
    assert not MatrixEntry.objects.filter(pk=entry.pk).exists()
    assert list(
        AuditEvent.objects.filter(action__in=["rule_set.fallback_set", "rule_set.matrix_entry_removed"]).values_list(
            "action", flat=True
        )
    ) == ["rule_set.fallback_set", "rule_set.matrix_entry_removed"]


def test_the_simulator_page_renders_the_result_in_place(admin, people, draft):
    url = f"{RULES}simulate/?source=person&claimant=张伟 · E0004&amount=8,000&rules=published"
    response = admin.get(url, **HTMX)
    html = response.content.decode()
    assert "<html" not in html and 'data-testid="simulation"' in html
    assert "Large claims: manager, head of division, finance" in html and "Direct manager of 张伟." in html

    claim = make_claim(people["heming"])
    html = admin.get(f"{RULES}simulate/?source=claim&claim_number={claim.number}&rules=draft").content.decode()
    assert "<html" in html and "Everyday claims: manager" in html and "郭平" in html

    html = admin.get(f"{RULES}simulate/?source=claim&claim_number=BX-0000-999999&rules=draft", **HTMX).content.decode()
    assert "No claim has that number." in html


def test_the_dry_run_page_lists_the_changed_claims_with_names(admin, people, draft):
    submit(make_claim(people["heming"]))
    submit(make_claim(people["zhangwei"]))
    rule_add(
        rule_set=draft,
        name="Sales: the VP approves",
        steps=[{"kind": StepKind.MANAGER_LEVEL, "levels": 2}],
        departments=[people["hujun"].department],
        position=1,
    )
    html = admin.get(f"{RULES}dry-run/").content.decode()
    assert "Checked 2 claims submitted since" in html
    assert html.count('data-testid="changed-claim"') == 1
    row = html[html.index('data-testid="changed-claim"') :]
    assert "何明" in row and "郭平" in row and "胡军" in row
    html = admin.get(f"{RULES}dry-run/?days=1", **HTMX).content.decode()
    assert "<html" not in html and "Checked 2 claims" in html


def published_with(people, rules: int) -> None:
    """Publish a version of ``rules`` rules, each with departments, categories and three steps."""
    draft = rule_set_draft(actor=people["admin"].user)
    for n in range(rules):
        rule_add(
            rule_set=draft,
            name=f"Rule {n}",
            departments=[people["hujun"].department, people["chenjie"].department],
            categories=list(ExpenseCategory.objects.all()[:3]),
            amount_min=Decimal(n),
            steps=[
                {"kind": StepKind.DIRECT_MANAGER},
                {"kind": StepKind.NAMED, "named_approver": people["yuanyuan"]},
                {"kind": StepKind.ROLE, "role": "finance"},
            ],
        )
    rule_set_publish(rule_set_id=draft.pk, actor=people["admin"].user)
    rule_set_draft(actor=people["admin"].user)


def test_the_rules_page_runs_the_same_few_queries_whatever_the_number_of_rules(admin, people):
    published_with(people, 3)
    with CaptureQueriesContext(connection) as few:
        assert admin.get(RULES).status_code == 200
    published_with(people, 25)
    with CaptureQueriesContext(connection) as many:
        html = admin.get(RULES).content.decode()
    assert "Rule 24" in html
    assert len(many) == len(few) <= 15


def test_the_editor_page_runs_the_same_few_queries_whatever_the_number_of_rules(admin, people):
    published_with(people, 3)
    with CaptureQueriesContext(connection) as few:
        assert admin.get(f"{RULES}draft/").status_code == 200
    RuleSet.objects.filter(status=RuleSetStatus.DRAFT).delete()
    published_with(people, 25)
    assert RoutingRule.objects.filter(rule_set__status="draft").count() == 30
    with CaptureQueriesContext(connection) as many:
        html = admin.get(f"{RULES}draft/").content.decode()
    assert "Rule 24" in html and 'data-testid="ready"' in html
    assert len(many) == len(few) <= 25


def test_a_rule_after_one_matching_every_claim_is_flagged_as_never_reached(admin, draft):
    rule_add(rule_set=draft, name="Too late", steps=[{"kind": StepKind.DIRECT_MANAGER}], amount_min=Decimal("100"))
    html = admin.get(f"{RULES}draft/").content.decode()
    assert html.count('data-testid="never-reached"') == 1
    assert "Never reached: “Everyday claims: manager” above matches every claim." in html


def test_opening_a_published_step_for_editing_in_place_sends_the_browser_to_the_overview(admin):
    step = v1().rules.order_by("position").first().steps.first()
    response = admin.get(f"{RULES}draft/steps/{step.pk}/", **HTMX)
    assert response.status_code == 204 and response["HX-Redirect"] == RULES
    assert "Published rule sets cannot change" in admin.get(RULES).content.decode()
