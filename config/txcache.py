"""Values remembered for the rest of the current database transaction, and no longer.

A service that writes several rows in one transaction may read the same thing several times (the
outbound connectors, the audit chain's head). What is remembered here is tied to the connection's
on-commit list, which Django replaces at every commit, rollback, savepoint rollback and close: after any of
those the value is gone and is read again. Outside a transaction nothing is remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, transaction

T = TypeVar("T")
_MISSING = object()


def _store(connection: Any) -> dict[str, Any] | None:
    if not connection.in_atomic_block:
        return None
    owner, values = getattr(connection, "_baoxiao_txcache", (None, None))
    if owner is not connection.run_on_commit:
        values = {}
        connection._baoxiao_txcache = (connection.run_on_commit, values)
    return values


def get(key: str, default: Any = None, *, using: str = DEFAULT_DB_ALIAS) -> Any:
    store = _store(transaction.get_connection(using))
    return default if store is None else store.get(key, default)


def put(key: str, value: Any, *, using: str = DEFAULT_DB_ALIAS) -> None:
    store = _store(transaction.get_connection(using))
    if store is not None:
        store[key] = value


def remember(key: str, compute: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS) -> T:
    """``compute()`` once per transaction (every time outside one)."""
    store = _store(transaction.get_connection(using))
    if store is None:
        return compute()
    value = store.get(key, _MISSING)
    if value is _MISSING:
        value = store[key] = compute()
    return value
