"""Routing: which rule a claim matches and the chain of approvers it yields, with the reason for each.

Published rule sets never change, so each is compiled once into plain Python objects and cached per
process; matching a claim against hundreds of rules is then a loop in memory, not a query per rule.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from approvals.choices import RuleSetStatus, StepKind, StepMode
from approvals.models import MatrixEntry, RoutingRule, RuleSet
from org.models import Department, Employee
from org.selectors import MAX_CHAIN_DEPTH


@dataclass(frozen=True)
class ClaimFacts:
    """What routing looks at: the claimant, the amount in base currency, categories, cost centre, project."""

    claimant: Employee
    amount: Decimal
    category_ids: frozenset[int]
    cost_centre: str = ""
    project: str = ""

    @classmethod
    def of_claim(cls, claim) -> ClaimFacts:
        return cls(
            claimant=claim.claimant,
            amount=claim.total_amount,
            # The lines a submit already loaded (reimbursement.snapshots.claim_lines), else one query.
            category_ids=frozenset(line.category_id for line in claim._loaded_lines)
            if getattr(claim, "_loaded_lines", None) is not None
            else frozenset(claim.lines.values_list("category_id", flat=True)),
            cost_centre=claim.cost_centre,
            project=claim.project,
        )


@dataclass
class ResolvedApprover:
    employee: Employee
    reason: str


@dataclass
class ResolvedStep:
    position: int
    name: str
    mode: str
    sla_hours: int
    explanation: str
    source_step_id: int | None = None
    approvers: list[ResolvedApprover] = field(default_factory=list)
    skipped: str = ""  # why the step was skipped, when it was


@dataclass
class ResolvedChain:
    rule_set: RuleSet | None
    rule_id: int | None
    rule_name: str
    matched_because: str
    steps: list[ResolvedStep]
    auto_approved: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def active_steps(self) -> list[ResolvedStep]:
        return [s for s in self.steps if not s.skipped]

    def approver_ids(self) -> list[list[int]]:
        """The chain as ids, step by step: what a dry run compares."""
        return [sorted(a.employee.pk for a in s.approvers) for s in self.active_steps]


@dataclass
class _Step:
    id: int
    name: str
    kind: str
    levels: int
    role: str
    named_id: int | None
    mode: str
    sla_hours: int


@dataclass
class _Rule:
    id: int
    name: str
    amount_min: Decimal | None
    amount_max: Decimal | None
    department_paths: tuple[str, ...]
    department_names: tuple[str, ...]
    category_ids: frozenset[int]
    cost_centres: frozenset[str]
    projects: frozenset[str]
    level_min: int | None
    level_max: int | None
    auto_approve_below: Decimal | None
    audit_sample_percent: int
    steps: list[_Step]

    def matches(self, facts: ClaimFacts, department_path: str) -> bool:
        """Whether the rule applies. Kept free of translation calls: resolve() runs it for every rule
        before the match, and building the reasons (gettext) for rules that then fail cost more than
        the tests themselves (issue 4: 500 rules in under 5 ms)."""
        amount = facts.amount
        if self.amount_min is not None and amount < self.amount_min:
            return False
        if self.amount_max is not None and amount >= self.amount_max:
            return False
        if self.department_paths and not department_path.startswith(self.department_paths):
            return False
        if self.category_ids and self.category_ids.isdisjoint(facts.category_ids):
            return False
        if self.cost_centres and facts.cost_centre not in self.cost_centres:
            return False
        if self.projects and facts.project not in self.projects:
            return False
        level = facts.claimant.level
        if self.level_min is not None and level < self.level_min:
            return False
        return self.level_max is None or level <= self.level_max

    def match(self, facts: ClaimFacts, department_path: str) -> str | None:
        """Why the rule matches (its conditions in words), or None when it does not."""
        if not self.matches(facts, department_path):
            return None
        reasons = []
        if self.amount_min is not None:
            reasons.append(_("amount ≥ %(a)s") % {"a": self.amount_min})
        if self.amount_max is not None:
            reasons.append(_("amount < %(a)s") % {"a": self.amount_max})
        if self.department_paths:
            hits = [
                n
                for p, n in zip(self.department_paths, self.department_names, strict=True)
                if department_path.startswith(p)
            ]
            reasons.append(_("department in %(d)s") % {"d": hits[0]})
        if self.category_ids:
            reasons.append(_("category matches"))
        if self.cost_centres:
            reasons.append(_("cost centre %(c)s") % {"c": facts.cost_centre})
        if self.projects:
            reasons.append(_("project %(p)s") % {"p": facts.project})
        if self.level_min is not None:
            reasons.append(_("level ≥ %(l)d") % {"l": self.level_min})
        if self.level_max is not None:
            reasons.append(_("level ≤ %(l)d") % {"l": self.level_max})
        return ", ".join(reasons) or _("matches every claim")


@dataclass
class CompiledRuleSet:
    rule_set: RuleSet
    rules: list[_Rule]
    # department id -> [(category id or None, min, max, approver id)], for matrix steps
    matrix: dict[int, list[tuple[int | None, Decimal | None, Decimal | None, int]]]


def _split(value: str) -> frozenset[str]:
    return frozenset(v.strip() for v in value.split(",") if v.strip())


def compile_rule_set(rule_set: RuleSet) -> CompiledRuleSet:
    """Load a rule set's rules, conditions, steps and matrix in a fixed number of queries."""
    rules = (
        RoutingRule.objects.filter(rule_set=rule_set)
        .prefetch_related("departments", "categories", "steps")
        .order_by("position", "id")
    )
    compiled = []
    for rule in rules:
        departments = sorted(rule.departments.all(), key=lambda d: d.path)
        compiled.append(
            _Rule(
                id=rule.pk,
                name=rule.name,
                amount_min=rule.amount_min,
                amount_max=rule.amount_max,
                department_paths=tuple(d.path for d in departments),
                department_names=tuple(d.name for d in departments),
                category_ids=frozenset(c.pk for c in rule.categories.all()),
                cost_centres=_split(rule.cost_centres),
                projects=_split(rule.projects),
                level_min=rule.level_min,
                level_max=rule.level_max,
                auto_approve_below=rule.auto_approve_below,
                audit_sample_percent=rule.audit_sample_percent,
                steps=[
                    _Step(
                        s.pk,
                        s.name or s.get_kind_display(),
                        s.kind,
                        s.levels,
                        s.role,
                        s.named_approver_id,
                        s.mode,
                        s.sla_hours,
                    )
                    for s in sorted(rule.steps.all(), key=lambda s: (s.position, s.pk))
                ],
            )
        )
    matrix: dict[int, list] = {}
    for entry in MatrixEntry.objects.filter(rule_set=rule_set):
        matrix.setdefault(entry.department_id, []).append(
            (entry.category_id, entry.amount_min, entry.amount_max, entry.approver_id)
        )
    return CompiledRuleSet(rule_set, compiled, matrix)


