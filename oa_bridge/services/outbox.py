"""Writing, delivering, sweeping and replaying outbox events (design §3).

Delivery is at least once: a row is claimed with a short lease, the HTTP call happens outside any
transaction, and the outcome is written afterwards. A worker killed mid-call leaves the lease to expire
and the sweeper to re-enqueue the row, so the receiver may see the same ``webhook-id`` twice but never
misses one. Receivers drop snapshots whose ``seq`` is not newer than the last they applied.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import random
import uuid
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from audit.services import audit_record
from config import txcache
from config.domain_events import DomainEvent
from oa_bridge.connectors import BaseConnector, DeliveryResult, for_connector
from oa_bridge.models import Connector, DeliveryAttempt, OutboxEvent, OutboxStatus
from reimbursement.snapshots import claim_snapshot

log = logging.getLogger(__name__)

EVENT_TYPE_PREFIX = "com.baoxiao."
# Delay before attempt n+1 (design §3): about three days in all, then the event is dead.
RETRY_SCHEDULE = [
    datetime.timedelta(seconds=5),
    datetime.timedelta(minutes=5),
    datetime.timedelta(minutes=30),
    datetime.timedelta(hours=2),
    datetime.timedelta(hours=5),
    datetime.timedelta(hours=10),
    datetime.timedelta(hours=14),
    datetime.timedelta(hours=20),
    datetime.timedelta(hours=24),
]
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
RETRYABLE_4XX = {408, 409, 425, 429}


def outbound_connectors() -> list[Connector]:
    """The connectors events go to; read once per transaction (a submit publishes three events)."""
    return txcache.remember(
        "oa_bridge.outbound_connectors", lambda: list(Connector.objects.filter(enabled=True, deliver_events=True))
    )


def outbox_write(event: DomainEvent) -> list[OutboxEvent]:
    """One row per outbound connector for a claim's domain event; enqueue delivery after commit."""
    claim = event.subject
    seq = event.data.get("seq", claim.event_seq)
    snapshot = claim_snapshot(claim)
    rows = [
        OutboxEvent(
            id=uuid.uuid4(),
            connector=connector,
            type=EVENT_TYPE_PREFIX + event.name,
            subject=str(claim.pk),
            seq=seq,
            data={"seq": seq, "claim": snapshot, "change": event.data},
        )
        for connector in outbound_connectors()
    ]
    OutboxEvent.objects.bulk_create(rows)
    if rows and settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT:
        ids = [str(r.id) for r in rows]
        transaction.on_commit(lambda: enqueue(ids), robust=True)
    return rows


def enqueue(event_ids: list[str]) -> None:
    """Hand events to the workers; a failure here only delays them until the next sweep."""
    from oa_bridge.tasks import deliver_event

    for event_id in event_ids:
        try:
            deliver_event.delay(event_id)
        except Exception:  # noqa: BLE001 - the broker is down: the sweeper will find the row
            log.warning("could not enqueue outbox event %s; the sweeper will retry", event_id, exc_info=True)


# Delivery bookkeeping on PostgreSQL: one statement each for the claim and for the outcome, committed without
# waiting for the WAL flush (synchronous_commit off for that statement alone). Measured with
# bench/outbox_drain.py, the two transactions of the portable path below (BEGIN, SELECT FOR UPDATE, UPDATE,
# COMMIT; BEGIN, INSERT, UPDATE, COMMIT) were 70 % of a worker's time, half of it waiting for fsync.
# Losing such a commit in a database crash is safe: the event is still pending and is sent again after its
# lease (at least once, deduplicated by webhook-id); at worst an attempt is missing from the log. The event
# row itself is written with the business change, synchronously as ever.
_CLAIM_SQL = """
WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
UPDATE {event} AS e SET attempts = e.attempts + 1, available_at = %s
FROM {connector} AS c, relaxed
WHERE e.id = %s AND e.status = %s AND e.available_at <= %s AND c.id = e.connector_id AND c.enabled AND NOT c.paused
RETURNING e.*, hashtextextended(c::text, 0) AS connector_digest
"""
_OUTCOME_SQL = """
WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),
attempt AS (INSERT INTO {attempt} (event_id, {attempt_columns}) SELECT %s, {attempt_values} FROM relaxed)
UPDATE {event} SET {assignments} WHERE id = %s AND status = %s AND attempts = %s
"""


def _tables() -> dict[str, str]:
    return {
        "event": OutboxEvent._meta.db_table,
        "connector": Connector._meta.db_table,
        "attempt": DeliveryAttempt._meta.db_table,
    }


# This process's connectors with their decrypted secrets, each under a digest of its whole row that the claim
# returns: any change to the row (URL, secrets, pause) changes the digest and the connector is read again.
_connector_cache: dict[int, tuple[int, Connector, BaseConnector]] = {}


def _connector(connector_id: int, digest: int) -> Connector:
    cached = _connector_cache.get(connector_id)
    if cached is None or cached[0] != digest:
        connector = Connector.objects.get(pk=connector_id)
        _connector_cache[connector_id] = cached = (digest, connector, for_connector(connector))
    return cached[1]


