"""Faults on the real path: real ``celery worker`` processes on Redis and PostgreSQL, a real HTTP receiver.

(a) The OA answers 500, then hangs past the HTTP timeout, then recovers: every event arrives, each applied
    once, with the retry schedule shortened for the worker (BAOXIAO_OUTBOX_RETRY_SCALE).
(b) The worker is SIGKILLed in the middle of a delivery: once its lease expires the sweeper hands the event
    to a new worker. Nothing is lost, and the only duplicate the receiver sees is the same webhook-id again.
(c) The network between worker and OA misbehaves (bench/faults/proxy.py): answers are swallowed after the OA
    applied the request, connections are reset before and after it. Every event is applied once.

The worker is another process, so its settings go through its environment; the test process runs the
sweeper (as beat would) and writes the claims through the services.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from bench.faults.proxy import CLEAN, FaultProxy, Faults
from oa_bridge.models import DeliveryAttempt, OutboxEvent, OutboxStatus
from oa_bridge.services.outbox import outbox_sweep
from oa_bridge.tasks import deliver_event
from tests.reimbursement.factories import make_claim, submit

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# Worker settings: retries after 10 ms, 0.6 s, 3.6 s, 14 s... instead of 5 s, 5 min, 30 min, 2 h...; a POST
# gives up after 1 s; a lease lasts 3 s (longer than connect + read timeouts, as settings insist).
FAST_WORKER = {
    "BAOXIAO_OUTBOX_RETRY_SCALE": "0.002",
    "BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS": "1",
    "BAOXIAO_OUTBOX_LEASE_SECONDS": "3",
}


def write_claims(people, who=("zhangwei", "lina", "wuhao", "heming")) -> list[OutboxEvent]:
    """Submitted claims: three events each (submitted, routed, task created), enqueued after commit."""
    for username in who:
        submit(make_claim(people[username]))
    return list(OutboxEvent.objects.order_by("subject", "seq"))


def sweep_until_delivered(events, workers, *, timeout: float, each_round=None) -> float:
    """Run the sweeper as beat would (faster) until every event is delivered; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if each_round:
            each_round(time.monotonic() - started)
        if OutboxEvent.objects.filter(pk__in=[e.pk for e in events], status=OutboxStatus.DELIVERED).count() == len(
            events
        ):
            return time.monotonic() - started
        outbox_sweep()
        time.sleep(0.3)
    states = Counter(OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("status", flat=True))
    pytest.fail(f"not every event was delivered within {timeout}s: {dict(states)}\n{workers.logs()}")


def test_every_event_arrives_once_after_the_oa_fails_then_hangs_then_recovers(
    demo_company, to_receiver, receiver, celery_workers, monkeypatch
):
    celery_workers.route(monkeypatch, deliver_event)
    celery_workers.start(env=FAST_WORKER, pool="threads", concurrency=4)
    with receiver.lock:
        receiver.script.extend([(500, {})] * 10_000)  # the OA is broken...

    def outage(elapsed: float) -> None:
        if 3 <= elapsed < 6:  # ...then hangs: answers come after the sender's 1 s timeout...
            with receiver.lock:
                receiver.script.clear()
            receiver.delay = 1.5
        elif elapsed >= 6:  # ...then recovers.
            receiver.delay = 0

    events = write_claims(demo_company)
    took = sweep_until_delivered(events, celery_workers, timeout=50, each_round=outage)

    ids = {str(e.pk) for e in events}
    assert receiver.effects == len(events)  # each event applied once...
    assert receiver.seen_ids == ids  # ...and every one of them arrived
    for subject in {e.subject for e in events}:
        assert receiver.applied[subject] == max(e.seq for e in events if e.subject == subject)
    attempts = DeliveryAttempt.objects.filter(event__in=events)
    assert attempts.filter(status_code=500).exists()
    assert attempts.filter(status_code__isnull=True, error__icontains="timed out").exists()
    assert all(e.attempts >= 2 for e in OutboxEvent.objects.filter(pk__in=ids))  # none got through the outage
    assert not OutboxEvent.objects.filter(pk__in=ids).exclude(status=OutboxStatus.DELIVERED).exists()
    # Redeliveries are the same events again (a hung request may have been applied before the sender gave
    # up); the receiver recognised each by its webhook-id.
    delivered_ids = [r["headers"]["webhook-id"] for r in receiver.requests if r["status"] == 200]
    assert set(delivered_ids) == ids
    assert took < 50


