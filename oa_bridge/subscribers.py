"""Turn domain events into outbox rows, inside the transaction that made the change."""

from __future__ import annotations

from config.domain_events import WILDCARD, DomainEvent, subscribe
from oa_bridge.models import OutboxEvent
from reimbursement.models import Claim
from reimbursement.snapshots import claim_snapshot

EVENT_TYPE_PREFIX = "com.baoxiao."


@subscribe(WILDCARD)
def write_outbox_event(event: DomainEvent) -> None:
    """One OutboxEvent per claim transition, carrying the claim's full snapshot and its ``seq``."""
    if not isinstance(event.subject, Claim):
        return
    claim = event.subject
    seq = event.data.get("seq", claim.event_seq)
    OutboxEvent.objects.create(
        type=EVENT_TYPE_PREFIX + event.name,
        subject=str(claim.pk),
        seq=seq,
        data={"seq": seq, "claim": claim_snapshot(claim), "change": event.data},
    )
