"""The approvals REST API: an approver's whole day through it, every action and its refusals (404 for a task
that is not yours, 409 once decided, 400 on the field), delegation, bulk approval, comments, the routing
rules for administrators, the inbox's filters and its query count."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from approvals import services
from approvals.choices import RuleSetStatus, TaskStatus
from approvals.models import ApprovalTask, ClaimComment, Delegation, RuleSet
from audit.models import AuditEvent
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, ExpenseCategory
from tests.reimbursement.factories import add_line, make_claim, submit

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/approvals/inbox/"
HISTORY = "/api/v1/approvals/history/"
TASKS = "/api/v1/approval-tasks/"
DELEGATIONS = "/api/v1/approvals/delegations/"
RULE_SETS = "/api/v1/routing/rule-sets/"
SIMULATE = "/api/v1/routing/simulate/"


def api_for(employee) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=employee.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def pending(claim) -> list[ApprovalTask]:
    return list(ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).select_related("assignee"))


@pytest.fixture
def people(demo_company):
    return demo_company


@pytest.fixture
def liuyang(people):
    return api_for(people["liuyang"])


@pytest.fixture
def everyday(people):
    """zhangwei's office claim, waiting for liuyang (his manager)."""
    return submit(make_claim(people["zhangwei"], lines=2, amount=Decimal("100.00")))


@pytest.fixture
def task(everyday) -> ApprovalTask:
    return pending(everyday)[0]


# --- An approver's day ----------------------------------------------------------------------------


def test_a_large_claim_goes_through_the_whole_chain_by_api(people):
    claim = submit(make_claim(people["zhangwei"], lines=1, category="telecom", amount=Decimal("8000.00")))
    inbox = api_for(people["liuyang"]).get(INBOX)
    assert inbox.status_code == 200
    [row] = inbox.json()["results"]
    assert row["claim"]["number"] == claim.number and row["claim"]["total"] == {"amount": "8000.00", "currency": "CNY"}
    assert row["claim"]["claimant"]["name"] == "张伟" and row["claim"]["categories"]
    assert "Direct manager" in row["reason"] and row["delegated"] is False and row["status"] == "pending"

    detail = api_for(people["liuyang"]).get(f"{TASKS}{row['id']}/").json()
    assert detail["can_act"] is True
    assert detail["why_routed"]["rule_name"].startswith("Large claims")
    assert detail["why_routed"]["rule_set_version"] == 1
    [flow] = detail["chain"]
    assert [s["name"] for s in flow["steps"]] == ["Manager", "Head of division", "Finance review"]
    assert [s["status"] for s in flow["steps"]] == ["active", "waiting", "waiting"]
    assert len(detail["claim"]["lines"]) == 1

    approved = api_for(people["liuyang"]).post(f"{TASKS}{row['id']}/approve/", {"comment": "Fine"})
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert (body["status"], body["channel"], body["comment"], body["can_act"]) == ("approved", "api", "Fine", False)
    assert [s["status"] for s in body["chain"][0]["steps"]] == ["approved", "active", "waiting"]

    chenjie = api_for(people["chenjie"])
    [head_task] = chenjie.get(INBOX).json()["results"]
    line = claim.lines.get()
    cut = chenjie.post(
        f"{TASKS}{head_task['id']}/cut-line/", {"line": line.pk, "amount": "6000.00", "reason": "Over budget"}
    )
    assert cut.status_code == 200, cut.json()
    assert cut.json()["claim"]["lines"][0]["approved_amount"] == {"amount": "6000.00", "currency": "CNY"}
    assert chenjie.post(f"{TASKS}{head_task['id']}/approve/", {}).status_code == 200

    finance = pending(claim)
    clerk = api_for(finance[0].assignee)
    assert clerk.post(f"{TASKS}{finance[0].pk}/approve/", {}).status_code == 200
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED and claim.approved_amount == Decimal("6000.00")
    decided = AuditEvent.objects.filter(action="approval.task.decided", target_id=str(claim.pk))
    assert [e.data["channel"] for e in decided] == ["api", "api", "api"]

    history = api_for(people["liuyang"]).get(HISTORY).json()
    assert [(t["id"], t["status"]) for t in history["results"]] == [(row["id"], "approved")]


