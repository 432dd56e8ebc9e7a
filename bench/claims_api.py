"""Claims through the API vs the same rows inserted directly through the ORM (issue 3's speed target).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/claims_api.py [--claims 600]

Creates (and drops) its own database next to the one DATABASE_URL names. Each API claim is one
``POST /api/v1/claims/`` with five lines (CNY and USD) and one ``POST .../submit/``, made with Django's
test client (the whole stack but the socket: middleware, auth, serializers, services, routing, audit,
outbox rows). The baseline inserts one claim and five lines per claim with the ORM. Both run in the
same number of processes (default 2, one per core), in the same run. Targets: ≥ 100 claims/s, and at
least a third of the direct-insert rate.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
BENCH_DB = "baoxiao_bench_claims"

from bench.common.pg import bench_url, drop_database, recreate_database, setup_django  # noqa: E402


def lines(rng: random.Random, day_offset: int) -> list[dict]:
    import datetime

    today = datetime.date.today()
    result = []
    for i in range(5):
        result.append(
            {
                "expense_date": str(today - datetime.timedelta(days=1 + (day_offset + i) % 60)),
                "category": ["telecom", "office", "other", "taxi", "meals"][i],
                # Under the receipt thresholds: no files to upload (uploads are not what this measures).
                "amount": f"{rng.randint(1000, 9000) / 100:.2f}" if i < 4 else f"{rng.randint(100, 1200) / 100:.2f}",
                "currency": "USD" if i == 4 else "CNY",
                "description": f"bench line {i}",
            }
        )
    return result


def api_worker(args) -> tuple[int, float]:
    worker, count, usernames = args
    setup_django()
    from django.db import connection
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from reimbursement.models import ExpenseCategory

    categories = dict(ExpenseCategory.objects.values_list("code", "pk"))
    clients = []
    for username in usernames:
        token = Token.objects.get(user__username=username).key
        clients.append(Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1"))
    rng = random.Random(worker)
    started = time.perf_counter()
    for n in range(count):
        client = clients[n % len(clients)]
        body = {
            "purpose": f"bench {worker}-{n}",
            "lines": [{**line, "category": categories[line["category"]]} for line in lines(rng, n)],
        }
        created = client.post("/api/v1/claims/", data=json.dumps(body), content_type="application/json")
        if created.status_code != 201:
            raise SystemExit(f"create failed: {created.status_code} {created.content[:300]!r}")
        claim_id = created.json()["id"]
        submitted = client.post(f"/api/v1/claims/{claim_id}/submit/", data="{}", content_type="application/json")
        if submitted.status_code == 400 and submitted.json()["error"]["code"] == "justification_required":
            # A warning (a similar line by chance): justify it as a real client would, and submit again.
            keys = [k.split(":", 1)[1] for k in submitted.json()["error"]["fields"]]
            submitted = client.post(
                f"/api/v1/claims/{claim_id}/submit/",
                content_type="application/json",
                data=json.dumps({"justifications": {k: "bench" for k in keys}}),
            )
        if submitted.status_code != 200:
            raise SystemExit(f"submit failed: {submitted.status_code} {submitted.content[:400]!r}")
    elapsed = time.perf_counter() - started
    connection.close()
    return count, elapsed


def count_queries(usernames: list[str]) -> tuple[int, int]:
    """Round trips to PostgreSQL of one API create and one submit (the figure the machine's load cannot skew)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    from reimbursement.models import ExpenseCategory

    categories = dict(ExpenseCategory.objects.values_list("code", "pk"))
    token = Token.objects.get(user__username=usernames[0]).key
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    body = {
        "purpose": "count",
        "lines": [{**line, "category": categories[line["category"]]} for line in lines(random.Random(7), 0)],
    }
    with CaptureQueriesContext(connection) as create:
        created = client.post("/api/v1/claims/", data=json.dumps(body), content_type="application/json")
    claim_id = created.json()["id"]
    with CaptureQueriesContext(connection) as submit:
        client.post(f"/api/v1/claims/{claim_id}/submit/", data="{}", content_type="application/json")
    return len(create.captured_queries), len(submit.captured_queries)


def orm_worker(args) -> tuple[int, float]:
    worker, count, usernames = args
    setup_django()
    import datetime
    from decimal import Decimal

    from django.db import connection, transaction

    from org.models import Employee
    from reimbursement.models import Claim, ClaimLine, ExpenseCategory

    categories = dict(ExpenseCategory.objects.values_list("code", "pk"))
    employees = list(Employee.objects.filter(user__username__in=usernames))
    rng = random.Random(1000 + worker)
    started = time.perf_counter()
    for n in range(count):
        with transaction.atomic():
            claim = Claim.objects.create(
                claimant=employees[n % len(employees)], purpose=f"orm {worker}-{n}", base_currency="CNY"
            )
            rows = []
            for i, line in enumerate(lines(rng, n)):
                amount = Decimal(line["amount"])
                rows.append(
                    ClaimLine(
                        claim=claim,
                        position=i + 1,
                        category_id=categories[line["category"]],
                        expense_date=datetime.date.fromisoformat(line["expense_date"]),
                        amount=amount,
                        currency=line["currency"],
                        fx_rate=Decimal("1"),
                        base_amount=amount,
                    )
                )
            ClaimLine.objects.bulk_create(rows)
            Claim.objects.filter(pk=claim.pk).update(
                number=f"BX-ORM-{claim.pk:08d}", total_amount=sum(r.base_amount for r in rows)
            )
    elapsed = time.perf_counter() - started
    connection.close()
    return count, elapsed


def run(pool_size: int, func, count: int, usernames: list[str]) -> float:
    per = count // pool_size
    groups = [usernames[i::pool_size] for i in range(pool_size)]
    with multiprocessing.get_context("fork").Pool(pool_size) as pool:
        started = time.perf_counter()
        results = pool.map(func, [(w, per, groups[w]) for w in range(pool_size)])
        wall = time.perf_counter() - started
    done = sum(r[0] for r in results)
    return done / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=600, help="claims per measurement (default 600)")
    parser.add_argument("--processes", type=int, default=2, help="processes, like gunicorn workers (default 2)")
    options = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/claims_api.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    recreate_database(base, BENCH_DB)
    os.environ["DATABASE_URL"] = bench_url(base, BENCH_DB)
    os.environ["BAOXIAO_OUTBOX_DELIVER_ON_COMMIT"] = "0"  # no OA here: rows are written, nothing is sent
    os.environ.setdefault("BAOXIAO_VAR_DIR", "/tmp/baoxiao-bench-var")
    os.environ["BAOXIAO_EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    os.environ.pop("REDIS_URL", None)
    try:
        setup_django()
        from django.contrib.auth.hashers import make_password  # noqa: F401
        from django.core.management import call_command
        from django.db import connection
        from rest_framework.authtoken.models import Token

        from org.models import Employee

        call_command("migrate", verbosity=0)
        call_command("seed_demo", "--quiet-logins", verbosity=0)
        usernames = [e.user.username for e in Employee.objects.select_related("user").filter(manager__isnull=False)]
        for employee in Employee.objects.select_related("user").filter(user__username__in=usernames):
            Token.objects.get_or_create(user=employee.user)
        connection.close()
        print(
            f"bench/claims_api.py: {options.claims} claims × 5 lines, {options.processes} processes, "
            f"{len(usernames)} employees, PostgreSQL"
        )
        run(options.processes, api_worker, options.processes * 10, usernames)  # warm-up: imports, caches
        create_queries, submit_queries = count_queries(usernames)
        connection.close()
        api_rate = run(options.processes, api_worker, options.claims, usernames)
        orm_rate = run(options.processes, orm_worker, options.claims, usernames)
        print(f"  API create+submit : {api_rate:8.1f} claims/s   (target ≥ 100)")
        print(f"  ORM direct insert : {orm_rate:8.1f} claims/s")
        print(f"  ratio API / ORM   : {api_rate / orm_rate:8.2f}        (target ≥ 0.33)")
        print(
            f"  queries per claim : {create_queries} create + {submit_queries} submit (ORM baseline: 3 + BEGIN/COMMIT)"
        )
        print(f"  load average      : {os.getloadavg()[0]:.1f} (1 min; above 2 the figures are skewed by other work)")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(base, BENCH_DB)


if __name__ == "__main__":
    main()
