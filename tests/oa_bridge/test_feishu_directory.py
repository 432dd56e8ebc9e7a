"""Feishu directory pull against the fake open platform: paging, managers, departed people, tokens,
rate limits, and the bridge's sync rules (deactivation threshold, SyncRun, task reassignment)."""

from __future__ import annotations

import copy
import time

import pytest
from django.core.cache import cache

from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from oa_bridge.connectors import for_connector
from oa_bridge.models import SyncRun
from oa_bridge.services.directory import directory_refetch, directory_sync
from org.models import Department, Employee, EmployeeExternalId
from tests.oa_bridge.fakes.feishu import FakeFeishu, make_connector
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_feishu():
    fake = FakeFeishu()
    yield fake
    fake.close()


def people(slug="feishu") -> dict[str, Employee]:
    links = EmployeeExternalId.objects.filter(connector=slug).select_related(
        "employee__manager", "employee__department"
    )
    return {link.external_id: link.employee for link in links}


def external_of(employee: Employee | None, slug="feishu") -> str | None:
    if employee is None:
        return None
    link = EmployeeExternalId.objects.filter(connector=slug, employee=employee).first()
    return link.external_id if link else None


def test_a_sync_builds_the_org_chart_with_managers_and_departed_people(fake_feishu):
    connector = make_connector(fake_feishu)
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert run.departments_seen == 5  # the root and the four departments
    assert run.users_seen == 10  # the resigned person is not listed; the person in two departments once

    staff = people()
    assert "ou_gone" not in staff
    platform = Department.objects.get(name="平台组 Platform")
    assert platform.parent.name == "研发部 Engineering" and platform.parent.parent.name == "飞书 Feishu"
    assert external_of(platform.head) == "ou_lead_plat"
    # Explicit manager first, then the department head, then up the tree.
    assert external_of(staff["ou_dev2"].manager) == "ou_lead_eng"
    assert external_of(staff["ou_dev1"].manager) == "ou_lead_plat"
    assert external_of(staff["ou_lead_plat"].manager) == "ou_lead_eng"
    assert external_of(staff["ou_fin1"].manager) == "ou_fin_head"  # the main leader of leaders[]
    assert staff["ou_ceo"].manager is None
    assert staff["ou_multi"].department.name == "财务部 Finance"  # the primary department
    assert staff["ou_frozen"].active is False and staff["ou_dev1"].active is True
    assert staff["ou_dev1"].employee_no == "F0004" and staff["ou_dev1"].title == "Engineer"
    # Paging: departments and users are asked with Feishu's id types and page sizes.
    assert all("page_size" in q for _, path, q in fake_feishu.calls if "contact" in path)


def test_the_token_is_cached_and_fetched_again_once_after_an_invalid_token_answer(fake_feishu):
    connector = make_connector(fake_feishu)
    directory_sync(connector_id=connector.pk)
    directory_sync(connector_id=connector.pk)
    assert fake_feishu.token_requests == 1

    fake_feishu.revoke_tokens()  # Feishu answers 99991663 to the cached token
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert fake_feishu.token_requests == 2


def test_a_token_close_to_expiry_is_refreshed_before_use(fake_feishu):
    fake_feishu.token_ttl = 200  # less than the five-minute margin
    connector = make_connector(fake_feishu)
    client = for_connector(connector)
    client.api.tokens.get()
    client.api.tokens.get()
    assert fake_feishu.token_requests == 2
    key = client.api.tokens.key
    token, expires = cache.get(key)
    assert expires - time.time() <= 200


def test_a_person_who_left_is_deactivated_and_their_open_task_reassigned(fake_feishu, demo_company):
    connector = make_connector(fake_feishu, deactivation_threshold_percent=50)
    directory_sync(connector_id=connector.pk)
    claim = submit(make_claim(people()["ou_dev1"]))
    [task] = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING)
    assert external_of(task.assignee) == "ou_lead_plat"  # dev1's department head

    fake_feishu.users = [u for u in fake_feishu.users if u["open_id"] != "ou_lead_plat"]
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.deactivated == 1, run.message
    assert people()["ou_lead_plat"].active is False
    assert "1 open approval task reassigned" in run.message
    [new] = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING)
    assert new.assignee.active and external_of(new.assignee) != "ou_lead_plat"


