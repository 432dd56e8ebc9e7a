"""The DingTalk connector against the fake DingTalk on 127.0.0.1: directory, callbacks, to-dos, health."""

from __future__ import annotations

import json
import time

import pytest

from approvals.models import ApprovalTask
from approvals.services import task_approve
from oa_bridge.connectors import bizmsgcrypt, for_connector
from oa_bridge.connectors.bizmsgcrypt import BizMsgCrypt
from oa_bridge.credentials import set_credentials
from oa_bridge.models import Connector, ConnectorKind, InboundEvent, OutboxEvent, OutboxStatus, SyncRun
from oa_bridge.services.directory import directory_sync
from oa_bridge.services.outbox import outbox_deliver
from org.models import Department, Employee, EmployeeExternalId
from tests.oa_bridge.fakes.dingtalk import FakeDingTalk
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db

TOKEN = "callback-token"
AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"
URL = "/oa/dingtalk/events/"


@pytest.fixture
def fake():
    server = FakeDingTalk()
    yield server
    server.close()


@pytest.fixture
def connector(db, fake):
    connector = Connector.objects.create(
        slug="dingtalk",
        name="DingTalk",
        kind=ConnectorKind.DINGTALK,
        directory_enabled=True,
        deactivation_threshold_percent=10,
        options={
            "app_key": FakeDingTalk.APP_KEY,
            "agent_id": "2900001",
            "corp_id": "dingcorp123",
            "api_base_url": fake.url,
            "rate_limit": "200/s",
        },
    )
    set_credentials(connector, {"app_secret": FakeDingTalk.APP_SECRET, "callback_token": TOKEN, "aes_key": AES_KEY})
    return connector


def callback(client, event, *, receiver=FakeDingTalk.APP_KEY, timestamp=None, signature=None, raw=None, encrypt=None):
    """What DingTalk POSTs: the encrypted event, signed in the query string."""
    crypto = BizMsgCrypt(TOKEN, AES_KEY, receiver)
    sealed = crypto.seal(json.dumps(event), timestamp=timestamp or str(int(time.time() * 1000)))
    if encrypt is not None:  # a correctly signed body that does not decrypt
        sealed["encrypt"] = encrypt
        sealed["msg_signature"] = bizmsgcrypt.signature(TOKEN, sealed["timestamp"], sealed["nonce"], encrypt)
    query = f"?msg_signature={signature or sealed['msg_signature']}&timestamp={sealed['timestamp']}"
    query += f"&nonce={sealed['nonce']}"
    body = raw if raw is not None else json.dumps({"encrypt": sealed["encrypt"]})
    return client.post(URL + query, data=body, content_type="application/json")


def opened(response) -> str:
    """Our answer decrypted as DingTalk would: it must be the encrypted "success"."""
    body = response.json()
    crypto = BizMsgCrypt(TOKEN, AES_KEY, FakeDingTalk.APP_KEY)
    return crypto.open(body["msg_signature"], body["timeStamp"], body["nonce"], body["encrypt"]).decode()


# --- directory ------------------------------------------------------------------------------------------
def small_org(fake):
    fake.add_department(2, "研发部 R&D", 1, ["boss"])
    fake.add_department(3, "平台组 Platform", 2, ["lead"])
    fake.add_department(4, "无主管 Headless", 3, [])
    fake.departments[1]["dept_manager_userid_list"] = ["ceo"]
    fake.add_user("ceo", "王总", 1)
    fake.add_user("boss", "李经理", 2)
    fake.add_user("lead", "赵组长", 3)
    fake.add_user("dev", "钱工", 3)
    fake.add_user("intern", "孙实习", 4)
    fake.add_user("special", "周特", 3, manager="ceo")