# Keyed by id and publication time: an id alone can come back for another rule set where ids are
# reused (SQLite after a rolled-back transaction, as in every test), and a stale hit would route wrongly.
_cache: dict[tuple[int, object], CompiledRuleSet] = {}
_cache_lock = threading.Lock()


def compiled_published(rule_set: RuleSet) -> CompiledRuleSet:
    """The compiled form of a published (hence immutable) rule set, from the process cache."""
    if rule_set.status == RuleSetStatus.DRAFT:
        return compile_rule_set(rule_set)
    key = (rule_set.pk, rule_set.published_at)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is None:
        hit = compile_rule_set(rule_set)
        with _cache_lock:
            _cache[key] = hit
    return hit


def published_rule_set() -> RuleSet | None:
    return RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED).select_related("fallback_approver").first()


def _rows_by_id(model, ids: list[int]) -> dict:
    """The rows of ``model`` with these ids, by id, in one raw query."""
    if not ids:
        return {}
    table, pk = model._meta.db_table, model._meta.pk.column
    sql = f"SELECT * FROM {table} WHERE {pk} IN ({', '.join(['%s'] * len(ids))})"  # noqa: S608 - names from the model  # nosec B608
    return {row.pk: row for row in model.objects.raw(sql, ids)}


_EMPLOYEES = Employee._meta.db_table
_USER_GROUPS = Employee._meta.get_field("user").related_model.groups.through._meta.db_table
_GROUPS = Employee._meta.get_field("user").related_model.groups.field.related_model._meta.db_table

# The manager chain as rows: the walk of org.selectors.manager_chain, joined to the people it reaches.
_CHAIN_SQL = f"""
    WITH RECURSIVE chain(id, manager_id, depth) AS (
        SELECT id, manager_id, 0 FROM {_EMPLOYEES} WHERE id = %s
        UNION ALL
        SELECT e.id, e.manager_id, chain.depth + 1
        FROM {_EMPLOYEES} e JOIN chain ON e.id = chain.manager_id
        WHERE chain.depth < %s
    )
    SELECT e.* FROM chain JOIN {_EMPLOYEES} e ON e.id = chain.id WHERE chain.depth > 0 ORDER BY chain.depth
"""  # noqa: S608 - table names come from the models, values are parameters  # nosec B608

