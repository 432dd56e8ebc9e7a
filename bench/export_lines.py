"""Export a million claim lines through the real export path, beside PostgreSQL's own COPY (issue 6).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/export_lines.py [--lines 1000000]

Creates (and drops) its own database next to the one DATABASE_URL names, loads the lines with two
INSERT ... SELECT over generate_series (five lines per claim, spread over two years and the demo company),
then, each in a fresh process so its peak memory (VmHWM) is its own:

* CSV of every line: an ExportJob made with ``reports.services.export_job_create`` and run by
  ``reports.services.export_run`` (the body of the Celery task), timed, with the process's peak RSS;
* XLSX of the same, at a tenth of the lines and at all of them, to show the peak does not grow with them;

and in this process ``COPY (the same query) TO STDOUT WITH CSV``, for the ratio. Targets: CSV of 1,000,000
lines in ≤ 60 s with a peak ≤ 200 MB. ``--lines 20000`` is a quick check.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
BENCH_DB = "baoxiao_bench_exports"

from bench.common.pg import bench_url, drop_database, recreate_database, setup_django  # noqa: E402


def peak_rss_mb() -> float:
    """This process's own peak RSS. VmHWM belongs to the address space made at exec, whereas getrusage's
    ru_maxrss keeps the RSS of the forked parent (Linux carries it across exec), hiding a smaller peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


LOAD_CLAIMS = """
WITH people AS (SELECT array_agg(id ORDER BY id) AS ids FROM org_employee)
INSERT INTO reimbursement_claim (number, claimant_id, department_id, department_name, purpose, cost_centre, project,
    base_currency, total_amount, status, event_seq, submission_count, created_at, updated_at, submitted_at,
    decided_at)
SELECT 'BX-B-' || lpad(n::text, 8, '0'), e.id, e.department_id, d.name, 'bench claim ' || n, 'CC' || (n %% 7), '',
    'CNY', 0, (ARRAY['approved', 'paid', 'in_approval', 'paid'])[1 + n %% 4], 1, 1, now(), now(), now(), now()
FROM generate_series(1, %(claims)s) AS n
CROSS JOIN people
JOIN org_employee e ON e.id = people.ids[1 + n %% cardinality(people.ids)]
JOIN org_department d ON d.id = e.department_id
"""

LOAD_LINES = """
INSERT INTO reimbursement_claimline (claim_id, position, expense_date, category_id, description, merchant, amount,
    currency, fx_rate, fx_rate_source, fx_override_reason, base_amount, tax_amount, invoice_kind, invoice_code,
    invoice_number, seller_name, seller_tax_id, invoice_key, created_at, updated_at)
SELECT c.id, p, DATE '2025-01-01' + ((c.id * 5 + p) %% 700)::int, %(category)s, '出差 bench line ' || p,
    'Merchant ' || p,
    ((c.id * 37 + p * 11) %% 90000) / 100.0 + 1, 'CNY', 1, 'base', '', ((c.id * 37 + p * 11) %% 90000) / 100.0 + 1, 0,
    'none', '', '', '', '', '', now(), now()
FROM reimbursement_claim c CROSS JOIN generate_series(1, 5) AS p
WHERE c.number LIKE 'BX-B-%%'
"""


