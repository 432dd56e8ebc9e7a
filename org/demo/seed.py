"""Load the demo company's org chart. Safe to run again: existing rows are left exactly as they are."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import transaction

from org import services
from org.demo.company import DEMO_PASSWORD, DEPARTMENTS, PEOPLE
from org.models import Department, Employee


@transaction.atomic
def seed_demo_company() -> tuple[int, int]:
    """Create whatever part of the demo company is missing; return (departments, employees) added."""
    departments = {d.code: d for d in Department.objects.filter(code__in=[c for c, _, _ in DEPARTMENTS])}
    added_departments = 0
    for code, name, parent_code in DEPARTMENTS:
        if code not in departments:
            departments[code] = services.department_create(
                name=name, code=code, parent=departments[parent_code] if parent_code else None
            )
            added_departments += 1

    employees = {e.user.username: e for e in Employee.objects.select_related("user")}
    password_hash = make_password(DEMO_PASSWORD)  # hashed once: 32 hashes would take seconds
    added_people = 0
    for username, name, number, dept_code, manager, title, level, roles, heads in PEOPLE:
        if username in employees:
            continue
        employee = services.employee_create(
            username=username,
            name=name,
            employee_no=number,
            department=departments[dept_code],
            email=f"{username}@demo.baoxiao.local",
            manager=employees[manager] if manager else None,
            title=title,
            level=level,
            password_hash=password_hash,
            roles=roles,
        )
        if "admin" in roles:
            employee.user.is_staff = employee.user.is_superuser = True
            employee.user.save(update_fields=["is_staff", "is_superuser"])
        if heads:
            services.department_set_head(department=departments[dept_code], head=employee)
        employees[username] = employee
        added_people += 1
    return added_departments, added_people