def _implementation(connector: Connector) -> BaseConnector:
    """The connector's implementation, with its secrets decrypted once per process and row version."""
    cached = _connector_cache.get(connector.pk)
    if cached is not None and cached[1] is connector:
        return cached[2]
    return for_connector(connector)


def _claim(event_id: str) -> OutboxEvent | None:
    """Take a due event for one attempt: check it and its connector, push its lease forward, commit."""
    now = timezone.now()
    lease_until = now + datetime.timedelta(seconds=settings.BAOXIAO_OUTBOX_LEASE_SECONDS)
    if connection.vendor == "postgresql":
        # A concurrent claim of the same row waits for the first, then finds the lease pushed forward.
        sql = _CLAIM_SQL.format(**_tables())
        claimed = list(OutboxEvent.objects.raw(sql, [lease_until, event_id, OutboxStatus.PENDING, now]))
        if not claimed:
            return None
        event = claimed[0]
        event.connector = _connector(event.connector_id, event.connector_digest)
        return event
    with transaction.atomic():
        event = (
            OutboxEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("connector")
            .filter(pk=event_id, status=OutboxStatus.PENDING, available_at__lte=now)
            .first()
        )
        if event is None or event.connector is None or event.connector.paused or not event.connector.enabled:
            return None
        event.attempts += 1
        event.available_at = lease_until
        event.save(update_fields=["attempts", "available_at"])
        return event


def _retry_delay(event: OutboxEvent, result: DeliveryResult) -> datetime.timedelta:
    base = RETRY_SCHEDULE[min(event.attempts, len(RETRY_SCHEDULE)) - 1] * settings.BAOXIAO_OUTBOX_RETRY_SCALE
    delay = base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
    if result.retry_after:
        wanted = _parse_retry_after(result.retry_after)
        if wanted is not None:
            delay = max(delay, min(wanted, datetime.timedelta(hours=24)))
    return delay


def _parse_retry_after(value: str) -> datetime.timedelta | None:
    value = value.strip()
    if value.isdigit():
        return datetime.timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when - timezone.now(), datetime.timedelta(0))


def outcome_of(result: DeliveryResult, attempts: int) -> str:
    """delivered, retry, held (a 4xx someone must look at) or dead (410 Gone, or out of attempts)."""
    code = result.status_code
    if code is not None and 200 <= code < 300:
        return "delivered"
    if code == 410:
        return "dead"
    if code is not None and 400 <= code < 500 and code not in RETRYABLE_4XX:
        return "held"
    return "dead" if attempts >= MAX_ATTEMPTS else "retry"


def outbox_deliver(*, event_id: str) -> str | None:
    """Make one delivery attempt of a due event; returns its outcome, or None if it was not due."""
    event = _claim(event_id)
    if event is None:
        return None
    started = timezone.now()
    result = _implementation(event.connector).deliver(event)  # network I/O: outside any transaction
    outcome = outcome_of(result, event.attempts)
    attempt = {
        "number": event.attempts,
        "started_at": started,
        "latency_ms": result.latency_ms,
        "status_code": result.status_code,
        "error": result.error[:300],
        "response_excerpt": result.excerpt[:500],
        "outcome": outcome,
    }
    fields: dict[str, Any] = {
        "last_error": (result.error or (f"HTTP {result.status_code}" if outcome != "delivered" else ""))[:500]
    }
    if outcome == "delivered":
        fields |= {"status": OutboxStatus.DELIVERED, "delivered_at": timezone.now()}
    elif outcome == "held":
        fields |= {"status": OutboxStatus.HELD}
    elif outcome == "dead":
        fields |= {"status": OutboxStatus.DEAD}
    else:
        fields |= {"available_at": timezone.now() + _retry_delay(event, result)}
    _record_outcome(event, attempt, fields)
    return outcome


def _record_outcome(event: OutboxEvent, attempt: dict[str, Any], fields: dict[str, Any]) -> None:
    """Log the attempt and, if this worker still holds the lease, move the event on.

    Only the holder of the lease writes the outcome: a replay meanwhile (attempts back to 0) or a second
    worker after an expired lease (attempts one higher) must not be overwritten.
    """
    if connection.vendor == "postgresql":
        # Column names come from this module only (the keys above), never from input.
        sql = _OUTCOME_SQL.format(
            attempt_columns=", ".join(attempt),
            attempt_values=", ".join(["%s"] * len(attempt)),
            assignments=", ".join(f"{name} = %s" for name in fields),
            **_tables(),
        )
        params = [event.pk, *attempt.values(), *fields.values(), event.pk, OutboxStatus.PENDING, event.attempts]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with transaction.atomic():
        DeliveryAttempt.objects.create(event=event, **attempt)
        OutboxEvent.objects.filter(pk=event.pk, status=OutboxStatus.PENDING, attempts=event.attempts).update(**fields)


