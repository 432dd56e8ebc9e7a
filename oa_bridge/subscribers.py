"""Turn domain events into outbox rows, inside the transaction that made the change."""

from __future__ import annotations

from config.domain_events import WILDCARD, DomainEvent, subscribe
from oa_bridge.services.outbox import outbox_write
from reimbursement.models import Claim


@subscribe(WILDCARD)
def write_outbox_events(event: DomainEvent) -> None:
    """One OutboxEvent per outbound connector for each claim event, carrying the snapshot and ``seq``."""
    if isinstance(event.subject, Claim):
        outbox_write(event)
