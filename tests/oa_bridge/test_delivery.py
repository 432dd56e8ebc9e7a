"""Outbox delivery against a real HTTP receiver on 127.0.0.1: outcomes, retries, ordering, replay."""

import datetime
import json

import pytest
from django.utils import timezone

from oa_bridge import signing
from oa_bridge.credentials import get_credentials
from oa_bridge.models import DeliveryAttempt, OutboxEvent, OutboxStatus
from oa_bridge.services.outbox import MAX_ATTEMPTS, outbox_deliver, outbox_replay, outbox_sweep
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db


def claim_events(people):
    submit(make_claim(people["zhangwei"]))
    return list(OutboxEvent.objects.order_by("seq"))


def test_events_are_cloudevents_signed_per_standard_webhooks(demo_company, to_receiver, receiver):
    event = claim_events(demo_company)[0]
    assert outbox_deliver(event_id=str(event.id)) == "delivered"
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert headers["content-type"] == "application/cloudevents+json"
    assert headers["webhook-id"] == str(event.id)
    secrets = get_credentials(to_receiver)["webhook_secrets"]
    assert signing.verify(secrets, headers, body) == str(event.id)
    document = json.loads(body)
    assert document["specversion"] == "1.0" and document["id"] == str(event.id)
    assert document["type"] == "com.baoxiao.claim.submitted" and document["data"]["seq"] == event.seq
    event.refresh_from_db()
    assert event.status == OutboxStatus.DELIVERED and event.delivered_at
    attempt = DeliveryAttempt.objects.get(event=event)
    assert attempt.status_code == 200 and attempt.outcome == "delivered" and attempt.response_excerpt == "ok"


def test_a_server_error_is_retried_with_backoff_then_delivered(demo_company, to_receiver, receiver):
    event = claim_events(demo_company)[0]
    receiver.script.extend([(500, {}), (503, {})])
    assert outbox_deliver(event_id=str(event.id)) == "retry"
    event.refresh_from_db()
    wait = (event.available_at - timezone.now()).total_seconds()
    assert 3 <= wait <= 7  # 5 s ± jitter
    assert outbox_deliver(event_id=str(event.id)) is None  # not due yet: skipped
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())
    assert outbox_deliver(event_id=str(event.id)) == "retry"
    event.refresh_from_db()
    assert 240 <= (event.available_at - timezone.now()).total_seconds() <= 360  # 5 min ± jitter
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())
    assert outbox_deliver(event_id=str(event.id)) == "delivered"
    assert [a.status_code for a in DeliveryAttempt.objects.filter(event=event)] == [500, 503, 200]


def test_retry_after_is_honoured(demo_company, to_receiver, receiver):
    event = claim_events(demo_company)[0]
    receiver.script.append((429, {"Retry-After": "900"}))
    assert outbox_deliver(event_id=str(event.id)) == "retry"
    event.refresh_from_db()
    assert (event.available_at - timezone.now()).total_seconds() >= 890


def test_gone_stops_and_validation_errors_are_held(demo_company, to_receiver, receiver):
    first, second = claim_events(demo_company)[:2]
    receiver.script.extend([(410, {}), (422, {})])
    assert outbox_deliver(event_id=str(first.id)) == "dead"
    assert outbox_deliver(event_id=str(second.id)) == "held"
    assert OutboxEvent.objects.get(pk=first.pk).status == OutboxStatus.DEAD
    assert OutboxEvent.objects.get(pk=second.pk).status == OutboxStatus.HELD


def test_an_unreachable_receiver_is_retried_and_dead_after_the_last_try(demo_company, to_receiver):
    to_receiver.events_url = "http://127.0.0.1:1/nothing"
    to_receiver.save(update_fields=["events_url"])
    event = claim_events(demo_company)[0]
    for _ in range(MAX_ATTEMPTS - 1):
        assert outbox_deliver(event_id=str(event.id)) == "retry"
        OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())
    assert outbox_deliver(event_id=str(event.id)) == "dead"
    assert DeliveryAttempt.objects.filter(event=event).count() == MAX_ATTEMPTS
    assert "refused" in DeliveryAttempt.objects.filter(event=event).last().error.lower()


def test_replay_sends_failed_events_again(demo_company, to_receiver, receiver):
    event = claim_events(demo_company)[0]
    receiver.script.append((400, {}))
    outbox_deliver(event_id=str(event.id))
    assert (
        outbox_replay(actor=demo_company["admin"].user, failed_since=timezone.now() - datetime.timedelta(hours=1)) == 1
    )
    assert outbox_deliver(event_id=str(event.id)) == "delivered"


def test_a_paused_connector_holds_its_events(demo_company, to_receiver, receiver):
    from oa_bridge.services.outbox import connector_set_paused

    event = claim_events(demo_company)[0]
    connector_set_paused(connector_id=to_receiver.pk, paused=True, actor=demo_company["admin"].user)
    assert outbox_deliver(event_id=str(event.id)) is None
    assert outbox_sweep() == 0
    assert not receiver.requests


def test_the_sweeper_re_enqueues_due_events_and_a_lease_prevents_double_sending(demo_company, to_receiver, receiver):
    events = claim_events(demo_company)
    assert outbox_sweep() == len(events)  # eager tasks: delivered right away
    assert OutboxEvent.objects.filter(status=OutboxStatus.DELIVERED).count() == len(events)
    assert len(receiver.requests) == len(events)
    assert outbox_sweep() == 0


def test_the_receiver_keeps_the_newest_snapshot_when_events_arrive_out_of_order(demo_company, to_receiver, receiver):
    events = claim_events(demo_company)
    for event in reversed(events):
        outbox_deliver(event_id=str(event.id))
    subject = events[0].subject
    assert receiver.applied[subject] == max(e.seq for e in events)


def test_the_embedded_beat_retries_what_the_oa_refused_in_the_embedded_default(demo_company, to_receiver, receiver):
    """`make run` without Redis: embedded_beat runs the beat schedule's jobs, so a refused event is sent again."""
    from django.core.management import call_command

    event = claim_events(demo_company)[0]
    receiver.script.append((503, {}))
    assert outbox_deliver(event_id=str(event.id)) == "retry"
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())  # its retry time has come
    call_command("embedded_beat", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
    event.refresh_from_db()
    assert event.status == OutboxStatus.DELIVERED
    assert [a.status_code for a in DeliveryAttempt.objects.filter(event=event)] == [503, 200]