def test_reject_and_return_need_a_reason_on_the_field(liuyang, everyday, task):
    for action in ("reject", "return"):
        missing = liuyang.post(f"{TASKS}{task.pk}/{action}/", {})
        assert missing.status_code == 400 and "reason" in error_of(missing)["fields"]
        blank = liuyang.post(f"{TASKS}{task.pk}/{action}/", {"reason": "  "})
        assert blank.status_code == 400 and "reason" in error_of(blank)["fields"]
    assert Claim.objects.get(pk=everyday.pk).status == ClaimStatus.IN_APPROVAL
    returned = liuyang.post(f"{TASKS}{task.pk}/return/", {"reason": "Add the receipt"})
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert Claim.objects.get(pk=everyday.pk).status == ClaimStatus.RETURNED


def test_a_rejection_is_final(liuyang, everyday, task):
    response = liuyang.post(f"{TASKS}{task.pk}/reject/", {"reason": "Not a business expense"})
    assert response.status_code == 200
    assert response.json()["claim"]["status"] == "rejected"
    assert response.json()["chain"][0]["status"] == "rejected"


def test_a_decided_task_is_409_with_who_decided_it(people, liuyang, task):
    assert liuyang.post(f"{TASKS}{task.pk}/approve/", {}).status_code == 200
    for action, body in [("approve", {}), ("reject", {"reason": "x"}), ("return", {"reason": "x"})]:
        again = liuyang.post(f"{TASKS}{task.pk}/{action}/", body)
        assert again.status_code == 409, again.json()
        error = error_of(again)
        assert error["code"] == "already_decided" and "刘洋" in error["message"]
    still = liuyang.get(f"{TASKS}{task.pk}/")
    assert still.status_code == 200 and still.json()["can_act"] is False


def test_a_task_that_is_not_yours_is_404_everywhere(people, task, everyday):
    stranger = api_for(people["zhoujing"])
    line = everyday.lines.first()
    attempts = [
        ("get", "", None),
        ("post", "approve/", {}),
        ("post", "reject/", {"reason": "x"}),
        ("post", "return/", {"reason": "x"}),
        ("post", "transfer/", {"to": people["sunli"].pk}),
        ("post", "add-approver/", {"approver": people["sunli"].pk, "position": "before"}),
        ("post", "cut-line/", {"line": line.pk, "amount": "1.00", "reason": "x"}),
    ]
    for method, suffix, body in attempts:
        response = getattr(stranger, method)(f"{TASKS}{task.pk}/{suffix}", body)
        assert response.status_code == 404, (suffix, response.json())
        assert error_of(response)["code"] == "not_found"
        # A bad body changes nothing: the task is still not theirs.
        if method == "post":
            assert stranger.post(f"{TASKS}{task.pk}/{suffix}", {"nonsense": 1}).status_code == 404
    assert stranger.get(f"{TASKS}999999/").status_code == 404
    assert pending(everyday) == [task]
    assert not stranger.get(INBOX).json()["results"]


def test_transfer_hands_over_and_refuses_on_the_to_field(people, liuyang, everyday, task):
    unknown = liuyang.post(f"{TASKS}{task.pk}/transfer/", {"to": 999999})
    assert unknown.status_code == 400 and "to" in error_of(unknown)["fields"]
    claimant = liuyang.post(f"{TASKS}{task.pk}/transfer/", {"to": people["zhangwei"].pk})
    assert claimant.status_code == 400 and "to" in error_of(claimant)["fields"]
    moved = liuyang.post(f"{TASKS}{task.pk}/transfer/", {"to": people["zhoujing"].pk, "comment": "On leave"})
    assert moved.status_code == 200, moved.json()
    assert moved.json()["status"] == "transferred"
    [new] = pending(everyday)
    assert new.assignee == people["zhoujing"] and "On leave" in new.reason
    assert api_for(people["zhoujing"]).post(f"{TASKS}{new.pk}/approve/", {}).status_code == 200


