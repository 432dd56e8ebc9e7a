"""A routing rule set's life: a draft copied from the live version, checked, published. The draft
editor's writes are in approvals.services.rule_editor."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.choices import RuleSetStatus, StepKind
from approvals.models import MatrixEntry, RoutingRule, RoutingStep, RuleSet
from audit.services import audit_record
from config.errors import ApplicationError


@transaction.atomic
def rule_set_draft(*, actor: Any) -> RuleSet:
    """The draft to edit: the existing one, or a copy of the published set under the next version."""
    draft = RuleSet.objects.select_for_update().filter(status=RuleSetStatus.DRAFT).first()
    if draft:
        return draft
    published = RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED).first()
    last = RuleSet.objects.order_by("-version").values_list("version", flat=True).first() or 0
    draft = RuleSet.objects.create(
        version=last + 1,
        status=RuleSetStatus.DRAFT,
        fallback_approver=published.fallback_approver if published else None,
    )
    if published:
        _copy_rules(published, draft)
    audit_record(
        action="rule_set.drafted",
        target=draft,
        actor=actor,
        data={"from_version": published.version if published else None},
    )
    return draft


def _copy_rules(source: RuleSet, target: RuleSet) -> None:
    for rule in source.rules.prefetch_related("departments", "categories", "steps").order_by("position", "id"):
        departments, categories, steps = (
            list(rule.departments.all()),
            list(rule.categories.all()),
            list(rule.steps.all()),
        )
        rule.pk, rule.rule_set = None, target
        rule.save()
        rule.departments.set(departments)
        rule.categories.set(categories)
        for step in steps:
            step.pk, step.rule = None, rule
            step.save()
    for entry in source.matrix.all():
        entry.pk, entry.rule_set = None, target
        entry.save()


def validate_rule_set(rule_set: RuleSet) -> list[str]:
    """Problems that would route claims to nobody: each one a sentence naming the rule and step."""
    problems = []
    has_matrix = MatrixEntry.objects.filter(rule_set=rule_set).exists()
    # Named approvers come with the steps, and each role is looked up once: the editor shows these
    # problems on every view, so the queries must not grow with the number of rules.
    rules = list(
        rule_set.rules.prefetch_related(
            Prefetch("steps", queryset=RoutingStep.objects.select_related("named_approver"))
        ).order_by("position", "id")
    )
    role_has_holders: dict[str, bool] = {}
    if not rules:
        problems.append(_("The rule set has no rules."))
    for rule in rules:
        steps = list(rule.steps.all())
        if not steps and rule.auto_approve_below is None:
            problems.append(_("Rule “%(r)s” has no steps.") % {"r": rule.name})
        if rule.amount_min is not None and rule.amount_max is not None and rule.amount_min >= rule.amount_max:
            problems.append(_("Rule “%(r)s”: the amount range is empty.") % {"r": rule.name})
        for step in steps:
            if step.kind == StepKind.NAMED and (step.named_approver is None or not step.named_approver.active):
                problems.append(_("Rule “%(r)s”, step “%(s)s”: name an active person.") % {"r": rule.name, "s": step})
            if step.kind == StepKind.ROLE:
                from django.contrib.auth.models import Group

                from org.models import Employee

                if step.role not in role_has_holders:
                    group = Group.objects.filter(name=step.role).first()
                    role_has_holders[step.role] = (
                        group is not None and Employee.objects.filter(user__groups=group, active=True).exists()
                    )
                if not role_has_holders[step.role]:
                    problems.append(
                        _("Rule “%(r)s”, step “%(s)s”: nobody active holds the role “%(role)s”.")
                        % {"r": rule.name, "s": step, "role": step.role}
                    )
            if step.kind == StepKind.MATRIX and not has_matrix:
                problems.append(
                    _("Rule “%(r)s”, step “%(s)s”: the approval matrix is empty.") % {"r": rule.name, "s": step}
                )
            if step.kind in (StepKind.MANAGER_LEVEL,) and step.levels < 1:
                problems.append(
                    _("Rule “%(r)s”, step “%(s)s”: levels must be 1 or more.") % {"r": rule.name, "s": step}
                )
    if rule_set.fallback_approver is None:
        problems.append(_("Name a fallback approver for claims that resolve to nobody."))
    return problems


@transaction.atomic
def rule_set_publish(*, rule_set_id: int, actor: Any) -> RuleSet:
    """Publish the draft: it routes every claim submitted from now on; the previous version retires."""
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set_id)
    if rule_set.status != RuleSetStatus.DRAFT:
        raise ApplicationError(_("Only a draft can be published."), code="not_draft")
    problems = validate_rule_set(rule_set)
    if problems:
        raise ApplicationError(
            _("The rule set cannot be published: %(p)s") % {"p": " ".join(problems)},
            code="rule_set_invalid",
            fields={"rules": problems},
        )
    RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED).update(status=RuleSetStatus.RETIRED)
    rule_set.status, rule_set.published_at, rule_set.published_by = RuleSetStatus.PUBLISHED, timezone.now(), actor
    rule_set.save(update_fields=["status", "published_at", "published_by"])
    audit_record(
        action="rule_set.published",
        target=rule_set,
        actor=actor,
        data={"version": rule_set.version, "rules": rule_set.rules.count()},
    )
    return rule_set


def rule_add(*, rule_set: RuleSet, name: str, steps: list[dict], **conditions) -> RoutingRule:
    """Append a rule with its steps to a draft (used by the rule editor, the API, the demo and tests)."""
    if rule_set.status != RuleSetStatus.DRAFT:
        raise ApplicationError(_("Published rule sets cannot change; edit the draft."), code="not_draft")
    departments = conditions.pop("departments", [])
    categories = conditions.pop("categories", [])
    position = conditions.pop("position", None)
    if position is None:
        position = (rule_set.rules.order_by("-position").values_list("position", flat=True).first() or 0) + 10
    rule = RoutingRule.objects.create(rule_set=rule_set, name=name, position=position, **conditions)
    rule.departments.set(departments)
    rule.categories.set(categories)
    for i, step in enumerate(steps, start=1):
        RoutingStep.objects.create(rule=rule, position=i, **step)
    return rule
