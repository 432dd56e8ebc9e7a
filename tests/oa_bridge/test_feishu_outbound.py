"""Baoxiao to Feishu: the third-party approval definition, full instance snapshots (update_mode=UPDATE,
update_time growing) and messages to applicants, delivered by the outbox against the fake Feishu."""

from __future__ import annotations

import json

import pytest

from approvals import services as approvals
from approvals.choices import DecisionChannel, TaskStatus
from approvals.models import ApprovalTask
from oa_bridge.connectors import for_connector
from oa_bridge.models import DeliveryAttempt, OutboxEvent, OutboxStatus
from oa_bridge.services.directory import directory_sync
from oa_bridge.services.outbox import outbox_deliver
from org.models import EmployeeExternalId
from reimbursement.choices import ClaimStatus
from tests.oa_bridge.fakes.feishu import ENCRYPT_KEY, VERIFICATION_TOKEN, FakeFeishu, make_connector
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_feishu():
    fake = FakeFeishu()
    yield fake
    fake.close()


@pytest.fixture
def feishu(fake_feishu, demo_company):
    connector = make_connector(fake_feishu, deliver_events=True)
    assert directory_sync(connector_id=connector.pk).status == "succeeded"
    return connector


def employee(open_id):
    return EmployeeExternalId.objects.select_related("employee__user").get(external_id=open_id).employee


def deliver_all(connector) -> list[str]:
    """Deliver the connector's due events in order, as the workers would."""
    events = OutboxEvent.objects.filter(connector=connector, status=OutboxStatus.PENDING).order_by("created_at", "seq")
    return [outbox_deliver(event_id=str(event.pk)) for event in events]


def test_a_submitted_claim_appears_in_the_approval_centre_and_the_applicant_is_told(feishu, fake_feishu):
    claim = submit(make_claim(employee("ou_dev1")))
    outcomes = deliver_all(feishu)
    assert outcomes and set(outcomes) == {"delivered"}

    definition = fake_feishu.definitions["baoxiao-expense"]
    assert definition["external"]["action_callback_url"].endswith("/oa/feishu/events/")
    assert definition["external"]["action_callback_token"] == VERIFICATION_TOKEN
    assert definition["external"]["action_callback_key"] == ENCRYPT_KEY
    assert definition["external"]["enable_quick_operate"] is True

    instance = fake_feishu.instances[claim.number]
    [task] = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING)
    assert instance["status"] == "PENDING" and instance["open_id"] == "ou_dev1"
    assert instance["update_mode"] == "UPDATE"
    [entry] = instance["task_list"]
    assert entry["task_id"] == str(task.pk) and entry["open_id"] == "ou_lead_plat" and entry["status"] == "PENDING"
    assert {a["action_type"] for a in entry["action_configs"]} == {"APPROVE", "REJECT"}
    texts = {t["key"]: t["value"] for t in instance["i18n_resources"][0]["texts"]}
    assert claim.number in texts["@i18n@title"] and str(claim.total_amount) in texts["@i18n@amount_value"]
    # Several events of one submission: only the newest pushes the (same) current state.
    assert len(fake_feishu.instance_log) == 1

    [message] = fake_feishu.messages
    assert message["receive_id"] == "ou_dev1" and message["msg_type"] == "interactive"
    submitted = OutboxEvent.objects.get(connector=feishu, type="com.baoxiao.claim.submitted")
    assert message["uuid"] == str(submitted.pk)  # Feishu sends a message once per uuid
    assert claim.number in json.loads(message["content"])["header"]["title"]["content"]


def test_decisions_push_growing_snapshots_and_a_late_old_event_never_rolls_back(feishu, fake_feishu):
    claim = submit(make_claim(employee("ou_dev1")))
    deliver_all(feishu)
    task = ApprovalTask.objects.get(claim=claim, status=TaskStatus.PENDING)
    approvals.task_approve(task_id=task.pk, actor=employee("ou_lead_plat").user, channel=DecisionChannel.WEB)
    while ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).exists():
        nxt = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).first()
        approvals.task_approve(task_id=nxt.pk, actor=nxt.assignee.user, channel=DecisionChannel.WEB)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert set(deliver_all(feishu)) == {"delivered"}

    instance = fake_feishu.instances[claim.number]
    assert instance["status"] == "APPROVED" and instance["end_time"] > 0
    first = next(t for t in instance["task_list"] if t["task_id"] == str(task.pk))
    assert first["status"] == "APPROVED" and "action_configs" not in first
    times = [t for _, _, t, _ in fake_feishu.instance_log]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert [json.loads(m["content"])["header"]["title"]["content"] for m in fake_feishu.messages][-1].endswith(
        "is approved."
    )

    # A redelivery of the first event (a replay, a lost lease) pushes the current state with a newer time.
    old = OutboxEvent.objects.filter(connector=feishu, type="com.baoxiao.claim.submitted").get()
    assert for_connector(feishu).deliver(old).status_code == 200
    assert fake_feishu.instances[claim.number]["status"] == "APPROVED"
    assert fake_feishu.instance_log[-1][2] > times[-1] and len(fake_feishu.messages) == 2  # no second "submitted"


def test_a_return_tells_the_applicant(feishu, fake_feishu):
    claim = submit(make_claim(employee("ou_dev1")))
    task = ApprovalTask.objects.get(claim=claim, status=TaskStatus.PENDING)
    approvals.task_return(task_id=task.pk, actor=employee("ou_lead_plat").user, reason="Add the receipt")
    deliver_all(feishu)
    assert fake_feishu.instances[claim.number]["task_list"][0]["status"] == "DONE"
    titles = [json.loads(m["content"])["header"]["title"]["content"] for m in fake_feishu.messages]
    assert titles[-1].endswith("was returned to you for changes.")


def test_feishu_s_rate_limit_is_retried_later_and_a_missing_scope_is_held_with_its_name(feishu, fake_feishu):
    submit(make_claim(employee("ou_dev1")))
    fake_feishu.fail("external_instances", "rate_limited", times=3)  # every in-process attempt
    outcomes = deliver_all(feishu)
    assert outcomes[-1] == "retry"
    attempt = DeliveryAttempt.objects.filter(event__connector=feishu).order_by("-pk").first()
    assert attempt.status_code == 429

    fake_feishu.scopes -= {"im:message:send_as_bot", "im:message"}
    claim = submit(make_claim(employee("ou_dev2")))
    deliver_all(feishu)
    submitted = OutboxEvent.objects.get(connector=feishu, subject=str(claim.pk), type="com.baoxiao.claim.submitted")
    assert submitted.status == OutboxStatus.HELD and "im:message" in submitted.last_error


def test_claims_of_people_outside_feishu_and_reminders_are_skipped(feishu, fake_feishu, demo_company):
    submit(make_claim(demo_company["zhangwei"]))
    assert set(deliver_all(feishu)) == {"delivered"}
    assert not fake_feishu.instances and not fake_feishu.messages
    attempt = DeliveryAttempt.objects.filter(event__connector=feishu).order_by("-pk").first()
    assert attempt.response_excerpt.startswith("skipped")


def test_events_feishu_shows_nothing_for_are_acknowledged_without_a_call(feishu, fake_feishu):
    reminder = OutboxEvent(connector=feishu, type="com.baoxiao.approval.task.reminded", subject="1", seq=1, data={})
    result = for_connector(feishu).deliver(reminder)
    assert result.status_code == 200 and result.excerpt.startswith("skipped")
    assert fake_feishu.count("approval") == 0
