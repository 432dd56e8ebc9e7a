"""Row locks, with the test-only switch that turns them off (settings.BAOXIAO_TEST_DISABLE_ROW_LOCKS).

The race tests (tests/races/) run each race twice: with the locks, and without them to show that the
database's own guards (unique constraints, conditional UPDATEs) still keep one effect per race.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.db.models import QuerySet

Q = TypeVar("Q", bound=QuerySet)


def row_locks_disabled() -> bool:
    return bool(getattr(settings, "BAOXIAO_TEST_DISABLE_ROW_LOCKS", False))


def for_update(queryset: Q, **kwargs: Any) -> Q:
    """``queryset.select_for_update(**kwargs)``, or the plain queryset when the test switch is on."""
    return queryset if row_locks_disabled() else queryset.select_for_update(**kwargs)
