"""Directory pull speed: 1,000 departments and 20,000 users from an OA's generic directory API.

Issue 5 asks for a full pull into an empty org chart in at most 60 s with at most 300 MB of peak memory,
then an incremental pull of 1 % changed users in at most 5 s. This serves the directory from a child
process on 127.0.0.1 (the generic contract: paged JSON, ``next`` links, ``updated_since``), so the
memory measured is the sync's own, and times, through the real connector and service:

* the full pull (fetch every page, then apply in one transaction with bulk statements), with
  tracemalloc's peak of Python allocations and the process's peak resident size (ru_maxrss);
* an incremental pull after the OA changed 1 % of its users (titles, managers, departments, a few
  leavers).

It builds a throwaway database (a temporary SQLite file, or a ``test_`` database next to the one
DATABASE_URL names, made and dropped the way the test runner does it); never the development database.

Run: ``.venv/bin/python bench/directory.py`` (or ``make bench``). Exits 1 when a budget is missed.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEPARTMENTS = 1_000
USERS = 20_000
CHANGED_SHARE = 0.01
PAGE_SIZE = 500
TOKEN = "bench-directory-token"
BASE_TIME = "2024-01-01T00:00:00+00:00"
FULL_BUDGET_S = 60.0
MEMORY_BUDGET_MB = 300.0
INCREMENTAL_BUDGET_S = 5.0


# --- the OA (child process) ---------------------------------------------------------------------------------
def build_directory() -> tuple[list[dict], list[dict]]:
    """A tree of departments ten wide and people ten to a manager, the same on every run."""
    departments = [
        {
            "id": f"d-{i}",
            "name": f"Department {i}",
            "parent_id": f"d-{(i - 1) // 10}" if i else None,
            "head_id": f"u-{i}",
            "active": True,
        }
        for i in range(DEPARTMENTS)
    ]
    users = [
        {
            "id": f"u-{i}",
            "name": f"Person {i}",
            "email": f"person{i}@bench.example",
            "employee_no": f"B{i:06d}",
            "department_id": f"d-{i % DEPARTMENTS}",
            "manager_id": f"u-{i // 10}" if i else None,
            "title": "Staff",
            "level": 1 + (i % 9),
            "active": True,
            "updated_at": BASE_TIME,
        }
        for i in range(USERS)
    ]
    return departments, users


def change_some(users: list[dict], share: float) -> int:
    """Change ``share`` of the users as an OA would: titles, managers, departments, some leave."""
    now = datetime.datetime.now(datetime.UTC).isoformat()
    step = int(1 / share)
    changed = 0
    for i in range(step // 2, len(users), step):
        user = users[i]
        user["title"] = "Senior staff"
        if changed % 4 == 1:
            user["manager_id"] = f"u-{i // 20}"  # a manager higher up: no loop
        if changed % 5 == 2:
            user["department_id"] = f"d-{(i + 7) % DEPARTMENTS}"
        if changed % 10 == 3:
            user["active"] = False
        user["updated_at"] = now
        changed += 1
    return changed


def serve() -> None:
    departments, users = build_directory()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real OA would

        def _send(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self):  # noqa: N802 - http.server's naming
            if self.path == "/control/change":
                self._send(200, {"changed": change_some(users, CHANGED_SHARE)})
            else:
                self._send(404, {})

        def do_GET(self):  # noqa: N802
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"detail": "invalid token"})
            split = urlsplit(self.path)
            query = parse_qs(split.query)
            items = {"/api/departments/": departments, "/api/users/": users}.get(split.path)
            if items is None:
                return self._send(404, {"detail": "not found"})
            since = query.get("updated_since", [None])[0]
            if since:
                moment = datetime.datetime.fromisoformat(since)
                items = [u for u in items if datetime.datetime.fromisoformat(u["updated_at"]) > moment]
            page = int(query.get("page", ["1"])[0])
            start = (page - 1) * PAGE_SIZE
            following = None
            if start + PAGE_SIZE < len(items):
                following = f"?page={page + 1}" + (f"&updated_since={since.replace('+', '%2B')}" if since else "")
            self._send(200, {"count": len(items), "next": following, "results": items[start : start + PAGE_SIZE]})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# --- the sync (this process) --------------------------------------------------------------------------------
class OA:
    """The directory server as a child process (its memory and CPU are not the sync's)."""

    def __enter__(self) -> OA:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())
        return self

    def change_some(self) -> int:
        import urllib.request

        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/control/change", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own 127.0.0.1 server
            return json.load(response)["changed"]

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def full_pull(port: int):
    """A generic connector on the local OA and one full pull into the (empty) org chart."""
    from oa_bridge.credentials import set_credentials
    from oa_bridge.models import Connector, ConnectorKind
    from oa_bridge.services.directory import directory_sync
    from org.models import Department, Employee

    connector = Connector.objects.create(
        slug="bench",
        name="Bench OA",
        kind=ConnectorKind.GENERIC,
        directory_url=f"http://127.0.0.1:{port}/api",
        directory_enabled=True,
    )
    set_credentials(connector, {"api_token": TOKEN})
    started = time.perf_counter()
    run = directory_sync(connector_id=connector.pk)
    seconds = time.perf_counter() - started
    assert run.status == "succeeded", run.message
    assert Department.objects.count() == DEPARTMENTS and Employee.objects.count() == USERS
    assert Employee.objects.filter(manager__isnull=True).count() == 1
    return connector, run, seconds


