"""Feishu callbacks into /oa/<slug>/events/: made the way Feishu makes them (the fake encrypts and signs
with its own code), accepted by lark-oapi's own dispatcher and by our receiver alike; bad ones refused."""

from __future__ import annotations

import json
import time

import lark_oapi as lark
import pytest
from lark_oapi.core.model import RawRequest

from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from oa_bridge.models import InboundEvent
from oa_bridge.services.directory import directory_sync
from org.models import EmployeeExternalId
from tests.oa_bridge.fakes.feishu import ENCRYPT_KEY, VERIFICATION_TOKEN, FakeFeishu, make_connector
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db
URL = "/oa/feishu/events/"


@pytest.fixture
def fake_feishu():
    fake = FakeFeishu()
    yield fake
    fake.close()


@pytest.fixture
def synced(fake_feishu):
    connector = make_connector(fake_feishu)
    assert directory_sync(connector_id=connector.pk).status == "succeeded"
    return connector


def employee(open_id):
    return EmployeeExternalId.objects.select_related("employee").get(connector="feishu", external_id=open_id).employee


def user_updated(event_id="ev-1", token=VERIFICATION_TOKEN, open_id="ou_dev1"):
    document = FakeFeishu.event("event_user_updated.json", token=token)
    document["header"]["event_id"] = event_id
    document["event"]["object"]["open_id"] = open_id
    return document


def post(client, headers, body):
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def sdk_request(headers, body) -> RawRequest:
    request = RawRequest()
    request.uri, request.headers, request.body = URL, dict(headers), body
    return request


def test_lark_oapi_and_our_receiver_accept_the_same_encrypted_signed_event(
    client, synced, fake_feishu, django_capture_on_commit_callbacks
):
    headers, body = FakeFeishu.callback(user_updated(), encrypt_key=ENCRYPT_KEY)
    seen = []
    dispatcher = (
        lark.EventDispatcherHandler.builder(ENCRYPT_KEY, VERIFICATION_TOKEN)
        .register_p2_contact_user_updated_v3(lambda data: seen.append(data.event.object.open_id))
        .build()
    )
    answer = dispatcher.do(sdk_request(headers, body))
    assert answer.status_code == 200, answer.content
    assert seen == ["ou_dev1"]

    next(u for u in fake_feishu.users if u["open_id"] == "ou_dev1")["job_title"] = "Senior engineer"
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, headers, body)
    assert response.status_code == 200 and response.json()["msg"] == "success"
    record = InboundEvent.objects.get(connector=synced)
    assert record.external_id == "ev-1" and record.type == "com.baoxiao.directory.user.changed"
    assert "token" not in record.payload["header"]  # the verification token is not kept
    assert employee("ou_dev1").title == "Senior engineer"  # the targeted re-fetch ran


def test_the_url_challenge_is_answered_plain_and_encrypted_and_records_nothing(client, synced):
    challenge = FakeFeishu.event("event_url_verification.json", token=VERIFICATION_TOKEN)
    headers, body = FakeFeishu.callback(challenge, encrypt_key=ENCRYPT_KEY)
    sdk = lark.EventDispatcherHandler.builder(ENCRYPT_KEY, VERIFICATION_TOKEN).build().do(sdk_request(headers, body))
    assert json.loads(sdk.content) == {"challenge": "ajls384kdjx98XX"}
    response = post(client, headers, body)
    assert response.status_code == 200 and response.json() == {"challenge": "ajls384kdjx98XX"}
    wrong = FakeFeishu.event("event_url_verification.json", token="not-ours")
    assert post(client, *FakeFeishu.callback(wrong, encrypt_key=ENCRYPT_KEY)).status_code == 401
    assert not InboundEvent.objects.exists()


def _tampered_signature():
    headers, body = FakeFeishu.callback(user_updated(), encrypt_key=ENCRYPT_KEY)
    return headers | {"X-Lark-Signature": "0" * 64}, body


def _stale():
    return FakeFeishu.callback(user_updated(), encrypt_key=ENCRYPT_KEY, timestamp=int(time.time()) - 600)


def _other_key():
    return FakeFeishu.callback(user_updated(), encrypt_key="someone-else-s-key")


def _plain():
    return {"Content-Type": "application/json"}, json.dumps(user_updated()).encode()


