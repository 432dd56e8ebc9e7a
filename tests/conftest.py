"""Shared fixtures. Tests marked ``postgres`` or ``redis`` skip (saying why) when that service is not
configured, and fail instead when BAOXIAO_REQUIRE_SERVICES=1 (CI), so a missing service is never silent."""

from __future__ import annotations

import pytest
from django.conf import settings


def _redis_problem() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        return f"Redis at {settings.REDIS_URL} is unreachable: {exc}"
    return None


def _postgres_problem() -> str | None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("postgresql"):
        return "DATABASE_URL does not point at PostgreSQL"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    problems = []
    if item.get_closest_marker("postgres"):
        problems.append(_postgres_problem())
    if item.get_closest_marker("redis"):
        problems.append(_redis_problem())
    problems = [p for p in problems if p]
    if not problems:
        return
    reason = "; ".join(problems)
    if settings.BAOXIAO_REQUIRE_SERVICES:
        pytest.fail(f"BAOXIAO_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(f"needs a service: {reason}")


@pytest.fixture(autouse=True)
def _tasks_run_in_process(request):
    """Tasks run eagerly in tests unless a test asks for the real worker (the ``celery_worker`` fixture)."""
    from config.celery import app

    if "celery_worker" in request.fixturenames or "celery_workers" in request.fixturenames:
        yield
        return
    # The prefixed name: with the CELERY namespace, Celery reads CELERY_TASK_ALWAYS_EAGER (from the Django
    # settings) before a plain task_always_eager change, so setting the plain name would do nothing.
    previous = app.conf.task_always_eager
    app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER = previous


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def demo_company(db):
    """The demo company, loaded through the same code as ``manage.py seed_demo``."""
    from config.demo import seed_demo

    seed_demo()
    from org.models import Employee

    return {e.user.username: e for e in Employee.objects.select_related("user", "department")}


from tests.celery_worker import celery_worker, celery_workers  # noqa: E402, F401 - fixtures for every test


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher is slow on purpose; tests create many accounts.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
