"""Reads of the org chart. None of them issues a query per tree level."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import QuerySet

from org.choices import Role
from org.models import Department, Employee

# A manager chain longer than this is a data error (most likely a cycle the OA sent); stop there.
MAX_CHAIN_DEPTH = 30


def department_ancestors(department: Department, *, include_self: bool = False) -> list[Department]:
    """The department's ancestors from the root down, in one query (read from the materialized path)."""
    ids = department.ancestor_ids()
    if include_self:
        ids.append(department.pk)
    if not ids:
        return []
    by_id = {d.pk: d for d in Department.objects.filter(pk__in=ids)}
    return [by_id[i] for i in ids if i in by_id]


def department_descendants(department: Department, *, include_self: bool = False) -> QuerySet[Department]:
    """Every department below this one (a prefix match on the path: one query at any depth)."""
    qs = Department.objects.filter(path__startswith=department.path)
    if not include_self:
        qs = qs.exclude(pk=department.pk)
    return qs


def manager_chain(employee: Employee, *, levels: int = MAX_CHAIN_DEPTH) -> list[Employee]:
    """The employee's managers, nearest first, up to ``levels`` levels: two queries whatever the depth."""
    levels = max(0, min(levels, MAX_CHAIN_DEPTH))
    if levels == 0 or employee.manager_id is None:
        return []
    table = Employee._meta.db_table
    # A recursive CTE walks the manager pointers inside the database; the depth bound also stops cycles.
    sql = f"""
        WITH RECURSIVE chain(id, manager_id, depth) AS (
            SELECT id, manager_id, 0 FROM {table} WHERE id = %s
            UNION ALL
            SELECT e.id, e.manager_id, chain.depth + 1
            FROM {table} e JOIN chain ON e.id = chain.manager_id
            WHERE chain.depth < %s
        )
        SELECT id, depth FROM chain WHERE depth > 0 ORDER BY depth
    """  # noqa: S608 - the table name comes from the model, values are parameters  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [employee.pk, levels])
        rows = cursor.fetchall()
    seen: set[int] = {employee.pk}
    ordered_ids: list[int] = []
    for pk, _depth in rows:
        if pk in seen:  # a cycle: the chain ends where it meets itself
            break
        seen.add(pk)
        ordered_ids.append(pk)
    by_id = Employee.objects.select_related("user", "department").in_bulk(ordered_ids)
    return [by_id[pk] for pk in ordered_ids if pk in by_id]


def manager_at_level(employee: Employee, *, level: int) -> Employee | None:
    """The manager ``level`` steps up (1 = direct manager), or None when the chain is shorter."""
    chain = manager_chain(employee, levels=level)
    return chain[level - 1] if len(chain) >= level else None


def employee_for_user(user: AbstractBaseUser | AnonymousUser) -> Employee | None:
    """The signed-in user's employee record with department and manager, or None (e.g. a bare admin)."""
    if not user.is_authenticated:
        return None
    return Employee.objects.select_related("department", "manager", "manager__user", "user").filter(user=user).first()


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    """The role names a user holds (Django groups named after org.choices.Role), cached on the user."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_baoxiao_roles", None)
    if cached is None:
        valid = set(Role.values)
        cached = {name for name in user.groups.values_list("name", flat=True) if name in valid}
        if user.is_superuser:
            cached.add(Role.ADMIN)
        user._baoxiao_roles = cached
    return cached


def department_tree() -> list[Department]:
    """All active departments in tree order (parents before children) with their heads, one query."""
    return list(Department.objects.filter(active=True).select_related("head").order_by("path"))