def load(lines: int) -> float:
    from django.db import connection

    from reimbursement.models import ExpenseCategory

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(LOAD_CLAIMS, {"claims": lines // 5})
        cursor.execute(LOAD_LINES, {"category": ExpenseCategory.objects.get(code="office").pk})
        cursor.execute("ANALYZE reimbursement_claim; ANALYZE reimbursement_claimline")
    return time.perf_counter() - started


def job_params():
    import datetime

    from reports.selectors import ReportParams

    return ReportParams(date_from=datetime.date(2025, 1, 1), date_to=datetime.date(2026, 12, 31))


def measure(fmt: str, lines: int | None) -> dict:
    """In a fresh process: one export through the real service; its time, rows, size and peak RSS."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from reports import services, tasks
    from reports.choices import CLAIM_LINES

    tasks.export_run.delay = lambda *args, **kwargs: None  # run below, in this process, not by a worker
    owner = get_user_model().objects.get(username="sunli")
    params = job_params()
    if lines is not None:  # a slice of the lines: an earlier end date
        import datetime

        from reimbursement.models import ClaimLine

        dates = ClaimLine.objects.order_by("expense_date").values_list("expense_date", flat=True)
        last = dates[max(0, lines - 1)]
        params = type(params)(date_from=params.date_from, date_to=last - datetime.timedelta(days=0))
    before = peak_rss_mb()
    job = services.export_job_create(owner=owner, kind=CLAIM_LINES, fmt=fmt, params=params)
    started = time.perf_counter()
    job = services.export_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    size = services.export_file(job).stat().st_size
    services.export_file(job).unlink()
    connection.close()
    return {
        "format": fmt,
        "status": job.status,
        "rows": job.rows_done,
        "seconds": elapsed,
        "mb": size / 1e6,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def child(fmt: str, lines: int | None) -> dict:
    args = [sys.executable, __file__, "--measure", fmt] + ([] if lines is None else ["--slice", str(lines)])
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=os.environ).stdout
    return json.loads(out.strip().splitlines()[-1])


def copy_baseline() -> tuple[int, float, float]:
    """PostgreSQL's own CSV of the same query (same columns, same joins, same order), read to the end."""
    from django.db import connection

    from reports import catalogue
    from reports.selectors import report_claims

    params = job_params()
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get(username="sunli")
    sql, sql_params = catalogue.claim_lines(report_claims(owner, params), params).query.sql_with_params()
    with connection.cursor() as cursor:
        raw = cursor.cursor.connection.cursor()
        started = time.perf_counter()
        size = 0
        with raw.copy(f"COPY ({sql}) TO STDOUT WITH CSV HEADER", sql_params) as copy:
            for block in copy:
                size += len(block)
        elapsed = time.perf_counter() - started
    return size, elapsed, size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="claim lines to load (default 1,000,000)")
    parser.add_argument("--formats", default="csv,xlsx", help="which exports to measure (default csv,xlsx)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--slice", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.measure:
        print(json.dumps(measure(options.measure, options.slice)))
        return
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/export_lines.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    recreate_database(base, BENCH_DB)
    os.environ["DATABASE_URL"] = bench_url(base, BENCH_DB)
    os.environ["BAOXIAO_OUTBOX_DELIVER_ON_COMMIT"] = "0"
    os.environ.setdefault("BAOXIAO_VAR_DIR", "/tmp/baoxiao-bench-var")
    os.environ["BAOXIAO_EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    os.environ.pop("REDIS_URL", None)
    try:
        setup_django()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        call_command("seed_demo", "--quiet-logins", verbosity=0)
        loaded = load(options.lines)
        connection.close()
        print(f"bench/export_lines.py: {options.lines:,} claim lines loaded in {loaded:.1f} s (INSERT ... SELECT)")
        size, copy_seconds, copy_mb = copy_baseline()
        connection.close()
        print(f"  COPY ... TO STDOUT (CSV)  : {copy_seconds:6.1f} s  {copy_mb:7.1f} MB")
        formats = options.formats.split(",")
        if "csv" in formats:
            csv_run = child("csv", None)
            print(
                f"  export CSV (ExportJob)    : {csv_run['seconds']:6.1f} s  {csv_run['mb']:7.1f} MB  "
                f"{csv_run['rows']:,} rows  peak RSS {csv_run['peak_rss_mb']:.0f} MB "
                f"(after start-up {csv_run['rss_before_mb']:.0f} MB)   "
                f"ratio export/COPY {csv_run['seconds'] / copy_seconds:.1f}"
                "   (targets ≤ 60 s, ≤ 200 MB)"
            )
        for lines in (options.lines // 10, None) if "xlsx" in formats else ():
            run = child("xlsx", lines)
            print(
                f"  export XLSX {run['rows']:>9,} rows : {run['seconds']:6.1f} s  {run['mb']:7.1f} MB  "
                f"peak RSS {run['peak_rss_mb']:.0f} MB"
            )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(base, BENCH_DB)


if __name__ == "__main__":
    main()
