"""Routing speed: one claim against a published rule set of 500 rules whose last rule is the match.

Issue 4 asks for at most 5 ms per routing decision. This builds its own org chart and rule set in a
throwaway database (a temporary SQLite file, or a ``test_`` database next to the one DATABASE_URL
names, made and dropped the way the test runner does it), then times:

* ``compile_rule_set()``: loading the 500 rules, their conditions and steps (done once per published
  version and cached per process);
* ``resolve()`` over the compiled (cached) set, 2,000 times: matching, then the manager chain, the
  department heads and the role members, which are queries (a recursive CTE for the managers).

Run: ``.venv/bin/python bench/routing.py`` (or ``make bench``). Exits 1 when the p95 is over budget
(CPU time on SQLite, which runs in-process; wall-clock time with a database server).
"""

from __future__ import annotations

import contextlib
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
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402

RULES = 500
CALLS = 2000
WARM_UP = 100
COMPILES = 5
BUDGET_MS = 5.0


def build() -> tuple:
    """The org chart, categories and a published rule set of RULES rules; the last one matches."""
    from approvals.choices import StepKind, StepMode
    from approvals.models import RuleSet
    from approvals.routing import ClaimFacts
    from approvals.services.rules import rule_add, rule_set_publish
    from org import services as org
    from reimbursement.models import ExpenseCategory

    root = org.department_create(name="Head office", code="hq")
    divisions = [org.department_create(name=f"Division {i}", code=f"div-{i}", parent=root) for i in range(8)]
    teams = [
        org.department_create(name=f"Team {d.code}-{j}", code=f"team-{d.code}-{j}", parent=d)
        for d in divisions
        for j in range(4)
    ]
    ceo = org.employee_create(username="ceo", name="CEO", employee_no="B0001", department=root, level=9)
    org.department_set_head(department=root, head=ceo)
    heads = {}
    for n, division in enumerate(divisions):
        heads[division.pk] = org.employee_create(
            username=f"vp{n}", name=f"VP {n}", employee_no=f"B1{n:03d}", department=division, manager=ceo, level=8
        )
        org.department_set_head(department=division, head=heads[division.pk])
    claimant = None
    for n, team in enumerate(teams):
        lead = org.employee_create(
            username=f"lead{n}",
            name=f"Lead {n}",
            employee_no=f"B2{n:03d}",
            department=team,
            manager=heads[team.parent_id],
            level=6,
        )
        org.department_set_head(department=team, head=lead)
        for m in range(5):
            person = org.employee_create(
                username=f"e{n}-{m}",
                name=f"Engineer {n}-{m}",
                employee_no=f"B3{n:03d}{m}",
                department=team,
                manager=lead,
                level=3,
            )
            claimant = claimant or person
    finance = org.department_create(name="Finance", code="finance", parent=root)
    cfo = org.employee_create(
        username="cfo", name="CFO", employee_no="B9000", department=finance, manager=ceo, level=8, roles=("finance",)
    )
    for n in range(3):
        org.employee_create(
            username=f"acc{n}",
            name=f"Accountant {n}",
            employee_no=f"B900{n + 1}",
            department=finance,
            manager=cfo,
            roles=("finance",),
        )
    categories = [
        ExpenseCategory.objects.create(code=f"c{i}", name_en=f"Category {i}", name_zh=f"类别{i}") for i in range(10)
    ]

    rule_set = RuleSet.objects.create(version=1, fallback_approver=cfo)
    own_division = claimant.department.parent
    other_divisions = [d for d in divisions if d != own_division]
    manager = [{"kind": StepKind.DIRECT_MANAGER}]
    # Rules that fail late make matching do the most work: each passes its amount test first.
    for i in range(RULES - 1):
        variant = i % 5
        conditions: dict = {"amount_min": Decimal(i % 50)}
        if variant == 0:
            conditions["departments"] = other_divisions[i % len(other_divisions) : i % len(other_divisions) + 2]
        elif variant == 1:
            conditions["categories"] = categories[5:]
        elif variant == 2:
            conditions["amount_max"] = Decimal(1000 + i)
        elif variant == 3:
            conditions["level_min"] = 7
        else:
            conditions["cost_centres"] = f"CC-{i}, CC-{i + 1}"
        rule_add(rule_set=rule_set, name=f"Rule {i}", steps=manager, **conditions)
    rule_add(
        rule_set=rule_set,
        name="The matching rule",
        amount_min=Decimal("5000"),
        departments=[own_division],
        categories=categories[:3],
        steps=[
            {"name": "Manager", "kind": StepKind.DIRECT_MANAGER},
            {"name": "Division head", "kind": StepKind.DEPARTMENT_HEAD, "levels": 1},
            {"name": "Three up", "kind": StepKind.MANAGER_LEVEL, "levels": 3},
            {"name": "Finance", "kind": StepKind.ROLE, "role": "finance", "mode": StepMode.ANY},
        ],
    )
    rule_set = rule_set_publish(rule_set_id=rule_set.pk, actor=None)
    from org.models import Employee

    claimant = Employee.objects.select_related("department").get(pk=claimant.pk)
    facts = ClaimFacts(
        claimant=claimant,
        amount=Decimal("8000.00"),
        category_ids=frozenset({categories[0].pk, categories[4].pk}),
        cost_centre="CC-X",
        project="P-1",
    )
    return rule_set, facts


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(rule_set, facts) -> bool:
    from approvals.routing import compile_rule_set, compiled_published, resolve

    compile_ms = []
    for _ in range(COMPILES):
        start = time.perf_counter()
        compile_rule_set(rule_set)
        compile_ms.append((time.perf_counter() - start) * 1000)
    compiled = compiled_published(rule_set)
    rng = random.Random(4)
    chain = resolve(facts, compiled, rng=rng)
    assert chain.rule_name == "The matching rule", chain.rule_name
    assert len(chain.active_steps) == 4, chain.steps
    for _ in range(WARM_UP):
        resolve(facts, compiled, rng=rng)
    times, cpu = [], []
    for _ in range(CALLS):
        start, start_cpu = time.perf_counter(), time.thread_time()
        resolve(facts, compiled, rng=rng)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    engine = connection.vendor
    p95 = percentile(times, 0.95)
    print(f"routing bench on {engine}: {RULES} rules, the last one matches; {CALLS} resolve() calls")
    print(
        f"  compile_rule_set():  median {statistics.median(compile_ms):7.2f} ms  "
        f"(min {min(compile_ms):.2f}, max {max(compile_ms):.2f}, {COMPILES} runs)"
    )
    print(
        f"  resolve() compiled:  p50 {percentile(times, 0.5):7.3f} ms  p95 {p95:7.3f} ms  "
        f"max {max(times):7.3f} ms  (budget p95 ≤ {BUDGET_MS} ms)"
    )
    # On SQLite the queries run in this thread, so its CPU time is the work itself, whatever else the
    # machine is busy with; wall-clock time (the budget) also counts waiting for a CPU.
    print(f"  resolve() CPU time:  p50 {percentile(cpu, 0.5):7.3f} ms  p95 {percentile(cpu, 0.95):7.3f} ms")
    with contextlib.suppress(OSError):  # no load average on some systems
        print(f"  load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    # SQLite runs inside this thread, so there the thread's CPU time is the whole cost of a call and
    # is what the budget is held to; wall-clock time also counts waiting for a CPU on a busy machine.
    # With a database server the queries run elsewhere: the budget is held to wall-clock time.
    judged = percentile(cpu, 0.95) if connection.vendor == "sqlite" else p95
    print(f"  budget judged on {'CPU' if connection.vendor == 'sqlite' else 'wall-clock'} time: p95 {judged:.3f} ms")
    ok = judged <= BUDGET_MS
    print("  OK" if ok else "  OVER BUDGET")
    return ok


def main() -> int:
    settings_dict = connection.settings_dict
    workdir = None
    if connection.vendor == "sqlite":
        # A file, not the in-memory default: closer to how the application runs.
        workdir = tempfile.TemporaryDirectory(prefix="baoxiao-bench-")
        settings_dict.setdefault("TEST", {})["NAME"] = str(pathlib.Path(workdir.name) / "bench.sqlite3")
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        rule_set, facts = build()
        ok = measure(rule_set, facts)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        if workdir is not None:
            workdir.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