def test_a_mass_deactivation_stops_for_confirmation_and_changes_nothing(fake_feishu):
    connector = make_connector(fake_feishu)  # threshold 10 %
    directory_sync(connector_id=connector.pk)
    fake_feishu.users = [u for u in fake_feishu.users if u["department_ids"] != ["od-platform"]]
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.NEEDS_CONFIRMATION and run.deactivated == 3
    assert people()["ou_dev1"].active is True


def test_a_missing_scope_fails_the_run_and_names_the_scope(fake_feishu):
    connector = make_connector(fake_feishu)
    fake_feishu.scopes.discard("contact:user.base:readonly")
    fake_feishu.scopes.discard("contact:contact.base:readonly")
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.FAILED
    assert "contact:user.base:readonly" in run.message and "Missing permission" in run.message
    assert not EmployeeExternalId.objects.filter(connector="feishu").exists()


def test_a_targeted_refetch_reads_one_person_and_notices_one_who_left(fake_feishu):
    connector = make_connector(fake_feishu)
    directory_sync(connector_id=connector.pk)
    dev1 = next(u for u in fake_feishu.users if u["open_id"] == "ou_dev1")
    dev1["job_title"] = "Senior engineer"
    assert "1 changed" in directory_refetch(connector_id=connector.pk, kind="user", external_id="ou_dev1")
    assert people()["ou_dev1"].title == "Senior engineer"

    dev1["status"]["is_resigned"] = True
    directory_refetch(connector_id=connector.pk, kind="user", external_id="ou_dev1")
    assert people()["ou_dev1"].active is False

    assert "unknown" in directory_refetch(connector_id=connector.pk, kind="user", external_id="ou_nobody")
    sales = next(d for d in fake_feishu.departments if d["open_department_id"] == "od-sales")
    sales["name"] = "销售部 Sales & BD"
    directory_refetch(connector_id=connector.pk, kind="department", external_id="od-sales")
    assert Department.objects.filter(name="销售部 Sales & BD").exists()


def test_the_client_side_limit_keeps_under_feishu_s_and_a_400_99991400_is_waited_out(fake_feishu, settings):
    settings.BAOXIAO_FEISHU_RATE_LIMITS = {"contact": {"per_second": 5}}
    fake_feishu.per_second = 10  # the gateway's limit per API, stricter than Feishu's real one
    template = fake_feishu.users[3]
    fake_feishu.users = fake_feishu.users + [
        copy.deepcopy(template) | {"open_id": f"ou_q{n}", "employee_no": f"Q{n}", "orders": []} for n in range(300)
    ]
    fake_feishu.fail("departments", "rate_limited_400")  # Feishu also limits with HTTP 400 and code 99991400
    connector = make_connector(fake_feishu)
    started = time.perf_counter()
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert fake_feishu.limited == 0  # our limiter never let the gateway refuse a call
    calls = fake_feishu.count("/contact/")
    assert calls >= 12 and time.perf_counter() - started >= (calls - 5) / 5


def test_five_thousand_people_sync_through_paging_and_a_mid_run_429(fake_feishu):
    template = fake_feishu.users[3]
    crowd = []
    for n in range(5000):
        person = copy.deepcopy(template)
        person |= {"open_id": f"ou_p{n:05d}", "name": f"员工{n}", "employee_no": f"P{n:05d}", "email": ""}
        person["department_ids"] = [("od-platform", "od-fin", "od-sales", "od-eng")[n % 4]]
        person["orders"] = []
        crowd.append(person)
    fake_feishu.users = fake_feishu.users + crowd
    fake_feishu.fail("find_by_department", "rate_limited", after=40)  # 429 + x-ogw-ratelimit-reset: 1
    connector = make_connector(fake_feishu)
    started = time.perf_counter()
    run = directory_sync(connector_id=connector.pk)
    elapsed = time.perf_counter() - started
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert run.users_seen == 5010 and EmployeeExternalId.objects.filter(connector="feishu").count() == 5010
    pages = fake_feishu.count("find_by_department")
    assert pages >= 5000 // 50 + 1  # 50 a page, and the refused page asked again
    print(f"\n5,010 people, {pages} user pages incl. one 429: {elapsed:.1f} s")