def test_add_an_approver_before_or_after(people, liuyang, everyday, task):
    bad = liuyang.post(f"{TASKS}{task.pk}/add-approver/", {"approver": people["sunli"].pk, "position": "beside"})
    assert bad.status_code == 400 and "position" in error_of(bad)["fields"]
    claimant = liuyang.post(f"{TASKS}{task.pk}/add-approver/", {"approver": people["zhangwei"].pk, "position": "after"})
    assert claimant.status_code == 400 and "approver" in error_of(claimant)["fields"]
    before = liuyang.post(
        f"{TASKS}{task.pk}/add-approver/", {"approver": people["sunli"].pk, "position": "before", "comment": "Budget"}
    )
    assert before.status_code == 200, before.json()
    assert before.json()["status"] == "waiting"
    assert [t.assignee for t in pending(everyday)] == [people["sunli"]]
    # Waiting for the added approver: not pending, so 409.
    assert liuyang.post(f"{TASKS}{task.pk}/approve/", {}).status_code == 409
    sunli_task = pending(everyday)[0]
    assert api_for(people["sunli"]).post(f"{TASKS}{sunli_task.pk}/approve/", {}).status_code == 200
    after = liuyang.post(f"{TASKS}{task.pk}/add-approver/", {"approver": people["yuanyuan"].pk, "position": "after"})
    assert after.status_code == 200
    assert [s["name"] for s in after.json()["chain"][0]["steps"]][-1] == "Added approver"
    assert liuyang.post(f"{TASKS}{task.pk}/approve/", {}).status_code == 200
    assert [t.assignee for t in pending(everyday)] == [people["yuanyuan"]]


def test_cut_line_refuses_a_line_of_another_claim_and_a_bad_amount(people, liuyang, everyday, task):
    other = make_claim(people["lina"])
    wrong_line = liuyang.post(
        f"{TASKS}{task.pk}/cut-line/", {"line": other.lines.get().pk, "amount": "1.00", "reason": "x"}
    )
    assert wrong_line.status_code == 400 and "line" in error_of(wrong_line)["fields"]
    line = everyday.lines.first()
    too_much = liuyang.post(f"{TASKS}{task.pk}/cut-line/", {"line": line.pk, "amount": "150.00", "reason": "x"})
    assert too_much.status_code == 400 and "amount" in error_of(too_much)["fields"]
    no_reason = liuyang.post(f"{TASKS}{task.pk}/cut-line/", {"line": line.pk, "amount": "50.00", "reason": ""})
    assert no_reason.status_code == 400 and "reason" in error_of(no_reason)["fields"]
    assert not everyday.lines.filter(approved_amount__isnull=False).exists()