def _garbage():
    headers, _ = FakeFeishu.callback(user_updated(), encrypt_key=ENCRYPT_KEY)
    return headers, b'{"encrypt": "bm90IGVuY3J5cHRlZA=="}'


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (_tampered_signature, 401, "X-Lark-Signature"),
        (lambda: FakeFeishu.callback(user_updated(token="wrong"), encrypt_key=ENCRYPT_KEY), 401, "token"),
        (_stale, 401, "5 minutes"),
        (_other_key, 400, "decrypt"),
        (_garbage, 400, "decrypt"),
        (_plain, 400, "not encrypted"),
    ],
    ids=["wrong-signature", "wrong-token", "stale-timestamp", "wrong-key", "undecryptable", "unencrypted"],
)
def test_bad_callbacks_are_refused_and_change_nothing(client, synced, make, status, words, caplog):
    headers, body = make()
    response = post(client, headers, body)
    assert response.status_code == status
    assert words in response.json()["error"]["message"]
    assert words in caplog.text  # logged for the operator
    assert not InboundEvent.objects.exists()
    assert employee("ou_dev1").title == "Engineer"


def test_a_replayed_event_id_is_acknowledged_once(client, synced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as first:
        assert post(client, *FakeFeishu.callback(user_updated("ev-same"), encrypt_key=ENCRYPT_KEY)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as second:
        again = post(client, *FakeFeishu.callback(user_updated("ev-same"), encrypt_key=ENCRYPT_KEY))
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    assert InboundEvent.objects.count() == 1 and len(first) == 1 and len(second) == 0


def test_an_event_about_an_unknown_person_changes_nothing(client, synced, django_capture_on_commit_callbacks):
    document = user_updated("ev-unknown", open_id="ou_nobody")
    document["header"]["event_type"] = "contact.user.deleted_v3"
    before = EmployeeExternalId.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, *FakeFeishu.callback(document, encrypt_key=ENCRYPT_KEY))
    assert response.status_code == 200
    assert EmployeeExternalId.objects.count() == before


def test_an_event_type_we_do_not_use_is_acknowledged_and_ignored(client, synced):
    document = user_updated("ev-im")
    document["header"]["event_type"] = "im.message.receive_v1"
    response = post(client, *FakeFeishu.callback(document, encrypt_key=ENCRYPT_KEY))
    assert response.status_code == 200 and response.json()["result"] == "ignored"
    assert InboundEvent.objects.get().status == "ignored"


# --- quick approval from Feishu's approval centre ----------------------------------------------------------------
@pytest.fixture
def task(synced, demo_company):
    claim = submit(make_claim(employee("ou_dev1")))
    return ApprovalTask.objects.get(claim=claim, status=TaskStatus.PENDING)


def action(task, *, action_type="APPROVE", open_id="ou_lead_plat", token=VERIFICATION_TOKEN):
    document = FakeFeishu.event(
        "approval_action.json",
        open_id=open_id,
        approval_code="baoxiao-expense",
        instance_id=task.claim.number,
        task_id=str(task.pk),
        token=token,
    )
    document["action_type"] = action_type
    headers, body = FakeFeishu.callback(document, encrypt_key=ENCRYPT_KEY)
    return {"Content-Type": "application/json"}, body  # no signature headers on approval callbacks


def test_a_quick_approval_decides_the_task_through_the_approval_service(client, task):
    response = post(client, *action(task))
    assert response.status_code == 200 and response.json()["code"] == 0
    task.refresh_from_db()
    assert task.status == TaskStatus.APPROVED and task.channel == "oa" and task.comment == "同意 OK"
    assert task.decided_by == employee("ou_lead_plat").user
    again = post(client, *action(task))
    assert again.json()["code"] == 0 and InboundEvent.objects.count() == 1


def test_a_quick_reject_carries_the_reason(client, task):
    assert post(client, *action(task, action_type="REJECT")).json()["code"] == 0
    task.refresh_from_db()
    assert task.status == TaskStatus.REJECTED and task.comment == "同意 OK"


def test_a_quick_approval_by_an_unknown_person_or_with_a_wrong_token_changes_nothing(client, task):
    refused = post(client, *action(task, open_id="ou_stranger"))
    assert refused.status_code == 200 and refused.json()["code"] != 0
    assert "not a known active employee" in refused.json()["msg"]
    assert post(client, *action(task, token="forged")).status_code == 401
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert InboundEvent.objects.get().status == "rejected"
    assert post(client, *action(task)).json()["code"] == 0  # the real approver's click still counts
    task.refresh_from_db()
    assert task.status == TaskStatus.APPROVED
