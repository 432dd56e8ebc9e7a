"""Org-chart builders for tests; everything goes through org.services like the real code."""

from __future__ import annotations

import itertools

from org import services
from org.models import Department, Employee

_seq = itertools.count(1)


def make_department(name: str = "", parent: Department | None = None) -> Department:
    n = next(_seq)
    return services.department_create(name=name or f"Dept {n}", code=f"dept-{n}", parent=parent)


def make_employee(
    department: Department | None = None, manager: Employee | None = None, level: int = 1, **extra
) -> Employee:
    n = next(_seq)
    return services.employee_create(
        username=extra.pop("username", f"user{n}"),
        name=extra.pop("name", f"Person {n}"),
        employee_no=extra.pop("employee_no", f"T{n:05d}"),
        department=department or make_department(),
        manager=manager,
        level=level,
        password=extra.pop("password", "pw-for-tests-1"),
        **extra,
    )


def make_chain(length: int, department: Department | None = None) -> list[Employee]:
    """``length`` employees, each managed by the previous one: [top, ..., bottom]."""
    department = department or make_department()
    chain: list[Employee] = []
    for _ in range(length):
        chain.append(make_employee(department=department, manager=chain[-1] if chain else None))
    return chain