def outbox_sweep(*, limit: int = 1000) -> int:
    """Re-enqueue due pending events (lost broker messages, expired leases, retries). Safe to run twice:
    an event already claimed has its lease pushed forward and is skipped."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(
                status=OutboxStatus.PENDING, available_at__lte=now, connector__enabled=True, connector__paused=False
            )
            .order_by("available_at")
            .values_list("pk", flat=True)[:limit]
        )
    enqueue([str(i) for i in ids])
    return len(ids)


@transaction.atomic
def outbox_replay(
    *,
    actor: Any,
    event_ids: list[str] | None = None,
    failed_since: datetime.datetime | None = None,
    connector: Connector | None = None,
) -> int:
    """Put held or dead events back in the queue, one by one or all that failed since a time.

    "Failed since" means a delivery attempt at or after that time, whenever the event was written: after
    an outage from 09:00, an event written at 08:59 and retried in vain until it died belongs to it too.
    """
    events = OutboxEvent.objects.filter(status__in=[OutboxStatus.HELD, OutboxStatus.DEAD])
    if event_ids is not None:
        events = events.filter(pk__in=event_ids)
    if failed_since is not None:
        events = events.filter(
            Exists(DeliveryAttempt.objects.filter(event=OuterRef("pk"), started_at__gte=failed_since))
        )
    if connector is not None:
        events = events.filter(connector=connector)
    ids = [str(i) for i in events.values_list("pk", flat=True)]
    count = OutboxEvent.objects.filter(pk__in=ids).update(
        status=OutboxStatus.PENDING, attempts=0, available_at=timezone.now(), last_error=""
    )
    if count:
        target = connector or Connector.objects.filter(events__pk__in=ids[:1]).first()
        if target is not None:
            audit_record(action="outbox.replayed", target=target, actor=actor, data={"events": count})
        transaction.on_commit(lambda: enqueue(ids), robust=True)
    return count


@transaction.atomic
def connector_set_paused(*, connector_id: int, paused: bool, actor: Any) -> Connector:
    """Pause or resume delivery to a connector; resuming sends what waited right away."""
    connector = Connector.objects.select_for_update().get(pk=connector_id)
    if connector.paused != paused:
        connector.paused = paused
        connector.save(update_fields=["paused"])
        audit_record(action="connector.paused" if paused else "connector.resumed", target=connector, actor=actor)
        if not paused:
            transaction.on_commit(outbox_sweep, robust=True)
    return connector


def backlog_figures(*, failure_rate: bool = True) -> dict[str, Any]:
    """Backlog (pending and held), oldest undelivered age, dead events and the last hour's failure rate per
    outbound connector (operations screen, /healthz). A fixed number of queries however many events.

    The top-level figures count enabled connectors only: a disabled connector's events wait on purpose.
    /healthz leaves the failure rate out (``failure_rate=False``): it scans the last hour's attempts.
    """
    now = timezone.now()
    per_connector: dict[str, dict[str, Any]] = {}
    slug_of: dict[int, str] = {}
    for connector in Connector.objects.filter(deliver_events=True).values("pk", "slug", "enabled", "paused"):
        slug_of[connector["pk"]] = connector["slug"]
        per_connector[connector["slug"]] = {
            "backlog": 0,
            "oldest_age_s": 0.0,
            "dead": 0,
            "enabled": connector["enabled"],
            "paused": connector["paused"],
        }
        if failure_rate:
            per_connector[connector["slug"]]["failure_rate_1h"] = None  # no attempt in the last hour
    waiting = [OutboxStatus.PENDING, OutboxStatus.HELD, OutboxStatus.DEAD]
    rows = (
        OutboxEvent.objects.filter(status__in=waiting, connector__isnull=False)
        .values("connector_id", "status")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by()
    )
    for row in rows:
        entry = per_connector.get(slug_of.get(row["connector_id"], ""))
        if entry is None:  # a connector that stopped sending events after these were written
            continue
        if row["status"] == OutboxStatus.DEAD:
            entry["dead"] += row["n"]
            continue
        entry["backlog"] += row["n"]
        entry["oldest_age_s"] = max(entry["oldest_age_s"], round((now - row["oldest"]).total_seconds(), 1))
    if failure_rate:
        since = now - datetime.timedelta(hours=1)
        for row in (
            DeliveryAttempt.objects.filter(started_at__gte=since)
            .values("event__connector_id")
            .annotate(total=Count("pk"), failed=Count("pk", filter=~Q(outcome="delivered")))
            .order_by()
        ):
            entry = per_connector.get(slug_of.get(row["event__connector_id"], ""))
            if entry is not None and row["total"]:
                entry["failure_rate_1h"] = round(row["failed"] / row["total"], 3)
    live = [entry for entry in per_connector.values() if entry["enabled"]]
    return {
        "backlog": sum(entry["backlog"] for entry in live),
        "oldest_undelivered_age_s": max((entry["oldest_age_s"] for entry in live), default=0.0),
        "dead": sum(entry["dead"] for entry in live),
        "connectors": per_connector,
    }
