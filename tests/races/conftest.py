"""Race fixtures: every race runs with the application's row locks and again without them
(settings.BAOXIAO_TEST_DISABLE_ROW_LOCKS), where only the database's own guards are left."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oa_bridge.models import Connector

APP_LOCK, DATABASE_ONLY = "app lock", "database only"


@pytest.fixture(params=[APP_LOCK, DATABASE_ONLY])
def locking(request, settings):
    """Run with the application's locks, and again with them disabled (the test-only switch)."""
    settings.BAOXIAO_TEST_DISABLE_ROW_LOCKS = request.param == DATABASE_ONLY
    return request.param


@pytest.fixture
def no_row_locks(settings):
    settings.BAOXIAO_TEST_DISABLE_ROW_LOCKS = True


def connectors() -> int:
    """Outbound connectors: every domain event becomes one outbox row per connector."""
    return Connector.objects.filter(enabled=True, deliver_events=True).count()


def locks_taken(call) -> list[str]:
    """The SQL statements with FOR UPDATE that ``call()`` ran."""
    with CaptureQueriesContext(connection) as queries:
        call()
    return [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
