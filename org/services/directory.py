"""The bulk apply of an outside directory (the OA sync): a whole org chart at once."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from org.choices import Role
from org.models import Department, DepartmentExternalId, Employee, EmployeeExternalId

User = get_user_model()


# --- Bulk apply of an outside directory ---------------------------------------------------------------
# The OA sync hands over a whole org chart (tens of thousands of people) at once. The per-row services
# above would cost a transaction and a dozen queries per person, so this keeps their invariants in bulk:
# paths recomputed in memory for the whole tree after moves (what department_move does with one UPDATE),
# no move under a department's own subtree, no manager chain that loops, nothing deleted. Rows are
# matched by (source, external id), never by name. A record that cannot be applied is named in
# ``errors`` and the rest still applies.


class DirectoryDepartmentRecord(Protocol):
    """A department as an outside directory describes it (oa_bridge's DirectoryDepartment fits)."""

    external_id: str
    name: str
    parent_external_id: str | None
    head_external_id: str | None
    active: bool


class DirectoryPersonRecord(Protocol):
    """A person as an outside directory describes it (oa_bridge's DirectoryUser fits). A ``level`` of
    None (a source without job levels) keeps the current one."""

    external_id: str
    name: str
    email: str
    employee_no: str
    department_external_id: str | None
    manager_external_id: str | None
    title: str
    level: int | None
    active: bool


@dataclass
class DirectoryApplyResult:
    """What a bulk apply did, or (``refused``) would have done: then nothing was written."""

    departments_added: int = 0
    departments_changed: int = 0  # deactivated departments included
    people_added: int = 0
    people_changed: int = 0
    deactivated_ids: list[int] = field(default_factory=list)
    moved_ids: list[int] = field(default_factory=list)  # existing people whose department changed
    errors: list[str] = field(default_factory=list)
    linked_active: int = 0  # people of this source active before the apply
    planned_deactivations: int = 0
    refused: bool = False


class _Dept(NamedTuple):
    name: str
    code: str
    parent: int | None
    path: str
    depth: int
    head: int | None
    active: bool


class _Person(NamedTuple):
    user: int
    employee_no: str
    name: str
    department: int
    manager: int | None
    title: str
    level: int
    active: bool


class _Plan(NamedTuple):
    employee_no: str
    name: str
    department: int  # a key: an id, or a negative temporary key for a department created in this run
    title: str
    level: int
    active: bool
    email: str


@transaction.atomic
def org_directory_apply(
    *,
    source: str,
    departments: Sequence[DirectoryDepartmentRecord],
    people: Sequence[DirectoryPersonRecord],
    full: bool,
    max_deactivations: int | None = None,
    keep: frozenset[str] = frozenset(),
    batch_size: int = 1000,
) -> DirectoryApplyResult:
    """Make the org chart match an outside directory's records, in bulk, in one transaction.

    ``full``: the records are the whole directory, so the source's people and departments that are
    missing become inactive. ``max_deactivations``: when more people would be deactivated, nothing is
    written and the result is ``refused``. ``keep``: what the source does not carry ("head", "level").
    """
    return _DirectoryApply(source, departments, people, full, keep, batch_size).run(max_deactivations)


def _find_cycle(starts: Iterable[int], parent_of: Callable[[int], int | None]) -> list[int]:
    """The nodes of one loop reachable upwards from ``starts`` (empty when there is none)."""
    acyclic: set[int] = set()
    for start in starts:
        trail: list[int] = []
        on_trail: set[int] = set()
        node: int | None = start
        while node is not None and node not in acyclic:
            if node in on_trail:
                return trail[trail.index(node) :]
            trail.append(node)
            on_trail.add(node)
            node = parent_of(node)
        acyclic |= on_trail
    return []


def _unique_name(base: str, taken: set[str], limit: int) -> str:
    base = base[:limit] or "x"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base[: limit - len(str(n)) - 1]}-{n}"
    taken.add(candidate.lower())
    return candidate


