"""Writes to the org chart one row at a time: departments, employees, managers, roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr

from org.choices import Role
from org.errors import OrgError
from org.models import Department, Employee

User = get_user_model()


def _path_for(department: Department, parent: Department | None) -> tuple[str, int]:
    if parent is None:
        return f"/{department.pk}/", 0
    return f"{parent.path}{department.pk}/", parent.depth + 1


@transaction.atomic
def department_create(*, name: str, code: str, parent: Department | None = None, active: bool = True) -> Department:
    """Create a department under ``parent`` (or as a root) with its path filled in."""
    department = Department.objects.create(name=name, code=code, parent=parent, active=active)
    department.path, department.depth = _path_for(department, parent)
    department.save(update_fields=["path", "depth"])
    return department


@transaction.atomic
def department_move(*, department: Department, parent: Department | None) -> Department:
    """Move a department (and its whole subtree) under a new parent with one UPDATE for the subtree."""
    department = Department.objects.select_for_update().get(pk=department.pk)
    if parent is not None:
        parent = Department.objects.get(pk=parent.pk)
        if parent.path.startswith(department.path):
            raise OrgError(f"cannot move {department} under its own subtree ({parent})")
    if department.parent_id == (parent.pk if parent else None):
        return department
    old_path, old_depth = department.path, department.depth
    new_path, new_depth = _path_for(department, parent)
    Department.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        depth=F("depth") + (new_depth - old_depth),
    )
    Department.objects.filter(pk=department.pk).update(parent=parent)
    department.refresh_from_db()
    return department


def department_set_head(*, department: Department, head: Employee | None) -> Department:
    """Name the head of a department (None clears it)."""
    if department.head_id != (head.pk if head else None):
        department.head = head
        department.save(update_fields=["head", "updated_at"])
    return department


@transaction.atomic
def employee_create(
    *,
    username: str,
    name: str,
    employee_no: str,
    department: Department,
    email: str = "",
    manager: Employee | None = None,
    title: str = "",
    level: int = 1,
    password: str | None = None,
    password_hash: str | None = None,
    roles: tuple[str, ...] = (Role.EMPLOYEE,),
) -> Employee:
    """Create a sign-in account and its employee record, in the given roles.

    ``password_hash`` (from make_password) lets a bulk load hash a shared password once, not per user.
    """
    user = User.objects.create_user(username=username, email=email, password=password)
    if password_hash is not None:
        user.password = password_hash
        user.save(update_fields=["password"])
    elif password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    employee = Employee.objects.create(
        user=user,
        employee_no=employee_no,
        name=name,
        department=department,
        manager=manager,
        title=title,
        level=level,
    )
    user_set_roles(user=user, roles=roles)
    return employee


def employee_set_manager(*, employee: Employee, manager: Employee | None) -> Employee:
    """Point an employee at a new manager, refusing a change that would make the chain a cycle."""
    if manager is not None:
        from org.selectors import manager_chain

        if manager.pk == employee.pk or employee.pk in {m.pk for m in manager_chain(manager)}:
            raise OrgError(f"{manager} cannot manage {employee}: the manager chain would loop")
    if employee.manager_id != (manager.pk if manager else None):
        employee.manager = manager
        employee.save(update_fields=["manager", "updated_at"])
    return employee


@transaction.atomic
def employee_set_active(*, employee: Employee, active: bool) -> Employee:
    """Mark someone as having left (or come back); their sign-in account follows. Never deletes."""
    if employee.active != active:
        employee.active = active
        employee.save(update_fields=["active", "updated_at"])
        User.objects.filter(pk=employee.user_id).update(is_active=active)
    return employee


def user_set_roles(*, user, roles: tuple[str, ...] | list[str]) -> None:
    """Make the user's role groups exactly ``roles`` (other, non-role groups are kept)."""
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise OrgError(f"unknown roles: {', '.join(sorted(unknown))}")
    wanted = {Group.objects.get_or_create(name=role)[0] for role in roles}
    current = set(user.groups.filter(name__in=Role.values))
    user.groups.remove(*(current - wanted))
    user.groups.add(*(wanted - current))
    if hasattr(user, "_baoxiao_roles"):
        del user._baoxiao_roles
