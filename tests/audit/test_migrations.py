"""The chain migration seals the events written before it, oldest first."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit import chain
from audit.models import AuditEvent
from audit.verification import verify_chain

BEFORE = [("audit", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_existing_events_are_chained_in_id_order_and_then_sealed(monkeypatch):
    # Small pages, so the seven events below take three of them.
    monkeypatch.setattr(importlib.import_module("audit.migrations.0003_chain_backfill"), "BATCH", 3)
    executor = MigrationExecutor(connection)
    latest = [key for key in executor.loader.graph.leaf_nodes() if key[0] == "audit"]
    executor.migrate(BEFORE)
    try:
        Old = executor.loader.project_state(BEFORE).apps.get_model("audit", "AuditEvent")
        start = timezone.now() - datetime.timedelta(days=30)
        for i in range(7):
            Old.objects.create(
                occurred_at=start + datetime.timedelta(hours=i),
                action=f"legacy.{i}",
                actor_name="system",
                target_type="legacy.thing",
                target_id=str(i),
                data={"i": i, "rate": 1.5},
            )
    finally:
        MigrationExecutor(connection).migrate(latest)

    events = list(AuditEvent.objects.order_by("id"))
    assert [e.sequence for e in events] == list(range(1, 8))
    assert [e.action for e in events] == [f"legacy.{i}" for i in range(7)]
    assert events[0].prev_hash == chain.GENESIS_HASH and all(e.hash == chain.event_hash(e) for e in events)
    assert verify_chain().whole
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=events[0].pk).delete()
