"""Dry-run speed: the draft against the published rules over 1,000 claims submitted in the last 30 days.

Issue 4 wants the dry run under a second for 1,000 claims on SQLite. This loads the demo company and
its published rules (v1) into a throwaway database (a temporary SQLite file, or a ``test_`` database
next to the one DATABASE_URL names), writes 1,000 submitted claims directly (bulk inserts: the claim
services are not what is measured), opens a draft with one more rule, and times
``approvals.simulation.dry_run`` with the queries it makes.

Run: ``.venv/bin/python bench/dry_run.py`` (or ``make bench``). Exits 1 when the median is over budget.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment, teardown_test_environment  # noqa: E402

CLAIMS = 1000
RUNS = 3
BUDGET_MS = 1000.0


def build():
    from django.conf import settings
    from django.utils import timezone

    from approvals.choices import RuleSetStatus, StepKind
    from approvals.models import RuleSet
    from approvals.services.rules import rule_add, rule_set_draft
    from config.demo import seed_demo
    from org.models import Department, Employee
    from reimbursement.choices import ClaimStatus
    from reimbursement.models import Claim, ClaimLine, ExpenseCategory

    seed_demo()
    people = list(Employee.objects.all())
    categories = list(ExpenseCategory.objects.all())
    rng = random.Random(7)
    now = timezone.now()
    base = settings.BAOXIAO_BASE_CURRENCY
    claims = Claim.objects.bulk_create(
        Claim(
            number=f"BX-BENCH-{n:06d}",
            claimant=rng.choice(people),
            purpose="Bench",
            base_currency=base,
            total_amount=Decimal(rng.choice([88, 450, 1200, 4999, 5000, 8000, 23000])),
            status=ClaimStatus.IN_APPROVAL,
            submission_count=1,
            submitted_at=now - datetime.timedelta(hours=rng.randint(1, 29 * 24)),
        )
        for n in range(CLAIMS)
    )
    lines = []
    for claim in claims:
        for position in range(rng.randint(1, 3)):
            lines.append(
                ClaimLine(
                    claim=claim,
                    position=position,
                    expense_date=now.date(),
                    category=rng.choice(categories),
                    amount=claim.total_amount,
                    currency=base,
                    fx_rate=Decimal(1),
                    base_amount=claim.total_amount,
                )
            )
    ClaimLine.objects.bulk_create(lines)

    admin = Employee.objects.get(user__username="admin").user
    draft = rule_set_draft(actor=admin)
    rule_add(
        rule_set=draft,
        name="Sales: the VP approves",
        position=1,
        departments=[Department.objects.get(code="sales")],
        steps=[{"kind": StepKind.MANAGER_LEVEL, "levels": 2}, {"kind": StepKind.ROLE, "role": "finance"}],
    )
    published = RuleSet.objects.select_related("fallback_approver").get(status=RuleSetStatus.PUBLISHED)
    draft = RuleSet.objects.select_related("fallback_approver").get(pk=draft.pk)
    return draft, published, now - datetime.timedelta(days=30)


def measure(draft, published, since) -> bool:
    from approvals.simulation import dry_run

    times, queries, result = [], 0, None
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            result = dry_run(draft=draft, published=published, since=since)
            times.append((time.perf_counter() - start) * 1000)
        queries = len(captured)
    median = statistics.median(times)
    print(f"dry-run bench on {connection.vendor}: {result.checked} claims checked, {len(result.changes)} would change")
    print(
        f"  dry_run():  median {median:7.1f} ms  (min {min(times):.1f}, max {max(times):.1f}, {RUNS} runs; "
        f"{queries} queries in the last run)  (budget ≤ {BUDGET_MS:.0f} ms)"
    )
    with contextlib.suppress(OSError):  # no load average on some systems
        print(f"  load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    ok = median <= BUDGET_MS and result.checked == CLAIMS
    print("  OK" if ok else "  OVER BUDGET")
    return ok


def main() -> int:
    workdir = None
    if connection.vendor == "sqlite":
        workdir = tempfile.TemporaryDirectory(prefix="baoxiao-bench-")
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(pathlib.Path(workdir.name) / "bench.sqlite3")
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        ok = measure(*build())
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        if workdir is not None:
            workdir.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
