"""POST /oa/<connector>/events/: signatures, replays and decisions applied through the approval services."""

import json
import time
import uuid

import pytest

from approvals.models import ApprovalTask
from oa_bridge import signing
from oa_bridge.credentials import get_credentials
from oa_bridge.models import InboundEvent
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db
URL = "/oa/sandbox/events/"


def post(
    client,
    connector,
    data,
    *,
    event_type="com.baoxiao.approval.decision",
    event_id=None,
    secret=None,
    timestamp=None,
    raw=None,
):
    event_id = event_id or f"oa-{uuid.uuid4()}"
    body = (
        raw
        if raw is not None
        else json.dumps(
            {"specversion": "1.0", "id": event_id, "source": "test", "type": event_type, "data": data}
        ).encode()
    )
    secrets = [secret] if secret else get_credentials(connector)["inbound_secrets"]
    headers = signing.sign_headers(secrets, event_id, body, timestamp=timestamp)
    return client.post(
        URL, data=body, content_type="application/cloudevents+json", headers={k: v for k, v in headers.items()}
    )


@pytest.fixture
def task(demo_company):
    claim = submit(make_claim(demo_company["zhangwei"]))
    return ApprovalTask.objects.get(claim=claim, status="pending")


def decision(task, verdict="approve", approver="u-liuyang"):
    return {"task_id": task.pk, "decision": verdict, "approver": approver, "comment": "OK from the OA"}


def test_an_approval_from_the_oa_moves_the_claim_as_the_mapped_employee(client, sandbox_connector, task):
    response = post(client, sandbox_connector, decision(task))
    assert response.status_code == 200 and response.json()["result"] == "applied"
    task.refresh_from_db()
    assert task.status == "approved" and task.channel == "oa" and task.decided_by.username == "liuyang"
    assert Claim.objects.get(pk=task.claim_id).status == ClaimStatus.APPROVED


def test_a_replayed_event_id_changes_nothing(client, sandbox_connector, task):
    event_id = "oa-same-id"
    assert post(client, sandbox_connector, decision(task), event_id=event_id).json()["result"] == "applied"
    again = post(client, sandbox_connector, decision(task, "reject"), event_id=event_id)
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    assert InboundEvent.objects.count() == 1
    assert Claim.objects.get(pk=task.claim_id).status == ClaimStatus.APPROVED


def test_a_decision_on_a_decided_task_answers_200_and_changes_nothing(client, sandbox_connector, task):
    from approvals.services import task_approve

    task_approve(task_id=task.pk, actor=task.assignee.user)  # decided in the browser first
    seq = Claim.objects.get(pk=task.claim_id).event_seq
    response = post(client, sandbox_connector, decision(task, "reject"))
    assert response.status_code == 200 and response.json()["result"] == "already_decided"
    assert Claim.objects.get(pk=task.claim_id).event_seq == seq


@pytest.mark.parametrize(
    "case,status",
    [
        ("wrong_secret", 401),
        ("stale", 401),
        ("malformed", 401),
        ("not_json", 400),
        ("foreign_task", 404),
        ("unknown_user", 422),
        ("bad_decision", 400),
    ],
)
def test_bad_inbound_events_are_refused_and_change_nothing(client, sandbox_connector, task, case, status):
    from oa_bridge.credentials import new_webhook_secret

    kwargs, data = {}, decision(task)
    if case == "wrong_secret":
        kwargs["secret"] = new_webhook_secret()
    elif case == "stale":
        kwargs["timestamp"] = int(time.time()) - 600
    elif case == "malformed":
        response = client.post(
            URL,
            data=b"{}",
            content_type="application/json",
            headers={"webhook-id": "x", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"},
        )
        assert response.status_code == status and "error" in response.json()
        return
    elif case == "not_json":
        kwargs["raw"] = b"this is not json"
    elif case == "foreign_task":
        data = decision(task, approver="u-zhoujing")  # a real employee, not this task's assignee
    elif case == "unknown_user":
        data = decision(task, approver="u-nobody")
    elif case == "bad_decision":
        data = decision(task, verdict="maybe")
    response = post(client, sandbox_connector, data, **kwargs)
    assert response.status_code == status
    assert response.json()["error"]["message"]
    task.refresh_from_db()
    assert task.status == "pending"


def test_an_unknown_connector_is_404(client, demo_company):
    response = client.post("/oa/nope/events/", data=b"{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_connector"


def test_the_inbound_endpoint_only_takes_post(client, demo_company):
    assert client.get(URL).status_code == 405