def timed_pass() -> dict:
    """Full pull (timed, peak RSS), then the incremental pull after 1 % changed."""
    from oa_bridge.services.directory import directory_sync

    with OA() as oa:
        connector, full, full_s = full_pull(oa.port)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
        changed = oa.change_some()
        started = time.perf_counter()
        incremental = directory_sync(connector_id=connector.pk, incremental=True)
        incremental_s = time.perf_counter() - started
    assert incremental.status == "succeeded" and incremental.incremental, incremental.message
    assert incremental.users_seen == changed, (incremental.users_seen, changed)
    return {
        "full": full,
        "full_s": full_s,
        "rss_mb": rss_mb,
        "changed": changed,
        "incremental": incremental,
        "incremental_s": incremental_s,
    }


def traced_pass() -> dict:
    """The same full pull under tracemalloc, for the peak of Python allocations (tracing slows every
    allocation several times over, so this pass is not the one timed)."""
    with OA() as oa:
        tracemalloc.start()
        _connector, _run, seconds = full_pull(oa.port)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {"peak_mb": peak / 2**20, "traced_s": seconds}


def in_throwaway_database(measure):
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    settings_dict = connection.settings_dict
    workdir = None
    if connection.vendor == "sqlite":
        # A file, not the in-memory default: closer to how the application runs.
        workdir = tempfile.TemporaryDirectory(prefix="baoxiao-bench-")
        settings_dict.setdefault("TEST", {})["NAME"] = str(pathlib.Path(workdir.name) / "bench.sqlite3")
    setup_test_environment(debug=False)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return measure()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        if workdir is not None:
            workdir.cleanup()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.DEBUG = False  # DEBUG keeps every query in memory, which would be measured too
    timed = in_throwaway_database(timed_pass)
    traced = in_throwaway_database(traced_pass)

    full, incremental = timed["full"], timed["incremental"]
    print(f"directory bench on {connection.vendor}: {DEPARTMENTS} departments, {USERS} users, pages of {PAGE_SIZE}")
    print(
        f"  full pull into an empty org:  {timed['full_s']:6.2f} s  (budget ≤ {FULL_BUDGET_S:.0f} s)"
        f"  added {full.added}, errors {full.errors}"
    )
    print(
        f"  peak memory: ru_maxrss {timed['rss_mb']:6.1f} MB; tracemalloc peak {traced['peak_mb']:6.1f} MB"
        f" (a second full pull, traced: {traced['traced_s']:.1f} s)  (budget ≤ {MEMORY_BUDGET_MB:.0f} MB)"
    )
    print(
        f"  incremental pull, {timed['changed']} users changed: {timed['incremental_s']:5.2f} s"
        f"  (budget ≤ {INCREMENTAL_BUDGET_S:.0f} s)"
        f"  changed {incremental.changed}, deactivated {incremental.deactivated}"
    )
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"  load average {load} on {os.cpu_count()} CPUs")
    except OSError:
        pass
    ok = timed["full_s"] <= FULL_BUDGET_S and timed["incremental_s"] <= INCREMENTAL_BUDGET_S
    ok = ok and timed["rss_mb"] <= MEMORY_BUDGET_MB and traced["peak_mb"] <= MEMORY_BUDGET_MB
    print("  OK" if ok else "  OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        sys.exit(main())