def test_no_event_is_lost_when_the_worker_is_killed_mid_delivery(
    demo_company, to_receiver, receiver, celery_workers, monkeypatch
):
    celery_workers.route(monkeypatch, deliver_event)
    doomed = celery_workers.start(
        env=FAST_WORKER | {"BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS": "2", "BAOXIAO_OUTBOX_LEASE_SECONDS": "5"}
    )
    receiver.delay = 1.5  # the OA takes its time: the kill lands while the first POST waits for its answer
    events = write_claims(demo_company, who=("zhangwei", "lina", "wuhao"))

    deadline = time.monotonic() + 20
    while receiver.arrivals == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert receiver.arrivals == 1, celery_workers.logs()
    time.sleep(0.3)
    doomed.kill()
    in_flight = OutboxEvent.objects.get(attempts=1, status=OutboxStatus.PENDING)
    assert not DeliveryAttempt.objects.filter(event=in_flight).exists()  # the outcome was never written

    receiver.delay = 0
    celery_workers.start(
        env=FAST_WORKER | {"BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS": "2", "BAOXIAO_OUTBOX_LEASE_SECONDS": "5"}
    )
    sweep_until_delivered(events, celery_workers, timeout=40)

    ids = {str(e.pk) for e in events}
    assert receiver.seen_ids == ids and receiver.effects == len(events)
    # The killed delivery was applied by the receiver (it answered after the worker died) and sent again
    # once the lease expired: the same webhook-id and the same body, recognised and not applied twice.
    arrivals = Counter(r["headers"]["webhook-id"] for r in receiver.requests)
    assert {event_id: n for event_id, n in arrivals.items() if n > 1} == {str(in_flight.pk): 2}
    bodies = {r["body"] for r in receiver.requests if r["headers"]["webhook-id"] == str(in_flight.pk)}
    assert len(bodies) == 1
    in_flight.refresh_from_db()
    assert in_flight.status == OutboxStatus.DELIVERED and in_flight.attempts == 2
    assert list(DeliveryAttempt.objects.filter(event=in_flight).values_list("number", "outcome")) == [(2, "delivered")]


def test_every_event_is_applied_once_through_drops_and_resets(
    demo_company, to_receiver, receiver, celery_workers, monkeypatch
):
    proxy = FaultProxy(receiver.server.server_address[1], schedule=[(0, Faults(drop=0.4, reset=0.4))]).start()
    try:
        to_receiver.events_url = proxy.url
        to_receiver.save(update_fields=["events_url"])
        celery_workers.route(monkeypatch, deliver_event)
        celery_workers.start(env=FAST_WORKER, pool="threads", concurrency=4)
        events = write_claims(demo_company)

        def heal(elapsed: float) -> None:
            if elapsed >= 4:
                proxy.set(CLEAN)

        sweep_until_delivered(events, celery_workers, timeout=50, each_round=heal)
    finally:
        proxy.stop()

    ids = {str(e.pk) for e in events}
    assert proxy.stats["drops"] and proxy.stats["resets before"] + proxy.stats["resets after"]
    assert receiver.seen_ids == ids and receiver.effects == len(events)  # every one, each applied once
    arrivals = Counter(r["headers"]["webhook-id"] for r in receiver.requests)
    assert max(arrivals.values()) >= 2  # a dropped answer made the sender try again: recognised, not re-applied
    errors = set(
        DeliveryAttempt.objects.filter(event__in=events, status_code__isnull=True).values_list("error", flat=True)
    )
    assert any("reset" in e.lower() or "aborted" in e.lower() or "closed" in e.lower() for e in errors), errors