_ROLE_SQL = f"""
    SELECT e.* FROM {_EMPLOYEES} e
    JOIN {_USER_GROUPS} ug ON ug.user_id = e.user_id
    JOIN {_GROUPS} g ON g.id = ug.group_id
    WHERE g.name = %s AND e.active = %s
    ORDER BY e.employee_no
"""  # noqa: S608 - table names come from the models, values are parameters  # nosec B608


class OrgLookups:
    """The org-chart reads resolve() makes once it has a rule, every time (no memory).

    Routing a submitted claim must see the org chart as it is now, so this default remembers nothing.
    A caller resolving many claims at one moment (the dry run) passes a ``MemoOrgLookups`` instead.

    The reads are raw SQL on purpose: on this path Django's compilation of the equivalent ORM queries
    (a select_related join, in_bulk) cost several times the queries themselves; bench/routing.py went
    from about 2.9 ms to 0.8 ms of CPU per resolve(). They return the same people and departments as
    org.selectors.manager_chain and the ORM filters, without their user/department joined in (routing
    only reads names, ids and ``active``); tests/approvals/test_simulation.py checks they agree.
    """

    def manager_chain(self, employee: Employee, levels: int) -> list[Employee]:
        """As org.selectors.manager_chain: nearest first, at most ``levels``, stopping at a cycle."""
        levels = max(0, min(levels, MAX_CHAIN_DEPTH))
        if levels == 0 or employee.manager_id is None:
            return []
        seen, chain = {employee.pk}, []
        for person in Employee.objects.raw(_CHAIN_SQL, [employee.pk, levels]):
            if person.pk in seen:  # a cycle: the chain ends where it meets itself
                break
            seen.add(person.pk)
            chain.append(person)
        return chain

    def departments_up(self, department: Department) -> list[Department]:
        """The department and its ancestors, nearest first, each with its head."""
        ids = [*department.ancestor_ids(), department.pk]
        by_id = _rows_by_id(Department, ids)
        heads = _rows_by_id(Employee, sorted({d.head_id for d in by_id.values() if d.head_id}))
        for d in by_id.values():
            if d.head_id:
                d.head = heads.get(d.head_id)
        return [by_id[i] for i in reversed(ids) if i in by_id]

    def role_members(self, role: str) -> list[Employee]:
        """Active holders of the role (a group of that name; no group: nobody), by employee number."""
        return list(Employee.objects.raw(_ROLE_SQL, [role, True]))

    def employees(self, ids: list[int]) -> dict[int, Employee]:
        return Employee.objects.in_bulk(ids)


class MemoOrgLookups(OrgLookups):
    """Each answer read once and then remembered: for resolving many claims against the same org chart."""

    def __init__(self) -> None:
        self._chains: dict[tuple[int, int], list[Employee]] = {}
        self._departments: dict[int, list[Department]] = {}
        self._roles: dict[str, list[Employee]] = {}
        self._employees: dict[int, Employee | None] = {}

    def manager_chain(self, employee: Employee, levels: int) -> list[Employee]:
        key = (employee.pk, levels)
        if key not in self._chains:
            self._chains[key] = super().manager_chain(employee, levels)
        return self._chains[key]

    def departments_up(self, department: Department) -> list[Department]:
        if department.pk not in self._departments:
            self._departments[department.pk] = super().departments_up(department)
        return self._departments[department.pk]

    def role_members(self, role: str) -> list[Employee]:
        if role not in self._roles:
            self._roles[role] = super().role_members(role)
        return self._roles[role]

    def employees(self, ids: list[int]) -> dict[int, Employee]:
        missing = [i for i in ids if i not in self._employees]
        if missing:
            found = super().employees(missing)
            self._employees.update({i: found.get(i) for i in missing})
        return {i: self._employees[i] for i in ids if self._employees[i] is not None}


_NO_MEMO = OrgLookups()


