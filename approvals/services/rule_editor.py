"""The draft editor's writes: rules, steps, matrix entries and the fallback approver of a draft rule set."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from approvals.choices import ReturnPolicy, RuleSetStatus, StepKind, StepMode
from approvals.models import MatrixEntry, RoutingRule, RoutingStep, RuleSet
from approvals.services.rules import rule_add
from audit.services import audit_record
from config.errors import ApplicationError, NotFoundError
from org.choices import Role
from org.selectors import MAX_CHAIN_DEPTH

# --- The draft editor's writes ------------------------------------------------------------------------
# Each one locks the rule set row, refuses anything but a draft (a published version is frozen: flows
# point at it), checks its input, and writes one audit event on the rule set with name snapshots.


@dataclass(frozen=True)
class RuleInput:
    """A rule's name and conditions as the editor (or the API) sends them; departments and categories by id."""

    name: str
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    department_ids: tuple[int, ...] = ()
    category_ids: tuple[int, ...] = ()
    cost_centres: str = ""
    projects: str = ""
    level_min: int | None = None
    level_max: int | None = None
    return_policy: str = ReturnPolicy.RESTART
    auto_approve_below: Decimal | None = None
    audit_sample_percent: int = 0


@dataclass(frozen=True)
class StepInput:
    """One step of a rule: whom to ask (``kind`` and its parameter), any one or all, and how fast."""

    kind: str
    name: str = ""
    levels: int = 1
    role: str = ""
    named_approver_id: int | None = None
    mode: str = StepMode.ANY
    sla_hours: int = 48


@dataclass(frozen=True)
class MatrixEntryInput:
    """One cell of the approval matrix: department × category (None: any) × amount band → approver."""

    department_id: int
    approver_id: int
    category_id: int | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None


RULE_FIELDS = (
    "name",
    "amount_min",
    "amount_max",
    "cost_centres",
    "projects",
    "level_min",
    "level_max",
    "return_policy",
    "auto_approve_below",
    "audit_sample_percent",
)
STEP_FIELDS = ("name", "kind", "levels", "role", "named_approver_id", "mode", "sla_hours")
# Roles a step may ask; "employee" is everybody, which is never what an approval step means.
STEP_ROLES = tuple(r for r in Role.values if r != Role.EMPLOYEE)
MAX_SLA_HOURS = 24 * 60
MAX_HEAD_LEVELS = 20


def _locked_draft(rule_set_id: int) -> RuleSet:
    """The rule set, locked for the change; anything but a draft is refused."""
    rule_set = RuleSet.objects.select_for_update().filter(pk=rule_set_id).first()
    if rule_set is None:
        raise NotFoundError(_("That rule set does not exist."))
    if rule_set.status != RuleSetStatus.DRAFT:
        raise ApplicationError(_("Published rule sets cannot change; edit the draft."), code="not_draft")
    return rule_set


def _rule_of_draft(rule_id: int) -> tuple[RoutingRule, RuleSet]:
    rule_set_id = RoutingRule.objects.filter(pk=rule_id).values_list("rule_set_id", flat=True).first()
    if rule_set_id is None:
        raise NotFoundError(_("That rule does not exist (any more)."))
    rule_set = _locked_draft(rule_set_id)
    return RoutingRule.objects.get(pk=rule_id), rule_set


def _step_of_draft(step_id: int) -> tuple[RoutingStep, RuleSet]:
    rule_set_id = RoutingStep.objects.filter(pk=step_id).values_list("rule__rule_set_id", flat=True).first()
    if rule_set_id is None:
        raise NotFoundError(_("That step does not exist (any more)."))
    rule_set = _locked_draft(rule_set_id)
    return RoutingStep.objects.select_related("rule", "named_approver").get(pk=step_id), rule_set


def _refuse(errors: dict[str, list[str]]) -> None:
    if errors:
        summary = " ".join(m for messages in errors.values() for m in messages)
        raise ApplicationError(summary, code="invalid", fields=errors)


def _check_amount_band(errors: dict, low: Decimal | None, high: Decimal | None, *, high_field: str) -> None:
    for field_name, value in (("amount_min", low), (high_field, high)):
        if value is not None and value < 0:
            errors.setdefault(field_name, []).append(_("Amounts cannot be negative."))
    if low is not None and high is not None and low >= high:
        errors.setdefault(high_field, []).append(_("“Below” must be more than “from”, or no claim would match."))


