"""The checks behind /healthz. Each returns (ok, detail) and never raises."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

Check = Callable[[], dict]


def _timed(probe: Callable[[], None]) -> dict:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure is a "down" with its reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"ok": False, "error": reason[:300]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def check_database() -> dict:
    from django.db import connection

    def probe() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    return _timed(probe)


def check_cache() -> dict:
    from django.core.cache import cache

    def probe() -> None:
        cache.set("healthz", "1", timeout=10)
        if cache.get("healthz") != "1":
            raise RuntimeError("cache did not return the value just written")

    return _timed(probe)


def check_broker() -> dict:
    import redis

    def probe() -> None:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2).ping()

    return _timed(probe)


def registered_checks() -> dict[str, Check]:
    """The parts /healthz reports: the database always, cache and broker when Redis is configured."""
    checks: dict[str, Check] = {"database": check_database}
    if settings.REDIS_URL:
        checks["cache"] = check_cache
        checks["broker"] = check_broker
    return checks


def run_checks() -> tuple[bool, dict[str, dict]]:
    results = {name: check() for name, check in registered_checks().items()}
    return all(r["ok"] for r in results.values()), results


def outbox_figures() -> dict:
    """The OA outbox per enabled connector: backlog (pending and held), oldest undelivered age, dead events,
    and ``degraded`` when the oldest waits longer than BAOXIAO_OUTBOX_ALERT_AGE_SECONDS. Never raises."""
    try:
        from oa_bridge.services.outbox import backlog_figures

        figures = backlog_figures(failure_rate=False)
    except Exception as exc:  # noqa: BLE001 - reported, not judged: the database check judges the database
        return {"error": (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]}
    alert = settings.BAOXIAO_OUTBOX_ALERT_AGE_SECONDS
    keep = ("backlog", "oldest_age_s", "dead", "paused")
    return {
        "backlog": figures["backlog"],
        "oldest_undelivered_age_s": figures["oldest_undelivered_age_s"],
        "dead": figures["dead"],
        "alert_age_s": alert,
        "degraded": figures["oldest_undelivered_age_s"] > alert,
        "connectors": {
            slug: {key: entry[key] for key in keep} for slug, entry in figures["connectors"].items() if entry["enabled"]
        },
    }


def worker_heartbeat_age() -> float | None:
    """Seconds since a worker last ran the beat-scheduled heartbeat, or None if it never did.

    Reported, not judged: a deployment without beat has no heartbeat, and that is not an outage of
    the web process.
    """
    import datetime

    from django.core.cache import cache
    from django.utils import timezone

    from config.tasks import HEARTBEAT_CACHE_KEY

    try:
        raw = cache.get(HEARTBEAT_CACHE_KEY)
    except Exception:  # noqa: BLE001 - the cache check above already reports a broken cache
        return None
    if not raw:
        return None
    return round((timezone.now() - datetime.datetime.fromisoformat(raw)).total_seconds(), 1)
