"""Several audit events in one transaction chain to each other without reading the head again; a rolled
back savepoint (which takes its events with it) makes the next event read the head again."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.services import audit_record
from audit.verification import verify_chain
from config import txcache
from org.models import Department

pytestmark = pytest.mark.django_db


def test_one_head_read_per_transaction_and_the_chain_still_verifies(people):
    target = Department.objects.first()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        for n in range(4):
            audit_record(action=f"test.event{n}", target=target, data={"n": n})
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum(s.startswith('INSERT INTO "audit_auditevent"') for s in sql) == 4
    # At most one head read and one lock (none when this test's transaction already appended: the fixtures).
    assert sum('FROM "audit_auditevent"' in s for s in sql) <= 1
    assert len(sql) <= 4 + 2
    assert verify_chain().whole


def test_a_rolled_back_savepoint_drops_the_remembered_head(people):
    target = Department.objects.first()
    with transaction.atomic():
        audit_record(action="test.kept", target=target)
        try:
            with transaction.atomic():
                audit_record(action="test.undone", target=target)
                raise RuntimeError("the change this event recorded fails")
        except RuntimeError:
            pass
        audit_record(action="test.after", target=target)
    actions = list(AuditEvent.objects.order_by("-sequence").values_list("action", flat=True)[:2])
    assert actions == ["test.after", "test.kept"]
    report = verify_chain()
    assert report.whole, report


@pytest.mark.django_db(transaction=True)  # real commits: no test transaction around this one
def test_txcache_remembers_within_a_transaction_only():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert txcache.remember("k", compute) == 1 and txcache.remember("k", compute) == 2  # outside: every time
    with transaction.atomic():
        assert txcache.remember("k", compute) == 3
        assert txcache.remember("k", compute) == 3
        txcache.put("other", "x")
        assert txcache.get("other") == "x"
    with transaction.atomic():
        assert txcache.get("other") is None
        assert txcache.remember("k", compute) == 4
