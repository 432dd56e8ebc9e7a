"""Writing the audit trail. Call inside the transaction of the change being recorded."""

from __future__ import annotations

from typing import Any

from django.db import models, router, transaction
from django.utils import timezone

from audit import chain
from audit.models import AuditEvent
from config import txcache


def audit_record(
    *,
    action: str,
    target: models.Model,
    actor: Any | None = None,
    actor_name: str = "",
    on_behalf_of_name: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event for ``target``; ``actor`` None means the system (a task, the OA).

    The event is chained to the last one under the chain's lock, which is held until the caller's
    transaction ends: audit last, after the row locks of the change, and keep the transaction short.
    """
    if actor is not None and not actor_name:
        employee = getattr(actor, "employee", None)
        actor_name = getattr(employee, "name", "") or actor.get_username()
    event = AuditEvent(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor_name or "system",
        on_behalf_of_name=on_behalf_of_name,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        data=chain.normalise_data(data or {}),
    )
    using = router.db_for_write(AuditEvent)
    connection = transaction.get_connection(using)
    # Inside the caller's transaction no savepoint of our own: a failed insert fails the change it records.
    with transaction.atomic(using=using, savepoint=not connection.in_atomic_block):
        head = txcache.get(HEAD_KEY, using=using)
        if head is None:
            chain.lock_chain(using)
            # Read after the lock: under READ COMMITTED this statement sees the last writer's committed row.
            head = AuditEvent.objects.using(using).order_by("-sequence").values_list("sequence", "hash").first()
        event.sequence, event.prev_hash = (head[0] + 1, head[1]) if head else (1, chain.GENESIS_HASH)
        # Stamped under the lock, so times never run backwards along the chain.
        event.occurred_at = timezone.now()
        event.hash = chain.event_hash(event)
        event.save(force_insert=True, using=using)
        txcache.put(HEAD_KEY, (event.sequence, event.hash), using=using)
    return event


# The head this transaction appended last (config.txcache). While the transaction holds the chain's lock
# nobody else can append, so its next event chains to it without taking the lock and reading the head again
# (two round trips saved per event after the first). After a commit, rollback or savepoint rollback (where
# our insert may be undone or another writer may follow) the head is read again under the lock.
HEAD_KEY = "audit.chain_head"
