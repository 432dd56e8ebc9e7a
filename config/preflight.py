"""Turn configuration and connection failures at start-up into one readable line instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def describe_failure(exc: BaseException) -> str | None:
    """One line that names the failing part, or None when the error is not a start-up problem."""
    from config.env import ConfigError, redact_url

    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}"
    try:
        from django.conf import settings
        from django.db.utils import OperationalError
    except ImportError:  # pragma: no cover - Django is a hard dependency
        return None
    if isinstance(exc, OperationalError):
        url = redact_url(settings.DATABASE_URL) if settings.DATABASE_URL else "the SQLite file in var/"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot use the database ({url}): {reason}"
    try:
        from kombu.exceptions import OperationalError as KombuOperationalError
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, RedisConnectionError | KombuOperationalError):
        reason = str(exc).strip().splitlines()[0]
        return f"cannot reach Redis ({redact_url(settings.REDIS_URL)}): {reason}"
    return None


def check_services() -> None:
    """Connect to the database and, when configured, Redis; raise the underlying error if one is down."""
    from django.conf import settings
    from django.db import connection

    connection.ensure_connection()
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3).ping()


def run_or_exit(func: Callable[[], T], *, exit_code: int = 2) -> T:
    """Run ``func``; a start-up failure prints one line and exits with ``exit_code``."""
    try:
        return func()
    except Exception as exc:
        line = describe_failure(exc)
        if line is None:
            raise
        print(f"baoxiao: {line}", file=sys.stderr)
        raise SystemExit(exit_code) from None
