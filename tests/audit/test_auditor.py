"""The auditor role: reads every submitted claim or only granted departments' (and those below), never
writes, and every reveal of a bank or ID number is an audit event."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from guardian.shortcuts import assign_perm
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from approvals import services as approvals
from audit.models import AuditEvent
from audit.verification import verify_chain
from config.errors import ForbiddenError, NotFoundError
from org.models import Department
from reimbursement import services as claims
from reimbursement.selectors import claims_visible_to
from tests.audit.conftest import pending_task
from tests.reimbursement.factories import line_input, make_claim, submit

pytestmark = pytest.mark.django_db
CLAIMS = "/api/v1/claims/"
TASKS = "/api/v1/approval-tasks/"
ACCOUNT = "6222020200112233445"


def fresh(user):
    """The user as a new request would load it (roles are cached on the object)."""
    return get_user_model().objects.get(pk=user.pk)


def grant(username: str, *args: str) -> str:
    out = io.StringIO()
    call_command("grant_auditor", username, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def claims_by_department(people):
    """Submitted claims in platform and mobile (both under R&D) and East China Sales; a draft in South."""
    return {
        "platform": submit(make_claim(people["zhangwei"])),
        "mobile": submit(make_claim(people["wuhao"])),
        "sales-east": submit(make_claim(people["heming"])),
        "draft": make_claim(people["songjia"]),
    }


@pytest.fixture
def auditor(people):
    return people["auditor"].user


def visible(user) -> set[int]:
    return set(claims_visible_to(fresh(user)).values_list("pk", flat=True))


def api_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# --- Scope -----------------------------------------------------------------------------------------


def test_an_auditor_without_grants_sees_every_submitted_claim_but_no_draft(auditor, claims_by_department):
    c = claims_by_department
    assert visible(auditor) == {c["platform"].pk, c["mobile"].pk, c["sales-east"].pk}


def test_an_auditor_granted_a_department_sees_it_and_the_departments_below_only(auditor, claims_by_department):
    c = claims_by_department
    output = grant("auditor", "--department", "rnd")
    assert "rnd" in output
    assert visible(auditor) == {c["platform"].pk, c["mobile"].pk}
    grant("auditor", "--department", "sales-east")
    assert visible(auditor) == {c["platform"].pk, c["mobile"].pk, c["sales-east"].pk}


def test_a_leaf_grant_does_not_reach_its_siblings_or_parent(auditor, claims_by_department, people):
    c = claims_by_department
    grant("auditor", "--department", "platform")
    hq_claim = submit(make_claim(people["hujun"]))  # the VP's claim is made for Sales, above the grant
    assert visible(auditor) == {c["platform"].pk}
    assert hq_claim.pk not in visible(auditor)


def test_a_grant_through_a_group_counts_too(auditor, claims_by_department):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="internal audit mobile")
    auditor.groups.add(group)
    assign_perm("org.audit_department", group, Department.objects.get(code="mobile"))
    assert visible(auditor) == {claims_by_department["mobile"].pk}


def test_the_grant_does_nothing_for_someone_without_the_auditor_role(people, claims_by_department):
    liuyang = people["liuyang"].user  # manager of platform: sees the claims he decides only
    assign_perm("org.audit_department", liuyang, Department.objects.get(code="sales-east"))
    assert claims_by_department["sales-east"].pk not in visible(liuyang)


def test_revoking_departments_and_the_role(auditor, claims_by_department):
    c = claims_by_department
    grant("auditor", "--department", "rnd", "sales-east")
    grant("auditor", "--revoke", "--department", "sales-east")
    assert visible(auditor) == {c["platform"].pk, c["mobile"].pk}
    warning = grant("auditor", "--revoke", "--department", "rnd")
    assert "every submitted claim" in warning  # the last grant gone: sight widens, and the command says so
    assert visible(auditor) == {c["platform"].pk, c["mobile"].pk, c["sales-east"].pk}
    assert "no longer an auditor" in grant("auditor", "--revoke")
    assert visible(auditor) == set()
    actions = list(
        AuditEvent.objects.filter(target_type="auth.user").order_by("sequence").values_list("action", "data")
    )
    assert actions == [
        ("auditor.granted", {"departments": ["rnd", "sales-east"]}),
        ("auditor.departments_revoked", {"departments": ["sales-east"]}),
        ("auditor.departments_revoked", {"departments": ["rnd"]}),
        ("auditor.revoked", {"departments": []}),
    ]
    assert verify_chain().whole


def test_grant_auditor_makes_an_employee_an_auditor_and_refuses_unknown_names(people, claims_by_department):
    grant("lina")
    assert claims_by_department["sales-east"].pk in visible(people["lina"].user)
    with pytest.raises(CommandError, match="nobody"):
        grant("nobody")
    with pytest.raises(CommandError, match="atlantis"):
        grant("lina", "--department", "atlantis")


# --- Reads: 200 in scope, 404 outside ---------------------------------------------------------------


def test_reads_are_200_in_scope_and_404_outside(auditor, claims_by_department):
    c = claims_by_department
    grant("auditor", "--department", "rnd")
    api = api_for(auditor)
    page = Client()
    page.force_login(auditor)
    in_scope, outside = c["platform"], c["sales-east"]
    assert api.get(f"{CLAIMS}{in_scope.pk}/").status_code == 200
    assert api.get(f"{CLAIMS}{in_scope.pk}/lines/").status_code == 200
    assert page.get(f"/claims/{in_scope.pk}/").status_code == 200
    assert api.get(f"{CLAIMS}{outside.pk}/").status_code == 404
    assert api.get(f"{CLAIMS}{outside.pk}/lines/").status_code == 404
    assert page.get(f"/claims/{outside.pk}/").status_code == 404
    assert api.get(f"{CLAIMS}{c['draft'].pk}/").status_code == 404
    listed = {row["id"] for row in api.get(f"{CLAIMS}?page_size=100").json()["results"]}
    assert listed == {c["platform"].pk, c["mobile"].pk}


# --- Writes: 403 in scope, 404 outside ------------------------------------------------------------


def test_claim_writes_are_403_in_scope_and_404_outside(auditor, claims_by_department):
    c = claims_by_department
    grant("auditor", "--department", "rnd")
    api = api_for(auditor)
    before = AuditEvent.objects.count()
    line_payload = {
        "expense_date": str(c["platform"].lines.get().expense_date),
        "category": c["platform"].lines.get().category_id,
        "amount": "50.00",
        "currency": "CNY",
    }
    for claim, expected in ((c["platform"], 403), (c["sales-east"], 404)):
        line = claim.lines.get()
        attempts = [
            api.patch(f"{CLAIMS}{claim.pk}/", {"purpose": "Audited"}),
            api.delete(f"{CLAIMS}{claim.pk}/"),
            api.post(f"{CLAIMS}{claim.pk}/submit/", {}),
            api.post(f"{CLAIMS}{claim.pk}/withdraw/", {}),
            api.post(f"{CLAIMS}{claim.pk}/lines/", line_payload),
            api.patch(f"{CLAIMS}{claim.pk}/lines/{line.pk}/", {"description": "Audited"}),
            api.delete(f"{CLAIMS}{claim.pk}/lines/{line.pk}/"),
        ]
        assert [r.status_code for r in attempts] == [expected] * len(attempts), (claim, attempts)
    # The services themselves, for every caller (HTML, API, tasks): visible 403, invisible 404.
    user = fresh(auditor)
    with pytest.raises(ForbiddenError):
        claims.claim_withdraw(claim_id=c["platform"].pk, actor=user)
    with pytest.raises(ForbiddenError):
        claims.line_update(line_id=c["mobile"].lines.get().pk, actor=user, data=line_input())
    with pytest.raises(NotFoundError):
        claims.claim_update(claim_id=c["sales-east"].pk, actor=user, purpose="x")
    assert AuditEvent.objects.count() == before


def test_claim_pages_refuse_an_auditors_changes(auditor, claims_by_department):
    page = Client()
    page.force_login(auditor)
    claim = claims_by_department["platform"]
    for url in (f"/claims/{claim.pk}/edit/", f"/claims/{claim.pk}/withdraw/", f"/claims/{claim.pk}/delete/"):
        assert page.post(url, {"purpose": "x", "reason": "x"}).status_code == 404, url


def test_approval_actions_are_refused_to_an_auditor(auditor, claims_by_department, people):
    claim = claims_by_department["platform"]
    task = pending_task(claim)
    line = claim.lines.get()
    api = api_for(auditor)
    attempts = {
        "approve": api.post(f"{TASKS}{task.pk}/approve/", {}),
        "reject": api.post(f"{TASKS}{task.pk}/reject/", {"reason": "x"}),
        "return": api.post(f"{TASKS}{task.pk}/return/", {"reason": "x"}),
        "transfer": api.post(f"{TASKS}{task.pk}/transfer/", {"to": people["lina"].pk}),
        "add-approver": api.post(f"{TASKS}{task.pk}/add-approver/", {"approver": people["lina"].pk}),
        "cut-line": api.post(f"{TASKS}{task.pk}/cut-line/", {"line": line.pk, "amount": "1.00", "reason": "x"}),
    }
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 404)
    bulk = api.post(f"{TASKS}bulk-approve/", {"tasks": [task.pk]}, format="json")
    assert bulk.status_code == 200 and (bulk.json()["approved"], bulk.json()["refused"]) == (0, 1)
    assert bulk.json()["results"][0]["code"] == "not_found"
    page = Client()
    page.force_login(auditor)
    assert page.post(f"/approvals/tasks/{task.pk}/approve/", {}).status_code == 404
    with pytest.raises(NotFoundError):
        approvals.task_approve(task_id=task.pk, actor=fresh(auditor))
    task.refresh_from_db()
    assert task.status == "pending"


def test_an_auditor_cannot_comment_on_a_claim(auditor, claims_by_department):
    with pytest.raises((ForbiddenError, NotFoundError)):
        approvals.claim_comment_add(claim_id=claims_by_department["platform"].pk, actor=fresh(auditor), text="Hm")


# --- Reveals of bank and ID numbers ------------------------------------------------------------


@pytest.fixture
def account(people):
    zhangwei = people["zhangwei"]
    return claims.payee_account_set(
        employee=zhangwei,
        actor=zhangwei.user,
        account_name="张伟",
        bank_name="ICBC",
        account_number=ACCOUNT,
        id_number="11010519491231002X",
    )


def reveals():
    return AuditEvent.objects.filter(action="payee_account.revealed")


def test_each_reveal_by_an_auditor_writes_exactly_one_event(auditor, account, claims_by_department):
    user = fresh(auditor)
    assert claims.payee_account_reveal(account=account, actor=user, field="account_number", reason="Sample") == ACCOUNT
    assert reveals().count() == 1
    assert claims.payee_account_reveal(account=account, actor=user, field="id_number") == "11010519491231002X"
    assert claims.payee_account_reveal(account=account, actor=user, field="account_number") == ACCOUNT
    events = list(reveals().order_by("sequence"))
    assert len(events) == 3
    assert [(e.actor_id, e.actor_name, e.data["field"]) for e in events] == [
        (user.pk, "许审计", "account_number"),
        (user.pk, "许审计", "id_number"),
        (user.pk, "许审计", "account_number"),
    ]
    assert events[0].data["reason"] == "Sample"
    assert ACCOUNT not in str([e.data for e in events])  # the number itself is never written down
    assert verify_chain().whole


def test_finance_reveals_are_audited_the_same_way(people, account):
    sunli = people["sunli"].user
    claims.payee_account_reveal(account=account, actor=sunli, field="account_number")
    claims.payee_account_reveal(account=account, actor=sunli, field="account_number")
    assert reveals().filter(actor=sunli).count() == 2


def test_an_auditor_outside_the_employees_departments_or_another_employee_cannot_reveal(
    auditor, account, claims_by_department, people
):
    grant("auditor", "--department", "sales")
    with pytest.raises(NotFoundError):
        claims.payee_account_reveal(account=account, actor=fresh(auditor), field="account_number")
    with pytest.raises(NotFoundError):
        claims.payee_account_reveal(account=account, actor=people["lina"].user, field="account_number")
    assert not reveals().exists()