def _check_rule(data: RuleInput) -> None:
    from org.models import Department
    from reimbursement.models import ExpenseCategory

    errors: dict[str, list[str]] = {}
    if not data.name.strip():
        errors["name"] = [_("Give the rule a name people will recognise in the approval history.")]
    elif len(data.name.strip()) > 200:
        errors["name"] = [_("At most 200 characters.")]
    _check_amount_band(errors, data.amount_min, data.amount_max, high_field="amount_max")
    if data.level_min is not None and data.level_max is not None and data.level_min > data.level_max:
        errors["level_max"] = [_("The highest level cannot be below the lowest.")]
    if data.return_policy not in ReturnPolicy.values:
        errors["return_policy"] = [_("Choose what happens after a return.")]
    if data.auto_approve_below is not None and data.auto_approve_below <= 0:
        errors["auto_approve_below"] = [_("Leave it empty, or give an amount above zero.")]
    if not 0 <= data.audit_sample_percent <= 100:
        errors["audit_sample_percent"] = [_("A share between 0 and 100.")]
    elif data.audit_sample_percent and data.auto_approve_below is None:
        errors["audit_sample_percent"] = [_("A random audit only applies to claims that would be auto-approved.")]
    for field_name, text in (("cost_centres", data.cost_centres), ("projects", data.projects)):
        if len(text) > 500:
            errors[field_name] = [_("At most 500 characters.")]
    if len(set(data.department_ids)) != Department.objects.filter(pk__in=data.department_ids).count():
        errors["departments"] = [_("One of the departments no longer exists.")]
    if len(set(data.category_ids)) != ExpenseCategory.objects.filter(pk__in=data.category_ids).count():
        errors["categories"] = [_("One of the categories no longer exists.")]
    _refuse(errors)


def _clean_step(data: StepInput) -> dict[str, Any]:
    """The step's field values, checked, with the parameters its kind does not use cleared."""
    from org.models import Employee

    errors: dict[str, list[str]] = {}
    if data.kind not in StepKind.values:
        errors["kind"] = [_("Choose whom the step asks.")]
    if data.mode not in StepMode.values:
        errors["mode"] = [_("Choose whether any one or all approvers must approve.")]
    if not 1 <= data.sla_hours <= MAX_SLA_HOURS:
        errors["sla_hours"] = [_("Between 1 and %(n)d hours.") % {"n": MAX_SLA_HOURS}]
    if len(data.name) > 100:
        errors["name"] = [_("At most 100 characters.")]
    levels = 1
    if data.kind == StepKind.MANAGER_LEVEL:
        levels = data.levels
        if not 1 <= levels <= MAX_CHAIN_DEPTH:
            errors["levels"] = [_("Between 1 and %(n)d levels up.") % {"n": MAX_CHAIN_DEPTH}]
    elif data.kind == StepKind.DEPARTMENT_HEAD:
        levels = data.levels
        if not 0 <= levels <= MAX_HEAD_LEVELS:
            errors["levels"] = [_("0 (own department) to %(n)d levels up.") % {"n": MAX_HEAD_LEVELS}]
    role = data.role if data.kind == StepKind.ROLE else ""
    if data.kind == StepKind.ROLE and role not in STEP_ROLES:
        errors["role"] = [_("Choose the role whose holders approve.")]
    named = data.named_approver_id if data.kind == StepKind.NAMED else None
    if data.kind == StepKind.NAMED and not Employee.objects.filter(pk=named, active=True).exists():
        errors["named_approver"] = [_("Name an active person.")]
    _refuse(errors)
    return {
        "name": data.name.strip(),
        "kind": data.kind,
        "levels": levels,
        "role": role,
        "named_approver_id": named,
        "mode": data.mode,
        "sla_hours": data.sla_hours,
    }


def _rule_snapshot(rule: RoutingRule) -> dict[str, Any]:
    """The rule in plain values with names, for the audit log (it outlives renames and deletions)."""
    values = {f: getattr(rule, f) for f in RULE_FIELDS}
    values = {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}
    values["departments"] = sorted(d.name for d in rule.departments.all())
    values["categories"] = sorted(c.code for c in rule.categories.all())
    return values


def _step_snapshot(step: RoutingStep) -> dict[str, Any]:
    return {
        "name": step.name,
        "kind": step.kind,
        "levels": step.levels,
        "role": step.role,
        "named_approver": step.named_approver.name if step.named_approver_id else None,
        "mode": step.mode,
        "sla_hours": step.sla_hours,
    }


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def _rule_values(data: RuleInput) -> dict[str, Any]:
    return {
        "name": data.name.strip(),
        "amount_min": data.amount_min,
        "amount_max": data.amount_max,
        "cost_centres": data.cost_centres.strip(),
        "projects": data.projects.strip(),
        "level_min": data.level_min,
        "level_max": data.level_max,
        "return_policy": data.return_policy,
        "auto_approve_below": data.auto_approve_below,
        "audit_sample_percent": data.audit_sample_percent,
    }