def test_a_sync_builds_departments_heads_and_managers_from_dingtalk(connector, fake):
    small_org(fake)
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert (run.departments_seen, run.users_seen) == (4, 6)
    people = {
        link.external_id: link.employee
        for link in EmployeeExternalId.objects.filter(connector="dingtalk").select_related("employee__manager")
    }

    def manager(userid):
        found = people[userid].manager
        return next(k for k, v in people.items() if v == found) if found else None

    assert manager("dev") == "lead"  # the head of their department
    assert manager("lead") == "boss"  # a head reports to the head above
    assert manager("intern") == "lead"  # no head in their department: up the tree
    assert manager("special") == "ceo"  # manager_userid first
    assert manager("ceo") is None
    platform = Department.objects.get(external_ids__connector="dingtalk", external_ids__external_id="3")
    assert platform.parent.name == "研发部 R&D" and platform.head == people["lead"]
    assert fake.count("/gettoken") == 1  # one token for the whole run


def test_people_who_vanish_from_dingtalk_are_deactivated_within_the_threshold(connector, fake):
    small_org(fake)
    directory_sync(connector_id=connector.pk)
    del fake.users["intern"]
    connector.deactivation_threshold_percent = 20
    connector.save()
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.deactivated == 1
    assert not Employee.objects.get(external_ids__connector="dingtalk", external_ids__external_id="intern").active
    for userid in ("dev", "special", "boss"):
        del fake.users[userid]
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.NEEDS_CONFIRMATION  # 3 of 5 is above 20 %: nothing changed
    assert Employee.objects.get(external_ids__connector="dingtalk", external_ids__external_id="dev").active


def test_five_thousand_people_sync_through_paging_despite_limit_answers_and_an_expired_token(connector, fake):
    fake.populate(5000)
    fake.inject("user.list", (200, fake.errors["qps_limit"], {}))
    fake.inject("department.get", (200, fake.errors["qps_limit_88"], {}), (429, {"errmsg": "slow down"}, {}))
    original = fake.user_list
    pages = {"n": 0}

    def expiring_list(request):
        pages["n"] += 1
        if pages["n"] == 20:
            fake.expire_tokens()  # mid-run: DingTalk answers 40014 once, a new token follows
        return original(request)

    fake.user_list = expiring_list
    started = time.monotonic()
    run = directory_sync(connector_id=connector.pk)
    elapsed = time.monotonic() - started
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert run.users_seen == 5000 and run.departments_seen == 21
    assert EmployeeExternalId.objects.filter(connector="dingtalk", employee__active=True).count() == 5000
    assert fake.count("/topapi/v2/user/list") >= 5000 // 100
    assert fake.count("/gettoken") == 2
    person = Employee.objects.get(external_ids__connector="dingtalk", external_ids__external_id="u04321")
    assert person.manager.external_ids.get().external_id == f"u{4321 % 20 + 1:05d}"
    print(f"dingtalk sync of 5000 people: {elapsed:.1f} s, {len(fake.calls)} calls")


def test_the_client_side_limit_keeps_calls_under_dingtalks_qps(connector, fake):
    fake.qps = 8  # per API and second, as DingTalk counts
    small_org(fake)
    for n in range(12):
        fake.add_department(10 + n, f"小组 Team {n}", 2, [])
    connector.options["rate_limit"] = "8/s"
    connector.save()
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and run.departments_seen == 16
    assert fake.count("/topapi/v2/department/get") > 8 and fake.limited_count == 0
    connector.options["rate_limit"] = "100/s"  # too high: DingTalk answers 90018 and the client backs off
    connector.save()
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and fake.limited_count > 0


# --- callbacks ------------------------------------------------------------------------------------------
def test_the_url_check_is_answered_with_the_encrypted_success(client, connector):
    response = callback(client, {"EventType": "check_url"})
    assert response.status_code == 200 and opened(response) == "success"
    assert not InboundEvent.objects.exists()


