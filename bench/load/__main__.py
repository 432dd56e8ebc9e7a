"""``make load``: 50 users on the API while the OA answers slowly, then again while the OA is down.

The app runs as in production, each piece a process of its own: gunicorn on 127.0.0.1 (a free port), a
``celery worker`` and ``celery beat``, a throwaway PostgreSQL database (``baoxiao_bench_load`` on
DATABASE_URL's server, dropped at the end) and a redis-server of the run's own. The OA is the idempotent
receiver of bench/faults/receiver.py answering every event in 2 s. Locust (headless, bench/load/locustfile.py)
runs the mixed workload for ``--minutes`` (10 by default); then the OA stops listening and the same run is
repeated. Prints p95, p99 and the error rate per request type and overall, both runs side by side.

Targets: p95 <= 300 ms, p99 <= 800 ms, errors < 0.1 %, and the same with the OA down (the web never waits for
the OA: events wait in the outbox). Exit 1 when a target is missed.

Run: ``DATABASE_URL=postgres://... .venv/bin/python -m bench.load [--minutes 2] [--users 50]``
(needs the ``load`` extra: ``pip install -e '.[load]'``).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import pathlib
import socket
import subprocess
import sys
import tempfile

from bench.faults.receiver import Receiver
from bench.faults.stack import (
    ROOT,
    Process,
    RedisServer,
    ThrowawayDatabase,
    celery_beat,
    celery_worker,
    free_port,
    gunicorn,
    wait_for,
)

QUEUE = "load"
TARGETS = {"p95": 300, "p99": 800, "errors": 0.001}


def pools() -> dict[str, str]:
    """Demo accounts by role, each with an API token: employees who manage no one, their managers
    (approvers), finance."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from org.demo.company import PEOPLE

    managers = {person[4] for person in PEOPLE if person[4]}
    employees = [p[0] for p in PEOPLE if p[4] and p[0] not in managers and {"finance", "admin"}.isdisjoint(p[7])]
    approvers = sorted({p[4] for p in PEOPLE if p[0] in employees})
    finance = [p[0] for p in PEOPLE if "finance" in p[7]]
    users = {u.username: u for u in get_user_model().objects.filter(username__in=[*employees, *approvers, *finance])}

    def accounts(names: list[str]) -> str:
        return ",".join(f"{name}:{Token.objects.get_or_create(user=users[name])[0].key}" for name in names)

    return {
        "LOAD_EMPLOYEES": accounts(employees),
        "LOAD_APPROVERS": accounts(approvers),
        "LOAD_FINANCE": accounts(finance),
    }


def oa_down_url() -> str:
    """A loopback port nobody listens on: connections are refused at once, as when the OA is down."""
    return f"http://127.0.0.1:{free_port()}/hook"