def _reorder(items: list, index: int, direction: str) -> list | None:
    """The list with ``items[index]`` moved one place up or down, or None when it cannot move."""
    if direction not in ("up", "down"):
        raise ApplicationError(_("Move a rule or step up or down."), code="invalid")
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(items):
        return None
    items = list(items)
    items[index], items[target] = items[target], items[index]
    return items


@transaction.atomic
def rule_create(*, rule_set_id: int, actor: Any, data: RuleInput) -> RoutingRule:
    """Append a rule (without steps yet) to the draft."""
    rule_set = _locked_draft(rule_set_id)
    _check_rule(data)
    rule = rule_add(
        rule_set=rule_set,
        steps=[],
        departments=list(data.department_ids),
        categories=list(data.category_ids),
        **_rule_values(data),
    )
    audit_record(
        action="rule_set.rule_added",
        target=rule_set,
        actor=actor,
        data={"rule_id": rule.pk, "rule": _rule_snapshot(rule)},
    )
    return rule


@transaction.atomic
def rule_update(*, rule_id: int, actor: Any, data: RuleInput) -> RoutingRule:
    """Change a draft rule's name and conditions; unchanged input writes nothing."""
    rule, rule_set = _rule_of_draft(rule_id)
    _check_rule(data)
    before = _rule_snapshot(rule)
    for field_name, value in _rule_values(data).items():
        setattr(rule, field_name, value)
    rule.save(update_fields=list(RULE_FIELDS))
    rule.departments.set(data.department_ids)
    rule.categories.set(data.category_ids)
    changes = _changes(before, _rule_snapshot(rule))
    if changes:
        audit_record(
            action="rule_set.rule_updated",
            target=rule_set,
            actor=actor,
            data={"rule_id": rule.pk, "rule": rule.name, "changes": changes},
        )
    return rule


@transaction.atomic
def rule_delete(*, rule_id: int, actor: Any) -> None:
    """Remove a rule and its steps from the draft."""
    rule, rule_set = _rule_of_draft(rule_id)
    snapshot = _rule_snapshot(rule)
    snapshot["steps"] = [_step_snapshot(s) for s in rule.steps.select_related("named_approver")]
    rule.delete()
    audit_record(
        action="rule_set.rule_deleted", target=rule_set, actor=actor, data={"rule_id": rule_id, "rule": snapshot}
    )


@transaction.atomic
def rule_move(*, rule_id: int, actor: Any, direction: str) -> RoutingRule:
    """Move a rule one place up or down (the first matching rule wins, so order is meaning)."""
    rule, rule_set = _rule_of_draft(rule_id)
    rules = list(rule_set.rules.order_by("position", "id"))
    moved = _reorder(rules, [r.pk for r in rules].index(rule.pk), direction)
    if moved is None:
        return rule
    for position, item in enumerate(moved, start=1):
        item.position = position * 10
    RoutingRule.objects.bulk_update(moved, ["position"])
    audit_record(
        action="rule_set.rule_moved",
        target=rule_set,
        actor=actor,
        data={"rule_id": rule.pk, "rule": rule.name, "direction": direction, "order": [r.name for r in moved]},
    )
    return next(r for r in moved if r.pk == rule.pk)


@transaction.atomic
def step_add(*, rule_id: int, actor: Any, data: StepInput) -> RoutingStep:
    """Append a step to a draft rule."""
    rule, rule_set = _rule_of_draft(rule_id)
    values = _clean_step(data)
    last = rule.steps.order_by("-position").values_list("position", flat=True).first() or 0
    step = RoutingStep.objects.create(rule=rule, position=last + 1, **values)
    audit_record(
        action="rule_set.step_added",
        target=rule_set,
        actor=actor,
        data={"rule_id": rule.pk, "rule": rule.name, "step_id": step.pk, "step": _step_snapshot(step)},
    )
    return step


@transaction.atomic
def step_update(*, step_id: int, actor: Any, data: StepInput) -> RoutingStep:
    """Change whom a draft step asks, how, and how fast; unchanged input writes nothing."""
    step, rule_set = _step_of_draft(step_id)
    before = _step_snapshot(step)
    for field_name, value in _clean_step(data).items():
        setattr(step, field_name, value)
    step.save(update_fields=[f.removesuffix("_id") for f in STEP_FIELDS])
    changes = _changes(before, _step_snapshot(step))
    if changes:
        audit_record(
            action="rule_set.step_updated",
            target=rule_set,
            actor=actor,
            data={"rule_id": step.rule_id, "rule": step.rule.name, "step_id": step.pk, "changes": changes},
        )
    return step


