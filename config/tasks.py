"""Infrastructure tasks: a heartbeat that proves the worker and beat are alive."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "worker-heartbeat"


@shared_task(name="config.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker ran a beat-scheduled task; /healthz reports its age."""
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().isoformat(), timeout=None)


@shared_task(name="config.tasks.echo")
def echo(value: str) -> dict:
    """Return the value with facts only a worker process can know: used by the end-to-end worker test."""
    import os

    from django.contrib.auth import get_user_model

    return {"value": value, "pid": os.getpid(), "users": get_user_model().objects.count()}
