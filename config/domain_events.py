"""A small, synchronous domain-event registry (design §1).

A service publishes ``claim.submitted`` with the claim; subscribers (the OA outbox, notifications) run
right away inside the same transaction, so a failing subscriber rolls the whole transition back and no
event can be lost between the change and its outbox row. Subscribers must not do network I/O: they
write rows and register ``transaction.on_commit`` work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction


@dataclass(frozen=True)
class DomainEvent:
    name: str  # dotted, e.g. "claim.submitted"
    subject: Any  # the model instance the event is about (a Claim)
    actor: Any | None = None
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[DomainEvent], None]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)
WILDCARD = "*"


def subscribe(*names: str) -> Callable[[Subscriber], Subscriber]:
    """Register a subscriber for events by name (``"*"`` for every event). Use in AppConfig.ready()."""

    def register(func: Subscriber) -> Subscriber:
        for name in names:
            if func not in _subscribers[name]:
                _subscribers[name].append(func)
        return func

    return register


def publish(event: DomainEvent) -> None:
    """Run every subscriber of the event now; must be called inside the transaction of the change."""
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        raise RuntimeError(f"domain event {event.name} published outside a transaction")
    # Wildcard subscribers (the outbox) first: they record the event as it happened, before the
    # reactions of specific subscribers (routing after a submit) publish events of their own.
    for func in [*_subscribers.get(WILDCARD, []), *_subscribers.get(event.name, [])]:
        func(event)