@transaction.atomic
def step_remove(*, step_id: int, actor: Any) -> None:
    """Remove a step from a draft rule; the later steps move up."""
    step, rule_set = _step_of_draft(step_id)
    rule, snapshot = step.rule, _step_snapshot(step)
    step.delete()
    remaining = list(rule.steps.order_by("position", "id"))
    for position, item in enumerate(remaining, start=1):
        item.position = position
    RoutingStep.objects.bulk_update(remaining, ["position"])
    audit_record(
        action="rule_set.step_removed",
        target=rule_set,
        actor=actor,
        data={"rule_id": rule.pk, "rule": rule.name, "step_id": step_id, "step": snapshot},
    )


@transaction.atomic
def step_move(*, step_id: int, actor: Any, direction: str) -> RoutingStep:
    """Move a step one place earlier or later in its rule."""
    step, rule_set = _step_of_draft(step_id)
    steps = list(step.rule.steps.order_by("position", "id"))
    moved = _reorder(steps, [s.pk for s in steps].index(step.pk), direction)
    if moved is None:
        return step
    for position, item in enumerate(moved, start=1):
        item.position = position
    RoutingStep.objects.bulk_update(moved, ["position"])
    audit_record(
        action="rule_set.step_moved",
        target=rule_set,
        actor=actor,
        data={"rule_id": step.rule_id, "rule": step.rule.name, "step_id": step.pk, "direction": direction},
    )
    return next(s for s in moved if s.pk == step.pk)


@transaction.atomic
def matrix_entry_add(*, rule_set_id: int, actor: Any, data: MatrixEntryInput) -> MatrixEntry:
    """Add a cell to the draft's approval matrix (used by ``matrix`` steps)."""
    from org.models import Department, Employee
    from reimbursement.models import ExpenseCategory

    rule_set = _locked_draft(rule_set_id)
    errors: dict[str, list[str]] = {}
    department = Department.objects.filter(pk=data.department_id).first()
    if department is None:
        errors["department"] = [_("Choose a department.")]
    approver = Employee.objects.filter(pk=data.approver_id, active=True).first()
    if approver is None:
        errors["approver"] = [_("Name an active person.")]
    category = None
    if data.category_id is not None:
        category = ExpenseCategory.objects.filter(pk=data.category_id).first()
        if category is None:
            errors["category"] = [_("That category no longer exists.")]
    _check_amount_band(errors, data.amount_min, data.amount_max, high_field="amount_max")
    _refuse(errors)
    entry = MatrixEntry.objects.create(
        rule_set=rule_set,
        department=department,
        category=category,
        amount_min=data.amount_min,
        amount_max=data.amount_max,
        approver=approver,
    )
    audit_record(
        action="rule_set.matrix_entry_added",
        target=rule_set,
        actor=actor,
        data={"entry_id": entry.pk, **_entry_snapshot(entry)},
    )
    return entry


def _entry_snapshot(entry: MatrixEntry) -> dict[str, Any]:
    return {
        "department": entry.department.name,
        "category": entry.category.code if entry.category_id else None,
        "amount_min": str(entry.amount_min) if entry.amount_min is not None else None,
        "amount_max": str(entry.amount_max) if entry.amount_max is not None else None,
        "approver": entry.approver.name,
    }


@transaction.atomic
def matrix_entry_remove(*, entry_id: int, actor: Any) -> None:
    """Remove a cell from the draft's approval matrix."""
    rule_set_id = MatrixEntry.objects.filter(pk=entry_id).values_list("rule_set_id", flat=True).first()
    if rule_set_id is None:
        raise NotFoundError(_("That matrix entry does not exist (any more)."))
    rule_set = _locked_draft(rule_set_id)
    entry = MatrixEntry.objects.select_related("department", "category", "approver").get(pk=entry_id)
    snapshot = _entry_snapshot(entry)
    entry.delete()
    audit_record(
        action="rule_set.matrix_entry_removed", target=rule_set, actor=actor, data={"entry_id": entry_id, **snapshot}
    )


@transaction.atomic
def rule_set_set_fallback(*, rule_set_id: int, actor: Any, approver_id: int | None) -> RuleSet:
    """Name who decides when a rule resolves to nobody or no rule matches (None clears it)."""
    from org.models import Employee

    rule_set = _locked_draft(rule_set_id)
    approver = None
    if approver_id is not None:
        approver = Employee.objects.filter(pk=approver_id, active=True).first()
        if approver is None:
            raise ApplicationError(
                _("Name an active person."), code="invalid", fields={"approver": [_("Name an active person.")]}
            )
    if rule_set.fallback_approver_id == approver_id:
        return rule_set
    before = rule_set.fallback_approver.name if rule_set.fallback_approver_id else None
    rule_set.fallback_approver = approver
    rule_set.save(update_fields=["fallback_approver"])
    audit_record(
        action="rule_set.fallback_set",
        target=rule_set,
        actor=actor,
        data={"changes": {"fallback_approver": [before, approver.name if approver else None]}},
    )
    return rule_set