def test_contact_events_refetch_the_people_they_name(client, connector, fake, django_capture_on_commit_callbacks):
    small_org(fake)
    directory_sync(connector_id=connector.pk)
    fake.add_user("newbie", "新人", 3)
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, {"EventType": "user_add_org", "TimeStamp": "1", "UserId": ["newbie"]})
    assert opened(response) == "success"
    newbie = Employee.objects.get(external_ids__connector="dingtalk", external_ids__external_id="newbie")
    assert newbie.active and newbie.manager.name == "赵组长"
    del fake.users["dev"]
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, {"EventType": "user_leave_org", "TimeStamp": "2", "UserId": ["dev"]})
    assert not Employee.objects.get(external_ids__connector="dingtalk", external_ids__external_id="dev").active
    fake.departments[3]["name"] = "平台部 Platform"
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, {"EventType": "org_dept_modify", "TimeStamp": "3", "DeptId": [3]})
    assert Department.objects.filter(name="平台部 Platform").exists()


def test_a_replayed_event_changes_nothing(client, connector, fake, django_capture_on_commit_callbacks):
    small_org(fake)
    event = {"EventType": "user_modify_org", "TimeStamp": "1608001896814", "UserId": ["dev"]}
    with django_capture_on_commit_callbacks(execute=True) as first:
        callback(client, event)
    with django_capture_on_commit_callbacks(execute=True) as second:
        response = callback(client, event)
    assert opened(response) == "success"  # acknowledged, so DingTalk stops retrying
    assert len(first) == 1 and len(second) == 0
    assert InboundEvent.objects.get().status == "applied"


@pytest.mark.parametrize("case", ["signature", "receiver", "stale", "undecryptable", "not_json", "no_encrypt"])
def test_bad_callbacks_are_refused_and_change_nothing(client, connector, case, caplog):
    event = {"EventType": "user_leave_org", "TimeStamp": "5", "UserId": ["dev"]}
    kwargs = {
        "signature": {"signature": "0" * 40},
        "receiver": {"receiver": "someone-elses-app"},
        "stale": {"timestamp": str(int((time.time() - 3600) * 1000))},
        "undecryptable": {"encrypt": "bm90IHJlYWxseSBlbmNyeXB0ZWQgYXQgYWxsIQ=="},
        "not_json": {"raw": "<xml/>"},
        "no_encrypt": {"raw": json.dumps({"other": 1})},
    }[case]
    response = callback(client, event, **kwargs)
    assert 400 <= response.status_code < 500
    assert not InboundEvent.objects.exists()
    assert "refused" in caplog.text


def test_an_event_about_someone_unknown_is_acknowledged_and_changes_nothing(
    client, connector, fake, django_capture_on_commit_callbacks
):
    before = Employee.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, {"EventType": "user_leave_org", "TimeStamp": "9", "UserId": ["ghost"]})
    assert opened(response) == "success" and Employee.objects.count() == before


# --- to-dos and notifications ---------------------------------------------------------------------------
@pytest.fixture
def linked(demo_company, connector, fake):
    """The demo company's people, known to the fake DingTalk under their user names."""
    Connector.objects.filter(slug="sandbox").update(deliver_events=False)
    for username, employee in demo_company.items():
        fake.add_user(username, employee.name, 1)
        EmployeeExternalId.objects.create(employee=employee, connector="dingtalk", external_id=username)
    return demo_company


def deliver_all(connector):
    outcomes = {}
    for event in OutboxEvent.objects.filter(connector=connector, status=OutboxStatus.PENDING).order_by("created_at"):
        outcomes.setdefault(event.type, []).append(outbox_deliver(event_id=str(event.id)))
    return outcomes


