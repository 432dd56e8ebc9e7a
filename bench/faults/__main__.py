"""``make faults``: 2,000 outbox events through four faults, on the real path; a table of what arrived.

Every scenario writes its events through the services while the fault is on, then lets the system recover
on its own: real ``celery worker`` and ``celery beat`` processes (the beat sweeper every 15 s, as in
production), a throwaway PostgreSQL database (``baoxiao_bench_faults`` on DATABASE_URL's server, dropped at
the end), a redis-server of the run's own on a free port, and an idempotent receiver (bench/faults/receiver.py)
that counts effects per event id.

(a) proxy: a TCP proxy (bench/faults/proxy.py) between the workers and the receiver adds latency, swallows
    answers and resets connections; every 10 s the OA refuses connections for 2 s, then answers after the
    HTTP timeout for 2 s.
(b) worker kill: the worker process is SIGKILLed a few seconds after each start, and started again.
(c) Redis restart: the run's redis-server is SIGKILLed (no persistence: every queued message is lost) and
    started again 5 s later.
(d) web dies after commit: "web processes" write claims through the services and each SIGKILLs itself after
    a commit, inside the on-commit callback that would enqueue the events; the beat sweeper must find them.

For each: events committed, delivered, lost (committed but never applied by the receiver), duplicate effects
(an event id applied twice, or two ids carrying the same change) and the drain time after recovery (from
the end of the fault to the last event delivered). Exit 1 if anything is lost or applied twice.

Run: ``DATABASE_URL=postgres://... .venv/bin/python -m bench.faults [--events 2000] [--scenario a,b]``
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import pathlib
import random
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

from bench.faults.proxy import CLEAN, FaultProxy, Faults
from bench.faults.receiver import Receiver
from bench.faults.stack import ROOT, Process, RedisServer, ThrowawayDatabase, celery_beat, celery_worker, wait_for

QUEUE = "faults"
# Worker settings: retries after 5 ms, 0.3 s, 1.8 s, 7 s... instead of 5 s, 5 min, 30 min, 2 h...; a POST
# gives up after 2 s; a lease lasts 5 s (longer than connect + read timeouts, as settings insist).
FAST = {
    "BAOXIAO_OUTBOX_RETRY_SCALE": "0.001",
    "BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS": "2",
    "BAOXIAO_OUTBOX_LEASE_SECONDS": "5",
}


@dataclass
class Result:
    scenario: str
    events: int = 0
    delivered: int = 0
    lost: int = 0
    duplicates: int = 0
    drain_s: float | None = None
    notes: list[str] = field(default_factory=list)


class Scenario:
    """One run: a connector of its own, fresh worker and beat, the fault, then the wait for the drain."""

    name = ""
    direct = True  # the connector's URL is the receiver's; False: through the fault proxy

    def __init__(self, ctx: Context, events: int):
        from oa_bridge.credentials import new_webhook_secret, set_credentials
        from oa_bridge.models import Connector

        self.ctx, self.target = ctx, events
        self.proxy = FaultProxy(ctx.receiver.port).start() if not self.direct else None
        Connector.objects.update(enabled=False)
        self.connector = Connector.objects.create(
            slug=f"faults-{uuid.uuid4().hex[:6]}",
            name=f"Faults {self.name}",
            kind="generic",
            events_url=self.proxy.url if self.proxy else ctx.receiver.url,
        )
        set_credentials(self.connector, {"webhook_secrets": [new_webhook_secret()]})
        self.result = Result(self.name)
        self.worker = celery_worker(ctx.log_dir, FAST, queue=QUEUE)
        self.beat = celery_beat(ctx.log_dir, FAST)
        self.recovered_at = 0.0

    def run(self, timeout: float) -> Result:
        import redis

        redis.Redis.from_url(self.ctx.redis.url).flushall()
        self.ctx.receiver.ask("take")
        self.worker.start()
        self.beat.start()
        try:
            self.fault()
            self.recovered_at = self.recovered_at or time.time()
            self.wait_for_drain(timeout)
        finally:
            self.worker.stop()
            self.beat.stop()
            if self.proxy:
                self.proxy.stop()
        return self.result

    def fault(self) -> None:
        raise NotImplementedError

    # --- writing events the way a claim's transaction does ---------------------------------------------------
    def write_events(self, stop: threading.Event | None = None) -> threading.Thread:
        """A thread that writes ``target`` events through outbox_write, four per transaction (a submit writes
        three or four), each enqueued after commit by outbox_write itself."""

        def write() -> None:
            from django.db import connection, transaction

            from config.domain_events import DomainEvent
            from oa_bridge.services.outbox import outbox_write
            from reimbursement.models import Claim

            claims = list(Claim.objects.order_by("pk")[:20])
            n = 0
            try:
                while n < self.target:
                    with transaction.atomic():
                        for _ in range(min(4, self.target - n)):
                            n += 1
                            data = {"seq": n, "probe": n, "scenario": self.name}
                            outbox_write(DomainEvent("claim.fault_probe", claims[n % len(claims)], data=data))
            finally:
                connection.close()

        thread = threading.Thread(target=write, name="writer", daemon=True)
        thread.start()
        return thread

    # --- the outcome ---------------------------------------------------------------------------------------
    def wait_for_drain(self, timeout: float) -> None:
        from django.db.models import Max

        from oa_bridge.models import OutboxEvent, OutboxStatus

        events = OutboxEvent.objects.filter(connector=self.connector)
        total = events.count()

        def drained() -> bool:
            return (
                self.ctx.receiver.ask("count") >= total
                and events.filter(status=OutboxStatus.DELIVERED).count() == total
            )

        try:
            wait_for(drained, timeout, f"scenario {self.name} drain", interval=0.5)
        except RuntimeError as exc:
            self.result.notes.append(str(exc))
        ids = {str(i) for i in events.values_list("pk", flat=True)}
        seen = self.ctx.receiver.ask("take")
        effects, arrivals = seen["effects"], seen["arrivals"]
        last = events.aggregate(last=Max("delivered_at"))["last"]
        undelivered = events.exclude(status=OutboxStatus.DELIVERED).values_list("status", flat=True)
        r = self.result
        r.events = total
        r.delivered = len(ids & set(effects))
        r.lost = len(ids - set(effects))
        r.duplicates = sum(n - 1 for n in effects.values()) + seen["content_duplicates"]
        if len(set(effects) - ids):
            r.notes.append(f"{len(set(effects) - ids)} unknown ids applied")
        if last is not None and not r.lost:
            r.drain_s = max(0.0, last.timestamp() - self.recovered_at)
        redelivered = sum(arrivals.values()) - len(arrivals)
        r.notes.append(f"{redelivered} redeliveries recognised")
        if undelivered:
            r.notes.append(f"not marked delivered: {dict(_count(undelivered))}")
        if self.worker.starts > 1:
            r.notes.append(f"{self.worker.starts} worker starts")


class ProxyFaults(Scenario):
    name = "(a) proxy: latency, drops, resets"
    direct = False
    MIXED = Faults(latency=0.15, drop=0.1, reset=0.1)
    PHASES = [(0, MIXED), (6, Faults(refuse=True)), (8, Faults(latency=2.5)), (10, None)]

    def fault(self) -> None:
        writer = self.write_events()
        started = time.monotonic()
        while writer.is_alive() or time.monotonic() - started < 20:
            elapsed = (time.monotonic() - started) % 10
            phase = [f for at, f in self.PHASES if at <= elapsed][-1]
            self.proxy.set(phase or self.MIXED)
            time.sleep(0.1)
        self.proxy.set(CLEAN)
        self.recovered_at = time.time()
        stats = self.proxy.stats
        self.result.notes.append(
            f"proxy: {stats['drops']} drops, {stats['resets before'] + stats['resets after']} resets over "
            f"{stats['connections']} connections, {time.monotonic() - started:.0f} s of faults"
        )


class WorkerKills(Scenario):
    name = "(b) worker SIGKILL every 4 s"

    def fault(self) -> None:
        writer = self.write_events()
        kills = 0
        while writer.is_alive() or kills < 5:
            time.sleep(4)
            self.worker.kill()
            kills += 1
            self.recovered_at = time.time()
            self.worker.start()
        self.result.notes.append(f"{kills} kills")


class RedisRestart(Scenario):
    name = "(c) Redis restart (5 s down)"

    def fault(self) -> None:
        writer = self.write_events()
        time.sleep(3)
        self.ctx.redis.kill()
        down = time.monotonic()
        time.sleep(5)
        self.ctx.redis.start()
        self.recovered_at = time.time()
        self.result.notes.append(f"Redis down {time.monotonic() - down:.1f} s, queue lost")
        writer.join()


class WebDiesAfterCommit(Scenario):
    name = "(d) web SIGKILL after commit"

    def fault(self) -> None:
        from oa_bridge.models import OutboxEvent

        events = OutboxEvent.objects.filter(connector=self.connector)
        deaths = lives = 0
        while events.count() < self.target:
            lives += 1
            claims = max(1, (self.target - events.count()) // 3)
            process = Process(
                [sys.executable, "-m", "bench.faults.web_writer", "--claims", str(claims)]
                + ["--die-after", str(random.randint(15, 45))],  # noqa: S311
                self.ctx.log_dir / "web_writer.log",
                {},
            ).start()
            process.process.wait()
            if process.process.returncode == -9:
                deaths += 1
                self.recovered_at = time.time()  # recovery starts at the last death
            elif process.process.returncode:
                raise RuntimeError(f"the web writer failed:\n{process.tail()}")
        self.recovered_at = self.recovered_at or time.time()
        self.result.notes.append(f"{deaths} of {lives} web processes killed after a commit, before its enqueue")
        self._check_claims()

    def _check_claims(self) -> None:
        """Every submitted claim has its submitted event: nothing committed without its outbox row."""
        from oa_bridge.models import OutboxEvent
        from reimbursement.models import Claim

        submitted = set(
            OutboxEvent.objects.filter(connector=self.connector, type="com.baoxiao.claim.submitted").values_list(
                "subject", flat=True
            )
        )
        since = datetime.datetime.fromtimestamp(self.ctx.started, tz=datetime.UTC)
        claims = Claim.objects.filter(submitted_at__isnull=False, submitted_at__gte=since)
        missing = [c for c in claims.values_list("pk", flat=True) if str(c) not in submitted]
        if missing:
            self.result.lost += len(missing)
            self.result.notes.append(f"{len(missing)} submitted claims without their event")


SCENARIOS = {"a": ProxyFaults, "b": WorkerKills, "c": RedisRestart, "d": WebDiesAfterCommit}


@dataclass
class Context:
    receiver: Receiver
    redis: RedisServer
    log_dir: pathlib.Path
    started: float = 0.0


def _draft_claims(count: int) -> None:
    """The claims the probe events of (a)-(c) are about (drafts, written through the services)."""
    from org.models import Employee
    from tests.reimbursement.factories import make_claim

    people = list(Employee.objects.filter(user__username__in=["zhangwei", "lina", "wuhao", "heming"]))
    for n in range(count):
        make_claim(people[n % len(people)])


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def table(results: list[Result]) -> str:
    head = ["scenario", "events", "delivered", "lost", "duplicate effects", "drain time after recovery", "notes"]
    rows = [
        [
            r.scenario,
            str(r.events),
            str(r.delivered),
            str(r.lost),
            str(r.duplicates),
            f"{r.drain_s:.1f} s" if r.drain_s is not None else "—",
            "; ".join(r.notes),
        ]
        for r in results
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events per scenario (default 2000)")
    parser.add_argument("--scenario", default="a,b,c,d", help="which of a,b,c,d (default all)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for a drain")
    args = parser.parse_args()
    log_dir = pathlib.Path(tempfile.mkdtemp(prefix="baoxiao-faults-"))
    database = ThrowawayDatabase("baoxiao_bench_faults").create()
    redis_server = RedisServer(log_dir).start()
    os.environ.update(
        DATABASE_URL=database.url,
        REDIS_URL=redis_server.url,
        BAOXIAO_CELERY_QUEUE=QUEUE,
        BAOXIAO_VAR_DIR=str(log_dir / "var"),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
        **FAST,
    )
    receiver = Receiver()
    results: list[Result] = []
    try:
        import django

        django.setup()
        # The writer's enqueue fails while Redis is down: expected here, and logged once per event.
        logging.getLogger("oa_bridge.services.outbox").setLevel(logging.ERROR)
        from django.core.management import call_command
        from django.db import connections

        from config.demo import seed_demo

        call_command("migrate", verbosity=0)
        seed_demo()
        _draft_claims(20)
        ctx = Context(receiver, redis_server, log_dir, started=time.time())
        print(f"faults: {args.events} events per scenario, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        print(f"  logs in {log_dir}")
        for key in args.scenario.split(","):
            scenario = SCENARIOS[key.strip()](ctx, args.events)
            started = time.monotonic()
            result = scenario.run(args.timeout)
            print(
                f"  {result.scenario}: {result.delivered}/{result.events} delivered, lost {result.lost}, "
                f"duplicates {result.duplicates} ({time.monotonic() - started:.0f} s in all)",
                flush=True,
            )
            results.append(result)
        connections.close_all()
    finally:
        receiver.stop()
        redis_server.stop()
        database.drop()
    print()
    print(table(results))
    print(
        f"\nload average afterwards: {os.getloadavg()[0]:.1f}; {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )
    return 1 if any(r.lost or r.duplicates or not r.events for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
