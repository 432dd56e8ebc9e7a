"""A real ``celery worker`` process against Redis and the test database, for tests that must prove the
whole path (broker, worker, database) rather than the in-process shortcut."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url_of_test_db() -> str:
    s = connection.settings_dict
    auth = s["USER"] or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WorkerProcess:
    """One ``celery worker`` process. ``env`` adds settings for the worker only (it is another process: the
    test's ``settings`` fixture does not reach it), e.g. a shorter lease or retry schedule."""

    def __init__(
        self,
        queue: str,
        log_path: Path,
        *,
        name: str = "",
        env: dict[str, str] | None = None,
        pool: str = "solo",
        concurrency: int = 1,
    ):
        self.queue = queue
        self.log_path = log_path
        self.name = name or queue
        self.env = env or {}
        self.pool = pool
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = os.environ | {
            "DATABASE_URL": database_url_of_test_db(),
            "REDIS_URL": settings.REDIS_URL,
            "BAOXIAO_CELERY_QUEUE": self.queue,
            **self.env,
        }
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                f"--pool={self.pool}",
                f"--concurrency={self.concurrency}",
                "--loglevel=INFO",
                "-Q",
                self.queue,
                "-n",
                f"{self.name}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no ack, no chance to finish the task at hand (a crash, an OOM kill)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """Start a worker on a queue of its own; yield it; stop it. Tasks sent to ``worker.queue`` reach it."""
    from config.celery import app

    worker = WorkerProcess(f"test-{uuid.uuid4().hex[:10]}", tmp_path / "worker.log")
    worker.start()
    previous = app.conf.task_always_eager
    app.conf.CELERY_TASK_ALWAYS_EAGER = False  # the prefixed name is the one Celery reads (see tests/conftest.py)
    try:
        _wait_until_ready(worker, app)
        yield worker
    finally:
        app.conf.CELERY_TASK_ALWAYS_EAGER = previous
        worker.stop()


class Workers:
    """Workers started on demand on one queue of their own (``start(env=..., pool=...)``)."""

    def __init__(self, queue: str, tmp_path: Path, app):
        self.queue = queue
        self.tmp_path = tmp_path
        self.app = app
        self.started: list[WorkerProcess] = []

    def start(self, **options) -> WorkerProcess:
        n = len(self.started) + 1
        worker = WorkerProcess(self.queue, self.tmp_path / f"worker-{n}.log", name=f"{self.queue}-{n}", **options)
        self.started.append(worker)
        worker.start()
        _wait_until_ready(worker, self.app)
        return worker

    def route(self, monkeypatch, *tasks) -> None:
        """Send these tasks' ``delay()`` to this queue (the code under test calls ``delay`` as in production)."""
        for task in tasks:
            monkeypatch.setattr(
                task, "delay", lambda *args, _task=task, **kwargs: _task.apply_async(args, kwargs, queue=self.queue)
            )

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.output()[-4000:]}" for w in self.started)


@pytest.fixture
def celery_workers(transactional_db, tmp_path):
    """Start real workers during a test, restart them, kill them; all are stopped at the end."""
    from config.celery import app

    workers = Workers(f"test-{uuid.uuid4().hex[:10]}", tmp_path, app)
    previous = app.conf.task_always_eager
    app.conf.CELERY_TASK_ALWAYS_EAGER = False
    try:
        yield workers
    finally:
        app.conf.CELERY_TASK_ALWAYS_EAGER = previous
        for worker in workers.started:
            worker.stop()


def _wait_until_ready(worker: WorkerProcess, app, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{worker.output()}")
        if "ready." in worker.output():
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready after {timeout}s:\n{worker.output()}")