def run_locust(url: str, args, log_dir: pathlib.Path, label: str, accounts: dict[str, str]) -> dict:
    prefix = log_dir / label
    command = [str(pathlib.Path(sys.executable).parent / "locust"), "-f", str(ROOT / "bench/load/locustfile.py")]
    command += ["--headless", "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.minutes * 60:.0f}s"]
    command += ["--host", url, "--csv", str(prefix), "--only-summary", "--stop-timeout", "10"]
    with (log_dir / f"{label}-locust.log").open("wb") as log:
        subprocess.run(command, env=os.environ | accounts, stdout=log, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    figures: dict[str, dict[str, float]] = {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            count = int(row["Request Count"])
            figures[row["Name"]] = {
                "n": count,
                "p95": float(row["95%"] or 0),
                "p99": float(row["99%"] or 0),
                "errors": int(row["Failure Count"]) / count if count else 0.0,
            }
    return figures


def backlog(connector) -> str:
    from oa_bridge.models import OutboxEvent, OutboxStatus

    events = OutboxEvent.objects.filter(connector=connector)
    return f"{events.filter(status=OutboxStatus.DELIVERED).count()} of {events.count()} events delivered"


def side_by_side(up: dict, down: dict) -> tuple[str, bool]:
    names = [n for n in up if n != "Aggregated"] + [n for n in down if n not in up and n != "Aggregated"]
    head = "| request | n | p95 ms | p99 ms | errors | n (OA down) | p95 ms | p99 ms | errors |"
    lines = [head, "|---|" + "---:|" * 8]
    met = True
    for name in [*names, "Aggregated"]:
        cells = []
        for figures in (up, down):
            f = figures.get(name)
            cells += [str(f["n"]), f"{f['p95']:.0f}", f"{f['p99']:.0f}", f"{f['errors']:.2%}"] if f else ["—"] * 4
        label = "**overall**" if name == "Aggregated" else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for figures in (up, down):
        overall = figures.get("Aggregated")
        met &= bool(overall) and (
            overall["p95"] <= TARGETS["p95"]
            and overall["p99"] <= TARGETS["p99"]
            and overall["errors"] < TARGETS["errors"]
        )
    return "\n".join(lines), met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10, help="length of each of the two runs (default 10)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second")
    parser.add_argument("--oa-delay", type=float, default=2.0, help="seconds the OA takes to answer an event")
    args = parser.parse_args()
    log_dir = pathlib.Path(tempfile.mkdtemp(prefix="baoxiao-load-"))
    database = ThrowawayDatabase("baoxiao_bench_load").create()
    redis_server = RedisServer(log_dir).start()
    os.environ.update(
        DATABASE_URL=database.url,
        REDIS_URL=redis_server.url,
        BAOXIAO_CELERY_QUEUE=QUEUE,
        BAOXIAO_VAR_DIR=str(log_dir / "var"),
        DJANGO_SETTINGS_MODULE="config.settings",
        BAOXIAO_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    receiver = Receiver(delay=args.oa_delay)
    started: list[Process] = []
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        from config.demo import seed_demo
        from oa_bridge.credentials import new_webhook_secret, set_credentials
        from oa_bridge.models import Connector

        call_command("migrate", verbosity=0)
        seed_demo()
        Connector.objects.update(enabled=False)
        oa = Connector.objects.create(slug="load-oa", name="Slow OA", kind="generic", events_url=receiver.url)
        set_credentials(oa, {"webhook_secrets": [new_webhook_secret()]})
        port = free_port()
        env = {"BAOXIAO_BASE_URL": f"http://127.0.0.1:{port}"}
        for process in (
            gunicorn(log_dir, env, port),
            celery_worker(log_dir, {}, queue=QUEUE),
            celery_beat(log_dir, {}),
        ):
            started.append(process.start())
        wait_for(lambda: _listening(port), 60, "gunicorn listening")
        url = f"http://127.0.0.1:{port}"
        print(f"load: {args.users} users, {args.minutes:g} min per run, {os.cpu_count()} CPUs, load {_load()}")
        print(f"  logs in {log_dir}")
        accounts = pools()
        up = run_locust(url, args, log_dir, "oa-slow", accounts)
        print(f"  OA answering in {args.oa_delay:g} s: done, {backlog(oa)}; load {_load()}", flush=True)
        oa.events_url = oa_down_url()
        oa.save(update_fields=["events_url"])
        receiver.stop()
        down = run_locust(url, args, log_dir, "oa-down", accounts)
        print(f"  OA down: done, {backlog(oa)} (the rest wait in the outbox); load {_load()}")
        connections.close_all()
    finally:
        for process in reversed(started):
            process.stop()
        receiver.stop()
        redis_server.stop()
        database.drop()
    text, met = side_by_side(up, down)
    print()
    now = datetime.datetime.now(datetime.UTC)
    print(f"OA answering in {args.oa_delay:g} s (left) | OA down (right); {now:%Y-%m-%d %H:%M} UTC")
    print(text)
    verdict = "met" if met else "missed"
    print(f"\ntargets p95 <= {TARGETS['p95']} ms, p99 <= {TARGETS['p99']} ms, errors < 0.1 %: {verdict}")
    return 0 if met else 1


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    sys.exit(main())