class _DirectoryApply:
    """Plan in memory (no writes), check the deactivation limit, then write with bulk statements.

    Rows are keyed by id; a row this run creates has a negative temporary key until it is inserted.
    """

    def __init__(self, source, departments, people, full: bool, keep: frozenset[str], batch_size: int):
        self.source, self.full, self.keep, self.batch = source, full, keep, batch_size
        self.result = DirectoryApplyResult()
        self.dept_records = self._unique(departments, "department")
        self.person_records = self._unique(people, "user")
        self._temp = 0

    def _unique(self, records, kind: str) -> dict:
        by_id: dict = {}
        for record in records:
            external_id = str(record.external_id or "")
            if not external_id or external_id in by_id:
                self.result.errors.append(f"{kind} {external_id or '(no id)'}: missing or repeated id, skipped")
            else:
                by_id[external_id] = record
        return by_id

    def _new_key(self) -> int:
        self._temp -= 1
        return self._temp

    def error(self, kind: str, external_id: str, problem: str) -> None:
        self.result.errors.append(f"{kind} {external_id}: {problem}")

    def run(self, max_deactivations: int | None) -> DirectoryApplyResult:
        self._load()
        self._plan_departments()
        self._plan_people()
        if max_deactivations is not None and self.result.planned_deactivations > max_deactivations:
            self.result.refused = True
            return self.result
        self._plan_managers()
        self._plan_heads()
        self._write()
        return self.result

    def _load(self) -> None:
        """Everything the plan compares against, one query per table."""
        self.depts = {
            row[0]: _Dept(*row[1:])
            for row in Department.objects.values_list("pk", "name", "code", "parent", "path", "depth", "head", "active")
        }
        self.dept_links = dict(
            DepartmentExternalId.objects.filter(connector=self.source).values_list("external_id", "department_id")
        )
        self.person_links = dict(
            EmployeeExternalId.objects.filter(connector=self.source).values_list("external_id", "employee_id")
        )
        self.dept_ext = {key: ext for ext, key in self.dept_links.items()}
        self.person_ext = {key: ext for ext, key in self.person_links.items()}
        self.people = {
            row[0]: _Person(*row[1:])
            for row in Employee.objects.values_list(
                "pk", "user", "employee_no", "name", "department", "manager", "title", "level", "active"
            )
        }
        self.numbers = {person.employee_no: pk for pk, person in self.people.items()}
        linked = [pk for pk in self.person_links.values() if pk in self.people]
        accounts = User.objects.filter(employee__external_ids__connector=self.source)
        self.accounts = {pk: (email, on) for pk, email, on in accounts.values_list("pk", "email", "is_active")}
        self.result.linked_active = sum(1 for pk in linked if self.people[pk].active)

    # --- departments -------------------------------------------------------------------------------
    def _plan_departments(self) -> None:
        self.dept_key = {ext: key for ext, key in self.dept_links.items() if key in self.depts}
        self.new_depts: dict[int, str] = {}
        for ext in self.dept_records:
            if ext not in self.dept_key:
                self.dept_key[ext] = self._new_key()
                self.new_depts[self.dept_key[ext]] = ext
        self.dept_plan: dict[int, list] = {}  # key -> [name, parent key, active]
        for ext, record in self.dept_records.items():
            key = self.dept_key[ext]
            current = self.depts.get(key)
            parent = record.parent_external_id or None
            if parent is not None and parent not in self.dept_key:
                self.error("department", ext, f"parent {parent} is unknown")
                self._drop_dept(ext)
                continue
            name = (record.name or "").strip()[:200] or (current.name if current else ext[:200])
            self.dept_plan[key] = [name, self.dept_key[parent] if parent else None, bool(record.active)]
        if self.full:
            for ext, key in self.dept_links.items():
                if ext not in self.dept_records and key in self.depts and self.depts[key].active:
                    self.dept_plan[key] = [self.depts[key].name, self.depts[key].parent, False]
        while True:
            self._drop_orphan_depts()
            cycle = _find_cycle(list(self.dept_plan), self._dept_parent)
            if not cycle:
                return
            for key in cycle:
                ext = self.new_depts.get(key) or self.dept_ext.get(key, str(key))
                self.error("department", ext, "its parent would put it under itself; not moved")
                if key < 0:
                    self._drop_dept(ext)
                else:
                    self.dept_plan[key][1] = self.depts[key].parent

    def _dept_parent(self, key: int) -> int | None:
        return self.dept_plan[key][1] if key in self.dept_plan else self.depts[key].parent

    def _drop_dept(self, ext: str) -> None:
        key = self.dept_key.get(ext, 0)
        if key < 0:
            del self.dept_key[ext]
            self.new_depts.pop(key, None)
            self.dept_plan.pop(key, None)

    def _drop_orphan_depts(self) -> None:
        """A new department whose new parent was not applied cannot be placed; nor its own new children."""
        while orphans := [
            key
            for key, plan in self.dept_plan.items()
            if key < 0 and plan[1] is not None and plan[1] < 0 and plan[1] not in self.dept_plan
        ]:
            for key in orphans:
                self.error("department", self.new_depts[key], "its parent was not applied")
                self._drop_dept(self.new_depts[key])

    # --- people ------------------------------------------------------------------------------------
    def _plan_people(self) -> None:
        self.person_key = {ext: key for ext, key in self.person_links.items() if key in self.people}
        self.new_people: dict[int, str] = {}
        for ext in self.person_records:
            if ext not in self.person_key:
                self.person_key[ext] = self._new_key()
                self.new_people[self.person_key[ext]] = ext
        self.plan: dict[int, _Plan] = {}
        for ext, record in self.person_records.items():
            key = self.person_key[ext]
            current = self.people.get(key)
            department = current.department if current else None
            if record.department_external_id:
                department = self.dept_key.get(record.department_external_id)
                if department is None:
                    self._drop_person(ext, f"department {record.department_external_id} is unknown")
                    continue
            if department is None:
                self._drop_person(ext, "no department")
                continue
            number = (record.employee_no or "").strip()[:64] or (current.employee_no if current else ext[:64])
            if self.numbers.get(number, key) != key:
                self._drop_person(ext, f"employee number {number} belongs to someone else")
                continue
            self.numbers[number] = key
            level = None if "level" in self.keep else record.level
            if level is None:
                level = current.level if current else 1
            name = (record.name or "").strip()[:200] or (current.name if current else ext[:200])
            title = (record.title or "").strip()[:200]
            email = (record.email or "").strip()[:254]
            self.plan[key] = _Plan(
                number, name, department, title, max(1, min(int(level), 32767)), bool(record.active), email
            )
        leaving = [key for key, plan in self.plan.items() if key > 0 and self.people[key].active and not plan.active]
        self.absent = []
        if self.full:
            seen = {self.person_key.get(ext) for ext in self.person_records}
            self.absent = [
                key
                for key in self.person_links.values()
                if key in self.people and self.people[key].active and key not in seen
            ]
        self.result.planned_deactivations = len(leaving) + len(self.absent)

    def _drop_person(self, ext: str, problem: str) -> None:
        self.error("user", ext, problem)
        key = self.person_key.get(ext, 0)
        if key < 0:
            del self.person_key[ext]
            self.new_people.pop(key, None)

    def _plan_managers(self) -> None:
        self.manager_plan: dict[int, int | None] = {}  # key -> manager key (None clears)
        for ext, record in self.person_records.items():
            key = self.person_key.get(ext)
            if key not in self.plan:
                continue
            manager_ext = record.manager_external_id or None
            manager = self.person_key.get(manager_ext) if manager_ext else None
            if manager_ext and (manager is None or (manager < 0 and manager not in self.plan)):
                self.error("user", ext, f"manager {manager_ext} is unknown; manager not changed")
            elif manager == key:
                self.error("user", ext, "named as their own manager; manager not changed")
            else:
                self.manager_plan[key] = manager

        def manager_of(key: int) -> int | None:
            return self.manager_plan[key] if key in self.manager_plan else self.people[key].manager

        while cycle := _find_cycle(list(self.manager_plan), manager_of):
            for key in cycle:
                if key in self.manager_plan:
                    ext = self.new_people.get(key) or self.person_ext.get(key, str(key))
                    self.error("user", ext, "the manager chain would loop; manager not changed")
                    if key < 0:
                        self.manager_plan[key] = None
                    else:
                        del self.manager_plan[key]

    def _plan_heads(self) -> None:
        self.head_plan: dict[int, int | None] = {}
        if "head" in self.keep:
            return
        for ext, record in self.dept_records.items():
            key = self.dept_key.get(ext)
            if key not in self.dept_plan:
                continue
            head = self.person_key.get(record.head_external_id) if record.head_external_id else None
            if record.head_external_id and (head is None or (head < 0 and head not in self.plan)):
                self.error("department", ext, f"head {record.head_external_id} is unknown; head not changed")
            else:
                self.head_plan[key] = head

    # --- writing -------------------------------------------------------------------------------------
    def _write(self) -> None:
        self.now = timezone.now()
        self.real: dict[int, int] = {}  # temporary key -> id
        self._create_departments()
        self._create_people()
        self._update_people()
        self._update_departments()

    def _id(self, key: int | None) -> int | None:
        return self.real[key] if key is not None and key < 0 else key

    def _create_departments(self) -> None:
        if not self.new_depts:
            return
        codes = {code.lower() for code in Department.objects.values_list("code", flat=True)}
        rows = []
        for key, ext in self.new_depts.items():
            name, _parent, active = self.dept_plan[key]
            slug = slugify(f"{self.source}-{ext}")
            rows.append(Department(name=name, code=_unique_name(slug, codes, 64), active=active))
        Department.objects.bulk_create(rows, batch_size=self.batch)
        for key, row in zip(self.new_depts, rows, strict=True):
            self.real[key] = row.pk
            self.depts[row.pk] = _Dept(row.name, row.code, None, "", 0, None, row.active)
        DepartmentExternalId.objects.bulk_create(
            [
                DepartmentExternalId(department_id=self.real[k], connector=self.source, external_id=ext)
                for k, ext in self.new_depts.items()
            ],
            batch_size=self.batch,
        )
        self.result.departments_added = len(rows)

    def _create_people(self) -> None:
        """Accounts (unusable password, employee role) and employees, managers inserted before reports."""
        new = [key for key in self.new_people if key in self.plan]
        if not new:
            return
        taken = {name.lower() for name in User.objects.values_list("username", flat=True)}
        users = []
        for key in new:
            plan, ext = self.plan[key], self.new_people[key]
            local = plan.email.partition("@")[0] if "@" in plan.email else ""
            base = "".join(c if c.isalnum() or c in "._+-@" else "_" for c in (local or ext))
            users.append(
                User(
                    username=_unique_name(base, taken, 150),
                    email=plan.email,
                    # make_password(None) draws 40 characters one by one: seconds for a big directory.
                    password=UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30),
                    is_active=plan.active,
                )
            )
        User.objects.bulk_create(users, batch_size=self.batch)
        role, _ = Group.objects.get_or_create(name=Role.EMPLOYEE)
        membership = User.groups.through
        membership.objects.bulk_create(
            [membership(user_id=u.pk, group_id=role.pk) for u in users], batch_size=self.batch
        )
        user_of = {key: user.pk for key, user in zip(new, users, strict=True)}
        layer: dict[int, int] = {}  # how many new managers stand above: 0 = manager absent or existing

        for start in new:
            trail, key = [], start
            while key not in layer:
                manager = self.manager_plan.get(key)
                if manager is None or manager > 0:
                    layer[key] = 0
                    break
                trail.append(key)
                key = manager
            for k in reversed(trail):
                layer[k] = layer[self.manager_plan[k]] + 1
        for level in sorted(set(layer.values())):
            keys = [key for key in new if layer[key] == level]
            rows = [
                Employee(
                    user_id=user_of[k],
                    employee_no=p.employee_no,
                    name=p.name,
                    department_id=self._id(p.department),
                    manager_id=self._id(self.manager_plan.get(k)),
                    title=p.title,
                    level=p.level,
                    active=p.active,
                )
                for k in keys
                for p in (self.plan[k],)
            ]
            Employee.objects.bulk_create(rows, batch_size=self.batch)
            for key, row in zip(keys, rows, strict=True):
                self.real[key] = row.pk
        EmployeeExternalId.objects.bulk_create(
            [
                EmployeeExternalId(employee_id=self.real[k], connector=self.source, external_id=self.new_people[k])
                for k in new
            ],
            batch_size=self.batch,
        )
        self.result.people_added = len(new)

    def _update_people(self) -> None:
        """Existing people as planned, the absent ones inactive; accounts follow (email, sign-in on/off)."""
        result, employees, accounts = self.result, [], []
        changes: dict[int, _Plan | None] = {key: plan for key, plan in self.plan.items() if key > 0}
        changes.update(dict.fromkeys(self.absent))
        for key, plan in changes.items():
            old = self.people[key]
            old_email, old_sign_in = self.accounts.get(old.user, ("", True))
            if plan is None:  # absent from a full directory: leaves, nothing else changes
                new, email = old._replace(active=False), old_email
            else:
                manager = self._id(self.manager_plan[key]) if key in self.manager_plan else old.manager
                new = old._replace(
                    employee_no=plan.employee_no,
                    name=plan.name,
                    department=self._id(plan.department),
                    manager=manager,
                    title=plan.title,
                    level=plan.level,
                    active=plan.active,
                )
                email = plan.email
            # Signing in follows the person leaving or coming back; otherwise it is left as an admin set it.
            sign_in = new.active if new.active != old.active else old_sign_in
            if new == old and (email, sign_in) == (old_email, old_sign_in):
                continue
            if new != old:
                employees.append(
                    Employee(
                        pk=key,
                        user_id=new.user,
                        employee_no=new.employee_no,
                        name=new.name,
                        department_id=new.department,
                        manager_id=new.manager,
                        title=new.title,
                        level=new.level,
                        active=new.active,
                        updated_at=self.now,
                    )
                )
            if (email, sign_in) != (old_email, old_sign_in):
                accounts.append(User(pk=old.user, email=email, is_active=sign_in))
            if old.active and not new.active:
                result.deactivated_ids.append(key)
            else:
                result.people_changed += 1
            if new.department != old.department:
                result.moved_ids.append(key)
        fields = ["employee_no", "name", "department", "manager", "title", "level", "active", "updated_at"]
        Employee.objects.bulk_update(employees, fields, batch_size=self.batch)
        User.objects.bulk_update(accounts, ["email", "is_active"], batch_size=self.batch)

    def _update_departments(self) -> None:
        """Names, activity and heads as planned; paths recomputed for the whole tree in memory."""
        plans = {self._id(key): plan for key, plan in self.dept_plan.items()}
        heads = {self._id(key): self._id(head) for key, head in self.head_plan.items()}
        parents = {pk: (self._id(plans[pk][1]) if pk in plans else row.parent) for pk, row in self.depts.items()}
        paths: dict[int, tuple[str, int]] = {}
        for start in parents:
            trail, pk = [], start
            while pk is not None and pk not in paths:
                trail.append(pk)
                pk = parents[pk]
            above, depth = paths[pk] if pk is not None else ("/", -1)
            for node in reversed(trail):
                above, depth = f"{above}{node}/", depth + 1
                paths[node] = (above, depth)
        created, rows = set(self.real.values()), []
        for pk, old in self.depts.items():
            name, _parent, active = plans.get(pk, (old.name, old.parent, old.active))
            new = old._replace(
                name=name,
                parent=parents[pk],
                path=paths[pk][0],
                depth=paths[pk][1],
                head=heads.get(pk, old.head),
                active=active,
            )
            if new == old:
                continue
            rows.append(
                Department(
                    pk=pk,
                    name=new.name,
                    code=new.code,
                    parent_id=new.parent,
                    path=new.path,
                    depth=new.depth,
                    head_id=new.head,
                    active=new.active,
                    updated_at=self.now,
                )
            )
            if pk not in created and new._replace(path=old.path, depth=old.depth) != old:
                self.result.departments_changed += 1  # a descendant of a moved department is not "changed"
        fields = ["name", "parent", "path", "depth", "head", "active", "updated_at"]
        Department.objects.bulk_update(rows, fields, batch_size=self.batch)