def test_an_approval_task_becomes_a_todo_linking_to_baoxiao_and_is_closed_when_decided(linked, connector, fake):
    claim = submit(make_claim(linked["zhangwei"]))
    task = ApprovalTask.objects.get(claim=claim, status="pending")
    outcomes = deliver_all(connector)
    assert outcomes["com.baoxiao.approval.task.created"] == ["delivered"]
    assert set(sum(outcomes.values(), [])) == {"delivered"}
    created = OutboxEvent.objects.get(connector=connector, type="com.baoxiao.approval.task.created")
    assert for_connector(connector).deliver(created).status_code == 200  # delivered again (a lost answer)
    (todo,) = fake.todos.values()  # still one to-do
    assignee = task.assignee.user.username
    assert todo["executorIds"] == [f"union-{assignee}"] and todo["done"] is False
    assert todo["detailUrl"]["pcUrl"].endswith(f"/approvals/tasks/{task.pk}/")
    assert claim.number in todo["subject"]
    submitted = [m for m in fake.messages if m["userid_list"] == "zhangwei"]
    assert submitted and claim.number in submitted[0]["msg"]["action_card"]["title"]

    task_approve(task_id=task.pk, actor=task.assignee.user, comment="ok")
    from django.core.cache import cache

    cache.clear()  # a restart: the to-do's id is found again in the delivery log
    deliver_all(connector)
    assert todo["done"] is True


def test_unsent_types_are_skipped_and_vendor_failures_map_to_retry_or_held(linked, connector, fake):
    claim = submit(make_claim(linked["zhangwei"]))
    routed = OutboxEvent.objects.get(connector=connector, type="com.baoxiao.claim.routed")
    assert outbox_deliver(event_id=str(routed.id)) == "delivered"
    assert routed.attempt_log.get().response_excerpt.startswith("skipped")
    created = OutboxEvent.objects.get(connector=connector, type="com.baoxiao.approval.task.created")
    fake.inject("todo.create", (502, {"code": "BadGateway", "message": "upstream failed"}, {}))
    assert outbox_deliver(event_id=str(created.id)) == "retry"
    fake.denied.add("todo")
    OutboxEvent.objects.filter(pk=created.pk).update(available_at=claim.created_at)
    assert outbox_deliver(event_id=str(created.id)) == "held"
    created.refresh_from_db()
    assert "Forbidden.AccessDenied" in created.last_error


# --- health ---------------------------------------------------------------------------------------------
def test_health_names_bad_credentials_and_the_missing_permission(connector, fake):
    assert for_connector(connector).health().ok
    fake.denied.add("user.list")
    problem = for_connector(connector).health().problem
    assert "Missing permission" in problem and "qyapi_get_member" in problem
    set_credentials(connector, {"app_secret": "wrong", "callback_token": TOKEN, "aes_key": AES_KEY})
    connector.refresh_from_db()
    problem = for_connector(connector).health().problem
    assert problem.startswith("Bad credentials") and "40089" in problem


def test_the_settings_page_is_filled_in_and_tested_against_the_fake(client, demo_company, fake):
    client.force_login(demo_company["admin"].user)
    response = client.post(
        "/oa/admin/ops/connectors/new/dingtalk/",
        {
            "name": "钉钉 DingTalk",
            "slug": "dingtalk",
            "enabled": "on",
            "deliver_events": "on",
            "directory_enabled": "on",
            "sync_interval_minutes": "60",
            "deactivation_threshold_percent": "10",
            "app_key": FakeDingTalk.APP_KEY,
            "app_secret": FakeDingTalk.APP_SECRET,
            "agent_id": "2900001",
            "corp_id": "dingcorp123",
            "callback_token": TOKEN,
            "aes_key": AES_KEY,
            "api_base_url": fake.url,
            "rate_limit": "20/s",
        },
    )
    connector = Connector.objects.get(slug="dingtalk")
    assert response.status_code == 302, response.content
    test = client.post(f"/oa/admin/ops/connectors/{connector.pk}/test/", headers={"HX-Request": "true"})
    assert test.status_code == 200 and fake.count("/gettoken") == 1
    page = client.get(f"/oa/admin/ops/connectors/{connector.pk}/settings/")
    assert AES_KEY.encode() not in page.content and b"/oa/dingtalk/events/" in page.content