def test_an_approval_retried_with_its_idempotency_key_is_replayed(liuyang, everyday, task):
    first = liuyang.post(f"{TASKS}{task.pk}/approve/", {"comment": "ok"}, HTTP_IDEMPOTENCY_KEY="approve-1")
    again = liuyang.post(f"{TASKS}{task.pk}/approve/", {"comment": "ok"}, HTTP_IDEMPOTENCY_KEY="approve-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert AuditEvent.objects.filter(action="approval.task.decided", target_id=str(everyday.pk)).count() == 1
    # Without the key the repeat is a new request, refused as decided.
    assert liuyang.post(f"{TASKS}{task.pk}/approve/", {"comment": "ok"}).status_code == 409


# --- Bulk approval --------------------------------------------------------------------------------


def test_bulk_approve_gives_a_result_per_id(people, liuyang):
    mine = [pending(submit(make_claim(people[name])))[0] for name in ("zhangwei", "lina", "wangfang")]
    not_mine = pending(submit(make_claim(people["wuhao"])))[0]
    services.task_approve(task_id=mine[2].pk, actor=people["liuyang"].user)
    ids = [mine[0].pk, not_mine.pk, mine[1].pk, mine[2].pk, 999999, mine[0].pk]
    response = liuyang.post(f"{TASKS}bulk-approve/", {"tasks": ids, "comment": "Month end"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["approved"], body["refused"]) == (2, 3)
    assert [(r["task"], r["ok"], r["code"]) for r in body["results"]] == [
        (mine[0].pk, True, ""),
        (not_mine.pk, False, "not_found"),
        (mine[1].pk, True, ""),
        (mine[2].pk, False, "already_decided"),
        (999999, False, "not_found"),
    ]
    assert all(r["message"] for r in body["results"] if not r["ok"])
    assert ApprovalTask.objects.get(pk=mine[0].pk).comment == "Month end"
    assert ApprovalTask.objects.get(pk=not_mine.pk).status == TaskStatus.PENDING
    empty = liuyang.post(f"{TASKS}bulk-approve/", {"tasks": []})
    assert empty.status_code == 400 and "tasks" in error_of(empty)["fields"]
    too_many = liuyang.post(f"{TASKS}bulk-approve/", {"tasks": list(range(1, 102))})
    assert too_many.status_code == 400


# --- Delegation -----------------------------------------------------------------------------------


def test_a_delegate_sees_and_decides_delegated_tasks_on_behalf(people, everyday, task):
    liuyang, zhoujing = api_for(people["liuyang"]), api_for(people["zhoujing"])
    today = timezone.localdate()
    created = liuyang.post(
        DELEGATIONS,
        {"delegate": people["zhoujing"].pk, "starts_on": str(today), "ends_on": str(today + datetime.timedelta(2))},
    )
    assert created.status_code == 201, created.json()
    delegation = created.json()
    assert delegation["delegate"]["id"] == people["zhoujing"].pk and delegation["in_force"] is True
    assert [d["id"] for d in zhoujing.get(DELEGATIONS).json()["results"]] == [delegation["id"]]

    [row] = zhoujing.get(INBOX).json()["results"]
    assert (row["id"], row["delegated"], row["assignee"]["name"]) == (task.pk, True, "刘洋")
    decided = zhoujing.post(f"{TASKS}{task.pk}/approve/", {})
    assert decided.status_code == 200, decided.json()
    assert (decided.json()["decided_by_name"], decided.json()["on_behalf_of_name"]) == ("周静", "刘洋")
    assert zhoujing.get(HISTORY).json()["results"][0]["delegated"] is True
    # Once decided, the assignee and the delegate both get 409 (not 404), whoever decided it.
    assert liuyang.post(f"{TASKS}{task.pk}/approve/", {}).status_code == 409
    other = pending(submit(make_claim(people["lina"])))[0]
    assert liuyang.post(f"{TASKS}{other.pk}/approve/", {}).status_code == 200
    too_late = zhoujing.post(f"{TASKS}{other.pk}/reject/", {"reason": "No"})
    assert too_late.status_code == 409 and error_of(too_late)["code"] == "already_decided"

    assert zhoujing.post(f"{DELEGATIONS}{delegation['id']}/end/").status_code == 404  # only the delegator
    ended = liuyang.post(f"{DELEGATIONS}{delegation['id']}/end/")
    assert ended.status_code == 200 and ended.json()["active"] is False
    later = pending(submit(make_claim(people["lina"])))[0]
    assert zhoujing.post(f"{TASKS}{later.pk}/approve/", {}).status_code == 404


def test_a_delegation_is_refused_on_its_fields(people):
    liuyang = api_for(people["liuyang"])
    today = timezone.localdate()
    cases = [
        ({"delegate": people["liuyang"].pk, "starts_on": str(today), "ends_on": str(today)}, "delegate"),
        ({"delegate": 999999, "starts_on": str(today), "ends_on": str(today)}, "delegate"),
        ({"delegate": people["zhoujing"].pk, "starts_on": str(today), "ends_on": "2001-01-01"}, "ends_on"),
        ({"delegate": people["zhoujing"].pk, "starts_on": str(today), "ends_on": str(today), "categories": [0]}, ""),
    ]
    for body, field in cases:
        response = liuyang.post(DELEGATIONS, body)
        assert response.status_code == 400, response.json()
        assert (field or "categories") in error_of(response)["fields"]
    assert not Delegation.objects.exists()


def test_a_delegation_limited_to_categories(people, everyday, task):
    liuyang, zhoujing = api_for(people["liuyang"]), api_for(people["zhoujing"])
    today = str(timezone.localdate())
    hotel = ExpenseCategory.objects.get(code="hotel").pk
    body = {"delegate": people["zhoujing"].pk, "starts_on": today, "ends_on": today, "categories": [hotel]}
    assert liuyang.post(DELEGATIONS, body).json()["categories"][0]["code"] == "hotel"
    assert zhoujing.get(INBOX).json()["results"] == []  # an office claim
    assert zhoujing.post(f"{TASKS}{task.pk}/approve/", {}).status_code == 404


# --- Comments -------------------------------------------------------------------------------------


def test_the_claimant_and_approver_comment_others_do_not(people, everyday):
    url = f"/api/v1/claims/{everyday.pk}/comments/"
    by_approver = api_for(people["liuyang"]).post(url, {"text": "Which project?"})
    assert by_approver.status_code == 201, by_approver.json()
    assert by_approver.json()["author_name"] == "刘洋"
    assert api_for(people["zhangwei"]).post(url, {"text": "HZ-01"}).status_code == 201
    assert api_for(people["zhoujing"]).post(url, {"text": "Hi"}).status_code == 404
    finance = api_for(people["sunli"]).post(url, {"text": "Paid soon"})  # may read it, may not comment
    assert finance.status_code == 403 and error_of(finance)["code"]
    blank = api_for(people["zhangwei"]).post(url, {"text": " "})
    assert blank.status_code == 400 and "text" in error_of(blank)["fields"]
    assert list(ClaimComment.objects.values_list("text", flat=True)) == ["Which project?", "HZ-01"]


# --- The inbox: filters and queries ---------------------------------------------------------------


def test_the_inbox_filters_and_sorts(people, liuyang):
    small = submit(make_claim(people["zhangwei"], amount=Decimal("50.00")))
    large = submit(make_claim(people["lina"], lines=1, category="telecom", amount=Decimal("6000.00")))
    hotel = make_claim(people["wangfang"], amount=Decimal("300.00"))
    add_line(hotel, category="taxi", amount=Decimal("20.00"))
    hotel = submit(hotel)
    ApprovalTask.objects.filter(claim=small).update(activated_at=timezone.now() - datetime.timedelta(days=5))

    def numbers(query: str = "") -> list[str]:
        response = liuyang.get(f"{INBOX}{query}")
        assert response.status_code == 200, response.json()
        return [row["claim"]["number"] for row in response.json()["results"]]

    assert sorted(numbers()) == sorted([small.number, large.number, hotel.number])
    assert numbers("?ordering=amount") == [large.number, hotel.number, small.number]
    assert numbers("?sort=amount") == numbers("?ordering=amount")
    assert numbers("?ordering=age")[0] == small.number
    assert numbers("?amount_min=100&amount_max=1000") == [hotel.number]
    taxi = ExpenseCategory.objects.get(code="taxi").pk
    assert numbers(f"?category={taxi}") == [hotel.number]
    platform = people["zhangwei"].department_id
    assert len(numbers(f"?department={platform}")) == 3
    assert numbers(f"?department={people['sunli'].department_id}") == []
    assert numbers("?age=3") == [small.number]
    bad = liuyang.get(f"{INBOX}?category=999999")
    assert bad.status_code == 400 and "category" in error_of(bad)["fields"]
    assert liuyang.get(f"{INBOX}?ordering=colour").status_code == 400


# The token with its user, the caller's employee, their delegations in force (and those delegations'
# categories), the count, the page of tasks with claim, claimant, assignee and step joined, and the lines
# with their categories. The same for one task and for thirty: nothing per row.
INBOX_QUERIES = 7


@pytest.mark.parametrize("count", [1, 30])
def test_the_inbox_runs_the_same_few_queries_for_1_or_30_tasks(people, django_assert_num_queries, count):
    reports = ["zhangwei", "lina", "wangfang", "zhaolei", "huangyan"]
    for n in range(count):
        submit(make_claim(people[reports[n % len(reports)]], lines=2))
    # A delegation in force too, so its branch of the query is part of what is counted.
    services.delegation_create(
        actor=people["zhoujing"].user,
        delegate=people["liuyang"],
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate(),
        category_ids=[ExpenseCategory.objects.get(code="hotel").pk],
    )
    api = api_for(people["liuyang"])
    with django_assert_num_queries(INBOX_QUERIES):
        response = api.get(f"{INBOX}?page_size=100&ordering=due")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == count and len(body["results"]) == count
    assert all(len(row["claim"]["categories"]) == 1 for row in body["results"])


@pytest.mark.parametrize("flows", [1, 3])
def test_a_task_is_read_in_a_fixed_number_of_queries(people, liuyang, django_assert_max_num_queries, flows):
    claim = make_claim(people["zhangwei"], lines=3)
    for _ in range(flows - 1):
        submit(claim)
        services.task_return(task_id=pending(claim)[0].pk, actor=people["liuyang"].user, reason="again")
    submit(claim)
    with django_assert_max_num_queries(12):
        response = liuyang.get(f"{TASKS}{pending(claim)[0].pk}/")
    assert response.status_code == 200
    assert len(response.json()["chain"]) == flows


# --- Routing rules (administrators) ---------------------------------------------------------------


def test_routing_is_for_administrators_only(people):
    rule_set = RuleSet.objects.get()
    for who in ("liuyang", "sunli", "auditor"):
        client = api_for(people[who])
        for method, url in [
            ("get", RULE_SETS),
            ("post", RULE_SETS),
            ("post", f"{RULE_SETS}draft/"),
            ("get", f"{RULE_SETS}{rule_set.pk}/"),
            ("post", f"{RULE_SETS}{rule_set.pk}/rules/"),
            ("post", f"{RULE_SETS}{rule_set.pk}/publish/"),
            ("post", SIMULATE),
        ]:
            response = getattr(client, method)(url, {})
            assert response.status_code == 404, (who, url, response.status_code)
            assert error_of(response)["code"] == "not_found"
    assert APIClient().get(RULE_SETS).status_code == 401
    assert RuleSet.objects.count() == 1


def test_an_administrator_drafts_edits_and_publishes_rules(people):
    admin = api_for(people["admin"])
    [published] = admin.get(RULE_SETS).json()["results"]
    assert (published["version"], published["status"], published["rule_count"]) == (1, "published", 2)

    created = admin.post(RULE_SETS)
    assert created.status_code == 201, created.json()
    draft = created.json()
    assert (draft["version"], draft["status"], len(draft["rules"])) == (2, "draft", 2)
    assert draft["rules"][0]["steps"][1]["kind"] == "department_head"
    assert created["Location"] == f"{RULE_SETS}{draft['id']}/"
    again = admin.post(RULE_SETS)
    assert again.status_code == 409 and error_of(again)["code"] == "draft_exists"
    same = admin.post(f"{RULE_SETS}draft/")
    assert same.status_code == 200 and same.json()["id"] == draft["id"]

    telecom = ExpenseCategory.objects.get(code="telecom").pk
    rule = {
        "name": "Phone bills: HR director",
        "position": 1,
        "categories": [telecom],
        "cost_centres": ["CC-1", "CC-2"],
        "steps": [{"kind": "named", "named_approver": people["yuanyuan"].pk, "name": "HR"}],
    }
    added = admin.post(f"{RULE_SETS}{draft['id']}/rules/", rule)
    assert added.status_code == 201, added.json()
    assert added.json()["steps"][0]["named_approver"]["name"] == "袁媛"
    assert added.json()["cost_centres"] == ["CC-1", "CC-2"]
    bad = admin.post(
        f"{RULE_SETS}{draft['id']}/rules/",
        {"name": "x", "departments": [999999], "steps": [{"kind": "named", "named_approver": 999999}]},
    )
    assert bad.status_code == 400
    assert set(error_of(bad)["fields"]) == {"departments", "steps.0.named_approver"}
    unknown_kind = admin.post(f"{RULE_SETS}{draft['id']}/rules/", {"name": "x", "steps": [{"kind": "boss"}]})
    assert unknown_kind.status_code == 400 and "steps.0.kind" in error_of(unknown_kind)["fields"]

    nobody = admin.post(f"{RULE_SETS}{draft['id']}/rules/", {"name": "Empty role", "steps": [{"kind": "role"}]})
    assert nobody.status_code == 201
    detail = admin.get(f"{RULE_SETS}{draft['id']}/").json()
    assert [r["name"] for r in detail["rules"]][0] == "Phone bills: HR director"
    assert detail["problems"]
    refused = admin.post(f"{RULE_SETS}{draft['id']}/publish/")
    assert refused.status_code == 400, refused.json()
    error = error_of(refused)
    assert error["code"] == "rule_set_invalid" and any("Empty role" in p for p in error["fields"]["rules"])
    assert RuleSet.objects.get(pk=draft["id"]).status == RuleSetStatus.DRAFT

    RuleSet.objects.get(pk=draft["id"]).rules.filter(name="Empty role").delete()
    published_now = admin.post(f"{RULE_SETS}{draft['id']}/publish/")
    assert published_now.status_code == 200, published_now.json()
    assert (published_now.json()["status"], published_now.json()["problems"]) == ("published", [])
    assert admin.post(f"{RULE_SETS}{draft['id']}/rules/", rule).status_code == 400  # not a draft any more
    assert admin.post(f"{RULE_SETS}{draft['id']}/publish/").status_code == 400

    phone = make_claim(people["zhangwei"], category="telecom", amount=Decimal("300.00"))
    phone.cost_centre = "CC-2"
    phone.save(update_fields=["cost_centre"])
    assert [t.assignee for t in pending(submit(phone))] == [people["yuanyuan"]]


def test_the_simulation_explains_where_a_claim_would_go(people):
    admin = api_for(people["admin"])
    large = admin.post(SIMULATE, {"claimant": people["zhangwei"].pk, "amount": "8000.00"})
    assert large.status_code == 200, large.json()
    body = large.json()
    assert body["matched_rule"]["name"].startswith("Large claims") and "5000" in body["reason"]
    assert body["rule_set"]["version"] == 1
    assert [s["name"] for s in body["steps"]] == ["Manager", "Head of division", "Finance review"]
    assert body["steps"][0]["approvers"][0]["employee"]["name"] == "刘洋"
    assert "Direct manager" in body["steps"][0]["approvers"][0]["reason"]
    assert body["skipped_steps"] == []

    # liuyang's own large claim: his manager chenjie is also the head of R&D, so that step is skipped.
    own = admin.post(SIMULATE, {"claimant": people["liuyang"].pk, "amount": "8000.00"}).json()
    assert [s["name"] for s in own["skipped_steps"]] == ["Head of division"]
    assert own["skipped_steps"][0]["skipped"]

    claim = make_claim(people["lina"], amount=Decimal("80.00"))
    from_claim = admin.post(SIMULATE, {"claim": claim.pk}).json()
    assert from_claim["matched_rule"]["name"].startswith("Everyday")
    assert (
        admin.post(SIMULATE, {"claim": claim.pk, "amount": "9000"}).json()["matched_rule"]["name"].startswith("Large")
    )
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.DRAFT  # nothing saved

    for body, field in [
        ({}, "claimant"),
        ({"claimant": people["lina"].pk}, "amount"),
        ({"claimant": 999999, "amount": "1"}, "claimant"),
        ({"claim": 999999}, "claim"),
        ({"claimant": people["lina"].pk, "amount": "1", "rule_set": 999999}, "rule_set"),
        ({"claimant": people["lina"].pk, "amount": "1", "categories": [999999]}, "categories"),
    ]:
        response = admin.post(SIMULATE, body)
        assert response.status_code == 400, (body, response.json())
        assert field in error_of(response)["fields"], (body, response.json())


def test_a_draft_can_be_simulated_before_it_is_published(people):
    admin = api_for(people["admin"])
    draft = admin.post(f"{RULE_SETS}draft/").json()
    rule = {"name": "All to HR", "position": 0, "steps": [{"kind": "named", "named_approver": people["yuanyuan"].pk}]}
    assert admin.post(f"{RULE_SETS}{draft['id']}/rules/", rule).status_code == 201
    facts = {"claimant": people["lina"].pk, "amount": "100.00"}
    on_draft = admin.post(SIMULATE, {**facts, "rule_set": draft["id"]}).json()
    assert on_draft["matched_rule"]["name"] == "All to HR"
    assert on_draft["steps"][0]["approvers"][0]["employee"]["id"] == people["yuanyuan"].pk
    assert admin.post(SIMULATE, facts).json()["matched_rule"]["name"].startswith("Everyday")
