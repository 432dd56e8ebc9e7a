"""The pieces of a fault or load run, each its own process as in production: a throwaway PostgreSQL
database, a redis-server of the run's own on a free port (never the shared one), ``celery worker`` and
``celery beat`` processes, and gunicorn for the load run."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)


# --- PostgreSQL ------------------------------------------------------------------------------------------------
class ThrowawayDatabase:
    """``name`` on the server DATABASE_URL points at; created empty, dropped by ``drop``."""

    def __init__(self, name: str):
        database_url = os.environ.get("DATABASE_URL", "")
        if not database_url.startswith(("postgres://", "postgresql://")):
            raise SystemExit("needs DATABASE_URL=postgres://... (a throwaway database is made on that server)")
        parts = urlsplit(database_url)
        self.name = name
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        self.url = urlunsplit(parts._replace(path=f"/{name}"))

    def create(self) -> ThrowawayDatabase:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _run(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)


# --- Redis -----------------------------------------------------------------------------------------------------
class RedisServer:
    """A redis-server of our own, without persistence: a restart loses every queued message, the hard case."""

    def __init__(self, log_dir: pathlib.Path):
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        command += ["no", "--protected-mode", "yes", "--logfile", str(self.log_path)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        wait_for(self.ping, 15, "redis-server start")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: the queue and every unacknowledged message are gone."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


# --- Celery and gunicorn ---------------------------------------------------------------------------------------
class Process:
    """A subprocess of ours with a log file; ``ready_text`` in the log means it is up."""

    def __init__(self, command: list[str], log_path: pathlib.Path, env: dict[str, str], ready_text: str = ""):
        self.command, self.log_path, self.env, self.ready_text = command, log_path, env, ready_text
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self, wait: bool = True) -> Process:
        self.starts += 1
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.command, cwd=ROOT, env=os.environ | self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._offset = self.log_path.stat().st_size if self.starts > 1 else 0
        if wait and self.ready_text:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[:5]} exited:\n{self.tail()}")
            return self.ready_text in self.log_path.read_text(errors="replace")[self._offset :]

        wait_for(ready, timeout, f"{' '.join(self.command[:6])} ready")

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def celery_worker(log_dir: pathlib.Path, env: dict[str, str], *, concurrency: int = 8, queue: str) -> Process:
    name = f"faults-{uuid.uuid4().hex[:6]}@%h"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool=threads"]
    command += [f"--concurrency={concurrency}", "--prefetch-multiplier=4", "--loglevel=INFO", "-n", name]
    command += ["--without-mingle", "--without-gossip"]
    return Process(command, log_dir / "worker.log", env, ready_text="ready.")


def celery_beat(log_dir: pathlib.Path, env: dict[str, str]) -> Process:
    schedule = log_dir / f"celerybeat-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO", "--schedule", str(schedule)]
    return Process(command, log_dir / "beat.log", env, ready_text="beat: Starting")


def gunicorn(log_dir: pathlib.Path, env: dict[str, str], port: int, workers: int = 3, threads: int = 4) -> Process:
    command = [str(pathlib.Path(sys.executable).parent / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}"]
    # Keep-alive longer than the load's pauses (1-3 s): with gunicorn's 2 s the server closes idle connections
    # just as the client reuses them, and the client sees resets that no proxy in front would pass on.
    command += ["-w", str(workers), "-k", "gthread", "--threads", str(threads), "--timeout", "60", "--keep-alive", "10"]
    command += ["--access-logfile", "-", "--error-logfile", "-"]
    return Process(command, log_dir / "gunicorn.log", env, ready_text="Booting worker")
