"""Outbox speed (issue 5): how fast real Celery workers drain a backlog, and how long an event takes from
commit to the OA.

Needs PostgreSQL (``DATABASE_URL``) and Redis (``REDIS_URL``). It never touches the databases they name:
it creates ``baoxiao_bench_outbox`` on the same server (dropped at the end) and uses Redis database 13 of
the same server (``BENCH_REDIS_DB``; flushed at the start and the end).

1. **Drain.** 10,000 events for one connector whose webhook URL is a keep-alive HTTP receiver on 127.0.0.1
   (a threaded server in a process of its own). N real ``celery worker`` processes drain them: events/s
   from the first enqueue to the last event marked delivered. Next to it, in the same run, a plain
   keep-alive ``requests.Session`` POST loop sends the same bodies to the same receiver: the ceiling for
   one sender. Target: the workers reach at least half of it.
2. **Latency.** 50 events/s for 60 s, each written in its own transaction the way ``outbox_write`` does
   (row, then enqueue on commit), timestamped at commit; the receiver timestamps arrival. Target: p99 at
   most 1 s.

Run: ``DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/outbox_drain.py``
Options: ``--setup threads:1x8`` (worker processes x concurrency per pool; repeat to compare several),
``--events``, ``--rate``, ``--seconds``. Without PostgreSQL and Redis it says so and exits 0.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pathlib
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, urlunsplit

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "baoxiao_bench_outbox"
QUEUE = "bench-outbox"


# --- the receiver: a process of its own, so it does not share a GIL with the sender being measured --------
def _serve(port_out, control) -> None:
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        # Headers and body in one segment, sent at once: two small writes would meet the sender's delayed
        # ACK (Nagle) and cost 40 ms per request, which measures TCP, not Baoxiao.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            now = time.time()
            with lock:
                arrivals.setdefault(self.headers.get("webhook-id", ""), now)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # socketserver's 5 refuses connections when 16 senders connect at once

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.send(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while True:
        command = control.recv()
        if command == "count":
            control.send(len(arrivals))
        elif command == "take":
            with lock:
                control.send(dict(arrivals))
                arrivals.clear()
        elif command == "stop":
            server.shutdown()
            return


class Receiver:
    def __init__(self):
        port_parent, port_child = multiprocessing.Pipe()
        self.control, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(port_child, child), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{port_parent.recv()}/hook"

    def ask(self, command: str):
        self.control.send(command)
        return self.control.recv()

    def stop(self) -> None:
        self.control.send("stop")
        self.process.join(timeout=5)


# --- databases -----------------------------------------------------------------------------------------------
def bench_urls() -> tuple[str, str, str] | None:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url.startswith("redis"):
        return None
    parts = urlsplit(database_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    bench = urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    redis_parts = urlsplit(redis_url)
    redis_bench = urlunsplit(redis_parts._replace(path=f"/{os.environ.get('BENCH_REDIS_DB', '13')}"))
    return admin, bench, redis_bench


def recreate_database(admin_url: str, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


# --- workers -------------------------------------------------------------------------------------------------
class Workers:
    def __init__(self, pool: str, processes: int, concurrency: int, log_dir: pathlib.Path, prefetch: int = 1):
        self.pool, self.processes, self.concurrency = pool, processes, concurrency
        self.prefetch = prefetch  # CELERY_WORKER_PREFETCH_MULTIPLIER is 1; the threads pool wants more
        self.log_dir = log_dir
        self.started: list[tuple[subprocess.Popen, pathlib.Path]] = []

    def start(self) -> None:
        for n in range(self.processes):
            log_path = self.log_dir / f"worker-{self.pool}-{n}.log"
            command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", QUEUE]
            command += [f"--pool={self.pool}", f"--concurrency={self.concurrency}", "--loglevel=INFO"]
            command += [f"--prefetch-multiplier={self.prefetch}"]
            command += ["-n", f"bench-{n}-{uuid.uuid4().hex[:6]}@%h", "--without-mingle", "--without-gossip"]
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command, cwd=ROOT, env=os.environ.copy(), stdout=log_path.open("wb"), stderr=subprocess.STDOUT
            )
            self.started.append((process, log_path))
        deadline = time.monotonic() + 60
        for process, log_path in self.started:
            while "ready." not in log_path.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)

    def stop(self) -> None:
        for process, _ in self.started:
            process.terminate()
        for process, _ in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def __str__(self) -> str:
        prefetch = f", prefetch multiplier {self.prefetch}" if self.prefetch != 1 else ""
        return f"{self.processes} worker process(es) x {self.pool} pool, concurrency {self.concurrency}{prefetch}"


# --- the measurements ----------------------------------------------------------------------------------------
def snapshot_data(n: int) -> dict:
    """A claim snapshot of realistic size (two lines), as outbox_write stores it."""
    line = {
        "date": "2025-03-12",
        "category": "travel",
        "description": "High-speed train Beijing South to Shanghai Hongqiao",
        "merchant": "China Railway",
        "amount": "553.00",
        "currency": "CNY",
        "fx_rate": "1.00000000",
        "base_amount": "553.00",
        "tax_amount": "45.66",
        "invoice_kind": "train_ticket",
        "invoice_code": "",
        "invoice_number": "E12345678",
        "attachments": ["9f2c6b1e4a7d3c5b8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"],
    }
    claim = {
        "id": n,
        "number": f"BX-2025-{n:06d}",
        "status": "in_approval",
        "claimant": {"id": 4, "name": "张伟", "employee_no": "E0004"},
        "department": "平台组 Platform",
        "purpose": "Customer workshop in Shanghai",
        "cost_centre": "CC-210",
        "project": "P-ALPHA",
        "currency": "CNY",
        "total_amount": "1106.00",
        "approved_amount": None,
        "submitted_at": "2025-03-12T09:30:00+08:00",
        "lines": [{"id": 2 * n, **line}, {"id": 2 * n + 1, **line}],
    }
    change = {"from": "submitted", "to": "in_approval", "seq": 1, "rule_set": 3, "rule": "Everyday claims"}
    return {"seq": 1, "claim": claim, "change": change}


def make_connector(url: str):
    from oa_bridge.credentials import new_webhook_secret, set_credentials
    from oa_bridge.models import Connector

    Connector.objects.all().update(enabled=False)
    connector = Connector.objects.create(slug="bench", name="Bench OA", kind="generic", events_url=url)
    set_credentials(connector, {"webhook_secrets": [new_webhook_secret()]})
    return connector


def queue_backlog(connector, count: int) -> list[str]:
    from oa_bridge.models import OutboxEvent

    OutboxEvent.objects.all().delete()
    rows = [
        OutboxEvent(
            id=uuid.uuid4(),
            connector=connector,
            type="com.baoxiao.claim.routed",
            subject=str(n),
            seq=1,
            data=snapshot_data(n),
        )
        for n in range(1, count + 1)
    ]
    OutboxEvent.objects.bulk_create(rows, batch_size=1000)
    return [str(row.id) for row in rows]


def plain_post_loop(receiver: Receiver, ids: list[str]) -> float:
    """The ceiling: one keep-alive session POSTing the same signed bodies back to back; events/s."""
    import requests

    from oa_bridge.cloudevents import CONTENT_TYPE, body
    from oa_bridge.models import OutboxEvent

    payloads = [(str(e.id), body(e)) for e in OutboxEvent.objects.filter(pk__in=ids).order_by("subject")]
    session = requests.Session()
    started = time.perf_counter()
    for event_id, payload in payloads:
        session.post(
            receiver.url,
            data=payload,
            headers={"Content-Type": CONTENT_TYPE, "webhook-id": event_id},
            timeout=(5, 10),
        ).raise_for_status()
    elapsed = time.perf_counter() - started
    receiver.ask("take")
    return len(payloads) / elapsed


def enqueue_backlog(ids: list[str]) -> float:
    """Put one delivery message per event on the queue (as each commit does), before any worker runs."""
    from oa_bridge.services.outbox import enqueue

    started = time.perf_counter()
    enqueue(ids)
    return time.perf_counter() - started


def drain(receiver: Receiver, ids: list[str], timeout: float = 600) -> tuple[float, float]:
    """Wait until the running workers delivered every event; (events/s, seconds) from the first attempt to the
    last event marked delivered, as the database recorded them (worker start-up is not counted)."""
    from django.db.models import Max, Min

    from oa_bridge.models import DeliveryAttempt, OutboxEvent, OutboxStatus

    started = time.perf_counter()
    while OutboxEvent.objects.filter(status=OutboxStatus.DELIVERED).count() < len(ids):
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"not drained in {timeout}s")
        time.sleep(0.1)
    first = DeliveryAttempt.objects.aggregate(first=Min("started_at"))["first"]
    last = OutboxEvent.objects.aggregate(last=Max("delivered_at"))["last"]
    elapsed = (last - first).total_seconds()
    arrived = receiver.ask("take")
    assert set(ids) <= set(arrived), "an event is missing at the receiver"
    return len(ids) / elapsed, elapsed


def steady_latency(receiver: Receiver, connector, rate: float, seconds: float) -> list[float]:
    """``rate`` events/s, each written in its own transaction as outbox_write does; commit-to-arrival seconds."""
    from django.db import transaction

    from oa_bridge.models import OutboxEvent
    from oa_bridge.services.outbox import enqueue

    OutboxEvent.objects.all().delete()
    receiver.ask("take")
    committed: dict[str, float] = {}
    total = int(rate * seconds)
    started = time.time()
    for n in range(total):
        due = started + n / rate
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        with transaction.atomic():
            row = OutboxEvent(
                id=uuid.uuid4(),
                connector=connector,
                type="com.baoxiao.claim.routed",
                subject=str(100_000 + n),
                seq=1,
                data=snapshot_data(n),
            )
            OutboxEvent.objects.bulk_create([row])
            event_id = str(row.id)
            # First callback: the moment of commit; then the enqueue, exactly as outbox_write registers it.
            transaction.on_commit(lambda event_id=event_id: committed.__setitem__(event_id, time.time()))
            transaction.on_commit(lambda event_id=event_id: enqueue([event_id]), robust=True)
    deadline = time.time() + 60
    while receiver.ask("count") < total and time.time() < deadline:
        time.sleep(0.2)
    arrived = receiver.ask("take")
    missing = set(committed) - set(arrived)
    if missing:
        raise RuntimeError(f"{len(missing)} events did not arrive within 60 s of the last commit")
    return [arrived[event_id] - at for event_id, at in committed.items()]


class Sweeper(threading.Thread):
    """What beat does in production: outbox_sweep every 15 s, so a failed attempt is retried."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from oa_bridge.services.outbox import outbox_sweep

        while not self.stopped.wait(15):
            outbox_sweep()
        connection.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def parse_setup(text: str) -> tuple[str, int, int, int]:
    """pool:PROCESSESxCONCURRENCY[/PREFETCH], e.g. prefork:1x4 or threads:1x8/4."""
    pool, _, shape = text.partition(":")
    shape, _, prefetch = shape.partition("/")
    processes, _, concurrency = shape.partition("x")
    return pool, int(processes), int(concurrency), int(prefetch or 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", action="append", help="pool:PROCESSESxCONCURRENCY, e.g. threads:1x8")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--timeout", type=float, default=300, help="give up a drain after this many seconds")
    args = parser.parse_args()
    setups = [parse_setup(s) for s in (args.setup or ["threads:2x4"])]

    urls = bench_urls()
    if urls is None:
        print("outbox_drain: skipped, needs DATABASE_URL=postgres://... and REDIS_URL=redis://...")
        return 0
    admin_url, bench_url, redis_url = urls
    recreate_database(admin_url)
    os.environ.update(
        DATABASE_URL=bench_url,
        REDIS_URL=redis_url,
        BAOXIAO_CELERY_QUEUE=QUEUE,
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    receiver = Receiver()
    log_dir = pathlib.Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))  # noqa: S108 - worker logs for a look afterwards
    failed = False
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        connector = make_connector(receiver.url)
        print(f"outbox_drain: {args.events} events, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        best = None
        for pool, processes, concurrency, prefetch in setups:
            workers = Workers(pool, processes, concurrency, log_dir, prefetch)
            ids = queue_backlog(connector, args.events)
            before = plain_post_loop(receiver, ids)
            enqueued = enqueue_backlog(ids)
            workers.start()
            try:
                rate, elapsed = drain(receiver, ids, timeout=args.timeout)
            finally:
                workers.stop()
            # The machine may be shared: the ceiling is measured right before and right after, and averaged.
            ceiling = (before + plain_post_loop(receiver, ids)) / 2
            share = rate / ceiling
            print(
                f"  drain with {workers}: {rate:,.0f} events/s ({elapsed:.1f} s; queueing the {len(ids)} messages "
                f"took {enqueued:.1f} s before); plain keep-alive POST loop: {ceiling:,.0f} events/s; "
                f"ratio {share:.2f} (target >= 0.50)"
            )
            if best is None or rate > best[0]:
                best = (rate, (pool, processes, concurrency, prefetch), share)
        failed |= best[2] < 0.5
        if not args.no_latency:
            workers = Workers(*best[1][:3], log_dir, best[1][3])
            workers.start()
            sweeper = Sweeper()
            sweeper.start()
            try:
                latencies = steady_latency(receiver, connector, args.rate, args.seconds)
            finally:
                sweeper.stopped.set()
                workers.stop()
            from oa_bridge.models import DeliveryAttempt

            failures = DeliveryAttempt.objects.exclude(outcome="delivered")
            if failures.exists():
                example = failures.values_list("error", flat=True).first()
                print(f"    failed attempts, retried by the sweeper: {failures.count()}, e.g. {example}")
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            print(
                f"  commit-to-receipt at {args.rate:.0f} events/s for {args.seconds:.0f} s with {workers}: "
                f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
                f"over {len(latencies)} events (target p99 <= 1000 ms); mean {statistics.mean(latencies) * 1000:.0f} ms"
            )
            failed |= p99 > 1.0
        print(f"  load average afterwards: {os.getloadavg()[0]:.2f}")
        connections.close_all()
    finally:
        receiver.stop()
        redis.Redis.from_url(redis_url).flushdb()
        recreate_database(admin_url, drop_only=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