def resolve(
    facts: ClaimFacts,
    compiled: CompiledRuleSet,
    *,
    rng: random.Random | None = None,
    org: OrgLookups | None = None,
) -> ResolvedChain:
    """The chain for these facts: the first matching rule's steps, resolved to people, with skips applied."""
    org = org or _NO_MEMO
    claimant = facts.claimant
    department = claimant.department
    rule = reason = None
    path = department.path
    for candidate in compiled.rules:
        if candidate.matches(facts, path):
            rule, reason = candidate, candidate.match(facts, path)
            break
    fallback = compiled.rule_set.fallback_approver
    if rule is None:
        chain = ResolvedChain(compiled.rule_set, None, "", _("no rule matched"), [])
        if fallback is not None:
            step = ResolvedStep(1, _("Fallback approver"), StepMode.ANY, 48, _("No rule matched this claim."))
            step.approvers.append(
                ResolvedApprover(fallback, _("No routing rule matched; the fallback approver decides."))
            )
            chain.steps.append(step)
        return chain

    chain = ResolvedChain(compiled.rule_set, rule.id, rule.name, reason, [])
    if rule.auto_approve_below is not None and facts.amount < rule.auto_approve_below:
        draw = (rng or random).random() * 100
        if draw >= rule.audit_sample_percent:
            chain.auto_approved = True
            chain.notes.append(_("Auto-approved: below %(a)s.") % {"a": rule.auto_approve_below})
            return chain
        chain.notes.append(_("Picked for a random audit although below the auto-approval threshold."))

    needs_chain = max(
        (s.levels for s in rule.steps if s.kind in (StepKind.DIRECT_MANAGER, StepKind.MANAGER_LEVEL)), default=0
    )
    managers = org.manager_chain(claimant, max(needs_chain, 1)) if needs_chain else []
    ancestors = org.departments_up(department) if any(s.kind == StepKind.DEPARTMENT_HEAD for s in rule.steps) else []
    previous_sole: int | None = None
    for position, step in enumerate(rule.steps, start=1):
        explanation = _("Rule “%(rule)s” (%(why)s), step %(n)d.") % {"rule": rule.name, "why": reason, "n": position}
        resolved = ResolvedStep(position, step.name, step.mode, step.sla_hours, explanation, step.id)
        for employee, why in _approvers_for(step, facts, managers, ancestors, compiled, org):
            if not employee.active:
                continue
            resolved.approvers.append(ResolvedApprover(employee, why))
        if not resolved.approvers and fallback is not None:
            resolved.approvers.append(
                ResolvedApprover(
                    fallback, _("“%(step)s” resolved to nobody; the fallback approver decides.") % {"step": step.name}
                )
            )
            chain.notes.append(_("Step %(n)d used the fallback approver.") % {"n": position})
        kept = [a for a in resolved.approvers if a.employee.pk != claimant.pk]
        if len(kept) < len(resolved.approvers) and not kept:
            resolved.skipped = _("The approver is the claimant.")
        kept = [a for a in kept if a.employee.pk != previous_sole]
        if not kept and not resolved.skipped:
            resolved.skipped = (
                _("The same approver approved the previous step.") if resolved.approvers else _("Nobody to ask.")
            )
        resolved.approvers = kept
        if not resolved.skipped and len(kept) == 1:
            previous_sole = kept[0].employee.pk
        elif not resolved.skipped:
            previous_sole = None
        chain.steps.append(resolved)
    return chain


def _approvers_for(step: _Step, facts, managers, ancestors, compiled, org: OrgLookups) -> list[tuple[Employee, str]]:
    if step.kind == StepKind.DIRECT_MANAGER:
        return [(managers[0], _("Direct manager of %(c)s.") % {"c": facts.claimant.name})] if managers else []
    if step.kind == StepKind.MANAGER_LEVEL:
        n = step.levels
        if len(managers) >= n:
            return [(managers[n - 1], _("Manager %(n)d levels above %(c)s.") % {"n": n, "c": facts.claimant.name})]
        return []
    if step.kind == StepKind.DEPARTMENT_HEAD:
        if len(ancestors) > step.levels and ancestors[step.levels].head is not None:
            department = ancestors[step.levels]
            return [(department.head, _("Head of %(d)s.") % {"d": department.name})]
        return []
    if step.kind == StepKind.ROLE:
        return [(p, _("Holds the role “%(r)s”.") % {"r": step.role}) for p in org.role_members(step.role)]
    if step.kind == StepKind.NAMED:
        if step.named_id is None:
            return []
        person = org.employees([step.named_id]).get(step.named_id)
        return [(person, _("Named in the rule."))] if person else []
    if step.kind == StepKind.MATRIX:
        return _matrix_lookup(facts, compiled, org)
    return []


def _matrix_lookup(facts: ClaimFacts, compiled: CompiledRuleSet, org: OrgLookups) -> list[tuple[Employee, str]]:
    """The nearest department with a matching entry (own first, then up the tree)."""
    department = facts.claimant.department
    for department_id in [department.pk, *reversed(department.ancestor_ids())]:
        ids = [
            approver
            for category, low, high, approver in compiled.matrix.get(department_id, [])
            if (category is None or category in facts.category_ids)
            and (low is None or facts.amount >= low)
            and (high is None or facts.amount < high)
        ]
        if ids:
            people = org.employees(ids)
            return [
                (people[i], _("Approval matrix entry for this department, category and amount."))
                for i in dict.fromkeys(ids)
                if i in people
            ]
    return []
