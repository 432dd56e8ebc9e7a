"""The WeCom connector against the fake WeCom on 127.0.0.1: directory, callbacks, approval cards, health."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest

from approvals.models import ApprovalTask
from oa_bridge.connectors import bizmsgcrypt, for_connector
from oa_bridge.connectors.bizmsgcrypt import BizMsgCrypt
from oa_bridge.credentials import set_credentials
from oa_bridge.models import Connector, ConnectorKind, InboundEvent, OutboxEvent, OutboxStatus, SyncRun
from oa_bridge.services.directory import directory_sync
from oa_bridge.services.outbox import outbox_deliver
from org.models import Department, Employee, EmployeeExternalId
from reimbursement.models import Claim
from tests.oa_bridge.fakes.wecom import FakeWeCom
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db

TOKEN = "wecom-callback-token"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
URL = "/oa/wecom/events/"


@pytest.fixture
def fake():
    server = FakeWeCom()
    yield server
    server.close()


def make_connector(fake, *, contact_secret=True, slug="wecom"):
    connector = Connector.objects.create(
        slug=slug,
        name="WeCom",
        kind=ConnectorKind.WECOM,
        directory_enabled=True,
        options={
            "corp_id": FakeWeCom.CORP_ID,
            "agent_id": "1000002",
            "api_base_url": fake.url,
            "rate_limit": "500/s",
        },
    )
    secrets = {"app_secret": FakeWeCom.APP_SECRET, "callback_token": TOKEN, "aes_key": AES_KEY}
    if contact_secret:
        secrets["contact_secret"] = FakeWeCom.CONTACT_SECRET
    set_credentials(connector, secrets)
    return connector


@pytest.fixture
def connector(db, fake):
    return make_connector(fake)


def crypto(receiver=FakeWeCom.CORP_ID):
    return BizMsgCrypt(TOKEN, AES_KEY, receiver)


def event_xml(**fields) -> str:
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return f"<xml><ToUserName><![CDATA[{FakeWeCom.CORP_ID}]]></ToUserName>{inner}</xml>"


def callback(client, xml, *, receiver=FakeWeCom.CORP_ID, timestamp=None, signature=None, raw=None, encrypt=None):
    sealed = crypto(receiver).seal(xml, timestamp=timestamp)
    if encrypt is not None:  # a correctly signed body that does not decrypt
        sealed["encrypt"] = encrypt
        sealed["msg_signature"] = bizmsgcrypt.signature(TOKEN, sealed["timestamp"], sealed["nonce"], encrypt)
    query = {"msg_signature": signature or sealed["msg_signature"], "timestamp": sealed["timestamp"]}
    query["nonce"] = sealed["nonce"]
    body = raw if raw is not None else f"<xml><ToUserName><![CDATA[{FakeWeCom.CORP_ID}]]></ToUserName>"
    if raw is None:
        body += f"<Encrypt><![CDATA[{sealed['encrypt']}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
    return client.post(f"{URL}?{urlencode(query)}", data=body, content_type="text/xml")


def contact(change, ident, created=None):
    key = "UserID" if change.endswith("user") else "Id"
    fields = {"FromUserName": "sys", "CreateTime": created or int(time.time()), "MsgType": "event"}
    return event_xml(**fields, Event="change_contact", ChangeType=change, **{key: ident})


# --- directory ------------------------------------------------------------------------------------------
def small_org(fake):
    fake.departments[1]["department_leader"] = ["ceo"]
    fake.add_department(2, "研发部 R&D", 1, ["boss"])
    fake.add_department(3, "平台组 Platform", 2, ["lead"])
    fake.add_department(4, "无主管 Headless", 3, [])
    fake.add_user("ceo", "王总", 1)
    fake.add_user("boss", "李经理", 2)
    fake.add_user("lead", "赵组长", 3)
    fake.add_user("dev", "钱工", 3)
    fake.add_user("intern", "孙实习", 4)
    fake.add_user("special", "周特", 3, leader="ceo")
    fake.add_user("gone", "吴离", 3, status=5)


@pytest.mark.parametrize("contact_secret", [True, False], ids=["list_id", "simplelist"])
def test_a_sync_builds_departments_heads_managers_and_departed_status(db, fake, contact_secret):
    connector = make_connector(fake, contact_secret=contact_secret)
    small_org(fake)
    connector.deactivation_threshold_percent = 50
    connector.save()
    run = directory_sync(connector_id=connector.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert (run.departments_seen, run.users_seen) == (4, 7)
    people = {
        link.external_id: link.employee
        for link in EmployeeExternalId.objects.filter(connector="wecom").select_related("employee__manager")
    }

    def manager(userid):
        found = people[userid].manager
        return next(k for k, v in people.items() if v == found) if found else None

    assert manager("dev") == "lead" and manager("lead") == "boss" and manager("intern") == "lead"
    assert manager("special") == "ceo"  # direct_leader first
    assert not people["gone"].active and people["dev"].active  # status 5: left
    assert people["dev"].employee_no == "dev" and people["dev"].user.email == "dev@corp.example"
    assert Department.objects.get(external_ids__connector="wecom", external_ids__external_id="3").head == people["lead"]
    used = "/cgi-bin/user/list_id" if contact_secret else "/cgi-bin/user/simplelist"
    assert fake.count(used) >= 1


def test_five_thousand_people_sync_with_cursor_paging_and_limit_answers(connector, fake):
    fake.populate(5000)
    fake.inject("user.get", (200, fake.errors["freq_limit"], {}), (200, fake.errors["busy"], {}))
    fake.inject(
        "user.list_id", (429, {"errcode": 45033, "errmsg": "api concurrent out of limit"}, {"Retry-After": "1"})
    )
    original = fake.user_get
    seen = {"n": 0}

    def expiring(request):
        seen["n"] += 1
        if seen["n"] == 2500:
            fake.expire_tokens()  # WeCom answers 40014 once mid-run; one new token follows
        return original(request)

    fake.user_get = expiring
    started = time.monotonic()
    run = directory_sync(connector_id=connector.pk)
    elapsed = time.monotonic() - started
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert run.users_seen == 5000 and run.departments_seen == 21
    assert fake.count("/cgi-bin/user/list_id") >= 5 + 1  # 1,000 a page, plus the limited one
    assert fake.count("/cgi-bin/gettoken") == 2
    person = Employee.objects.get(external_ids__connector="wecom", external_ids__external_id="u04321")
    assert person.manager.external_ids.get().external_id == f"u{4321 % 20 + 1:05d}"
    print(f"wecom sync of 5000 people: {elapsed:.1f} s, {len(fake.calls)} calls")


# --- callbacks ------------------------------------------------------------------------------------------
def test_the_url_check_echoes_the_decrypted_echostr(client, connector):
    sealed = crypto().seal("8675309")
    query = {"msg_signature": sealed["msg_signature"], "timestamp": sealed["timestamp"], "nonce": sealed["nonce"]}
    response = client.get(f"{URL}?{urlencode(query | {'echostr': sealed['encrypt']})}")
    assert response.status_code == 200 and response.content == b"8675309"
    response = client.get(f"{URL}?{urlencode(query | {'echostr': sealed['encrypt'], 'msg_signature': '0' * 40})}")
    assert response.status_code == 401 and b"8675309" not in response.content
    assert not InboundEvent.objects.exists()


def test_contact_changes_refetch_people_and_departments(client, connector, fake, django_capture_on_commit_callbacks):
    small_org(fake)
    connector.deactivation_threshold_percent = 50
    connector.save()
    directory_sync(connector_id=connector.pk)
    fake.add_user("newbie", "新人", 3)
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, contact("create_user", "newbie"))
    assert response.content == b"success"
    assert Employee.objects.get(external_ids__connector="wecom", external_ids__external_id="newbie").manager.name == (
        "赵组长"
    )
    del fake.users["dev"]
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, contact("delete_user", "dev"))
    assert not Employee.objects.get(external_ids__connector="wecom", external_ids__external_id="dev").active
    fake.departments[3]["name"] = "平台部 Platform"
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, contact("update_party", "3"))
    assert Department.objects.filter(name="平台部 Platform").exists()


def test_a_retried_event_is_recorded_once(client, connector, fake, django_capture_on_commit_callbacks):
    small_org(fake)
    xml = contact("update_user", "dev", created=int(time.time()))
    with django_capture_on_commit_callbacks(execute=True) as first:
        callback(client, xml)
    with django_capture_on_commit_callbacks(execute=True) as second:
        response = callback(client, xml)
    assert response.content == b"success" and len(first) == 1 and len(second) == 0
    assert InboundEvent.objects.count() == 1


@pytest.mark.parametrize("case", ["signature", "receiver", "stale", "undecryptable", "not_xml", "doctype"])
def test_bad_callbacks_are_refused_and_change_nothing(client, connector, case, caplog):
    kwargs = {
        "signature": {"signature": "0" * 40},
        "receiver": {"receiver": "ww-another-corp"},
        "stale": {"timestamp": str(int(time.time()) - 3600)},
        "undecryptable": {"encrypt": "bm90IHJlYWxseSBlbmNyeXB0ZWQgYXQgYWxsIQ=="},
        "not_xml": {"raw": '{"encrypt": "x"}'},
        "doctype": {"raw": '<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>'},
    }[case]
    response = callback(client, contact("delete_user", "dev"), **kwargs)
    assert 400 <= response.status_code < 500
    assert not InboundEvent.objects.exists()
    assert "refused" in caplog.text


# --- approval cards and messages ------------------------------------------------------------------------
@pytest.fixture
def linked(demo_company, connector, fake):
    Connector.objects.filter(slug="sandbox").update(deliver_events=False)
    for username, employee in demo_company.items():
        fake.add_user(username, employee.name, 1)
        EmployeeExternalId.objects.create(employee=employee, connector="wecom", external_id=username)
    return demo_company


def deliver_all(connector):
    outcomes = {}
    for event in OutboxEvent.objects.filter(connector=connector, status=OutboxStatus.PENDING).order_by("created_at"):
        outcomes.setdefault(event.type, []).append(outbox_deliver(event_id=str(event.id)))
    return outcomes


def click(client, approver, key, created=None):
    fields = {"FromUserName": approver, "CreateTime": created or int(time.time()), "MsgType": "event"}
    xml = event_xml(**fields, Event="template_card_event", EventKey=key, TaskId="t", CardType="button_interaction")
    return callback(client, xml.replace("<TaskId>", "<ResponseCode><![CDATA[rcx]]></ResponseCode><TaskId>"))


def test_a_task_is_a_card_whose_approve_click_decides_it_and_the_card_is_closed(client, linked, connector, fake):
    claim = submit(make_claim(linked["zhangwei"]))
    task = ApprovalTask.objects.get(claim=claim, status="pending")
    outcomes = deliver_all(connector)
    assert set(sum(outcomes.values(), [])) == {"delivered"}
    created = OutboxEvent.objects.get(connector=connector, type="com.baoxiao.approval.task.created")
    assert for_connector(connector).deliver(created).status_code == 200  # delivered again (a lost answer)
    ((code, card),) = fake.cards.items()  # still one card
    approver = task.assignee.user.username
    assert card["touser"] == approver and card["template_card"]["card_type"] == "button_interaction"
    buttons = card["template_card"]["button_list"]
    assert buttons[0]["key"] == f"approve:{task.pk}"
    assert buttons[1]["url"].endswith(f"/approvals/tasks/{task.pk}/")  # reject/return need a reason: in Baoxiao
    assert any(m["touser"] == "zhangwei" and claim.number in m["textcard"]["title"] for m in fake.messages)

    response = click(client, approver, f"approve:{task.pk}")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", response.content.decode()).group(1)
    reply, receiver = crypto().decrypt(encrypt)
    assert receiver == FakeWeCom.CORP_ID and b"update_button" in reply
    task.refresh_from_db()
    assert task.status == "approved" and task.channel == "oa"
    from django.core.cache import cache

    cache.clear()  # a restart: the card's response_code comes back from the delivery log
    deliver_all(connector)
    assert fake.updates and fake.updates[0]["response_code"] == code
    assert fake.updates[0]["button"]["replace_name"]
    claim = Claim.objects.get(pk=claim.pk)
    assert any(claim.number in m["textcard"]["title"] for m in fake.messages if "approved" in m["textcard"]["title"])


def test_a_click_by_someone_else_or_unknown_is_acknowledged_and_changes_nothing(client, linked, connector):
    claim = submit(make_claim(linked["zhangwei"]))
    task = ApprovalTask.objects.get(claim=claim, status="pending")
    for who in ("zhouj-not-known", "zhangwei"):
        response = click(client, who, f"approve:{task.pk}")
        assert response.status_code == 200 and response.content == b"success"
    task.refresh_from_db()
    assert task.status == "pending"
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"rejected"}


# --- health and settings --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "api,error,words",
    [
        ("department.simplelist", "ip_not_allowed", "203.0.113.7"),
        ("user.list_id", "api_forbidden", "api forbidden"),
        ("department.simplelist", "no_privilege", "visible range"),
    ],
)
def test_health_says_what_is_missing_in_plain_words(connector, fake, api, error, words):
    assert for_connector(connector).health().ok
    fake.denied[api] = error
    result = for_connector(connector).health()
    assert not result.ok and words in result.problem


def test_health_names_a_bad_secret(connector, fake):
    set_credentials(connector, {"app_secret": "nope", "callback_token": TOKEN, "aes_key": AES_KEY})
    connector.refresh_from_db()
    problem = for_connector(connector).health().problem
    assert problem.startswith("Bad credentials") and "40001" in problem


def test_the_settings_page_is_filled_in_and_tested_against_the_fake(client, demo_company, fake):
    client.force_login(demo_company["admin"].user)
    form = {
        "name": "企业微信 WeCom",
        "slug": "wecom",
        "enabled": "on",
        "deliver_events": "on",
        "directory_enabled": "on",
        "sync_interval_minutes": "60",
        "deactivation_threshold_percent": "10",
        "corp_id": FakeWeCom.CORP_ID,
        "agent_id": "1000002",
        "app_secret": FakeWeCom.APP_SECRET,
        "callback_token": TOKEN,
        "aes_key": AES_KEY,
        "api_base_url": fake.url,
        "rate_limit": "50/s,10000/min",
    }
    response = client.post("/oa/admin/ops/connectors/new/wecom/", form)
    assert response.status_code == 302, response.content
    connector = Connector.objects.get(slug="wecom")
    test = client.post(f"/oa/admin/ops/connectors/{connector.pk}/test/", headers={"HX-Request": "true"})
    assert test.status_code == 200 and fake.count("/cgi-bin/gettoken") == 1
    page = client.get(f"/oa/admin/ops/connectors/{connector.pk}/settings/")
    assert AES_KEY.encode() not in page.content and b"/oa/wecom/events/" in page.content
