"""Rules and steps in words, for people who never see the fields: "amount 5,000.00 or more, in R&D"."""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from approvals.choices import StepKind, StepMode
from approvals.models import RoutingRule, RoutingStep
from org.choices import Role


def money(amount: Decimal) -> str:
    return number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)


def _either(names: list[str]) -> str:
    return _(" or ").join(names)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def rule_conditions(rule: RoutingRule) -> list[str]:
    """The rule's conditions, one phrase each; uses the prefetched departments and categories."""
    words = []
    low, high = rule.amount_min, rule.amount_max
    if low is not None and high is not None:
        words.append(_("amount from %(low)s to below %(high)s") % {"low": money(low), "high": money(high)})
    elif low is not None:
        words.append(_("amount %(low)s or more") % {"low": money(low)})
    elif high is not None:
        words.append(_("amount below %(high)s") % {"high": money(high)})
    departments = sorted(rule.departments.all(), key=lambda d: d.path)
    if departments:
        words.append(
            _("claimant in %(departments)s (or below)") % {"departments": _either([d.name for d in departments])}
        )
    categories = sorted(rule.categories.all(), key=lambda c: (c.sort_order, c.code))
    if categories:
        words.append(_("a line in %(categories)s") % {"categories": _either([c.name for c in categories])})
    if rule.cost_centres:
        words.append(_("cost centre %(codes)s") % {"codes": _either(_split(rule.cost_centres))})
    if rule.projects:
        words.append(_("project %(codes)s") % {"codes": _either(_split(rule.projects))})
    if rule.level_min is not None and rule.level_max is not None:
        words.append(_("claimant level %(low)d to %(high)d") % {"low": rule.level_min, "high": rule.level_max})
    elif rule.level_min is not None:
        words.append(_("claimant level %(low)d or above") % {"low": rule.level_min})
    elif rule.level_max is not None:
        words.append(_("claimant level %(high)d or below") % {"high": rule.level_max})
    return words or [_("every claim")]


def rule_extras(rule: RoutingRule) -> list[str]:
    """Auto-approval and the return policy, in words."""
    words = []
    if rule.auto_approve_below is not None:
        if rule.audit_sample_percent:
            words.append(
                _("Auto-approved below %(amount)s, except %(percent)d%% picked at random for the steps.")
                % {"amount": money(rule.auto_approve_below), "percent": rule.audit_sample_percent}
            )
        else:
            words.append(_("Auto-approved below %(amount)s.") % {"amount": money(rule.auto_approve_below)})
    words.append(rule.get_return_policy_display() + ".")
    return words


def step_approver(step: RoutingStep) -> str:
    """Whom the step asks, in words."""
    if step.kind == StepKind.DIRECT_MANAGER:
        return _("the claimant's direct manager")
    if step.kind == StepKind.MANAGER_LEVEL:
        return ngettext(
            "the manager %(n)d level above the claimant", "the manager %(n)d levels above the claimant", step.levels
        ) % {"n": step.levels}
    if step.kind == StepKind.DEPARTMENT_HEAD:
        if step.levels == 0:
            return _("the head of the claimant's department")
        return ngettext(
            "the head of the department %(n)d level above the claimant's",
            "the head of the department %(n)d levels above the claimant's",
            step.levels,
        ) % {"n": step.levels}
    if step.kind == StepKind.ROLE:
        role = dict(Role.choices).get(step.role, step.role)
        return _("everyone with the role “%(role)s”") % {"role": role}
    if step.kind == StepKind.NAMED:
        return step.named_approver.name if step.named_approver_id else _("a person (not chosen yet)")
    if step.kind == StepKind.MATRIX:
        return _("the approver the approval matrix names")
    return step.get_kind_display()


def step_terms(step: RoutingStep) -> str:
    """Any one or all, and the time allowed."""
    needs = _("any one approves") if step.mode == StepMode.ANY else _("all must approve")
    return _("%(needs)s, within %(hours)d h") % {"needs": needs, "hours": step.sla_hours}


def matches_every_claim(rule: RoutingRule) -> bool:
    """No condition at all: every claim that reaches the rule stops there (auto-approved or routed)."""
    return (
        rule.amount_min is None
        and rule.amount_max is None
        and rule.level_min is None
        and rule.level_max is None
        and not rule.cost_centres.strip()
        and not rule.projects.strip()
        and not rule.departments.all()
        and not rule.categories.all()
    )


def decorate(rules: list[RoutingRule]) -> list[RoutingRule]:
    """Attach the words to each rule and step (prefetched: no queries) for the templates, and mark the
    rules that come after one matching every claim: the first match wins, so they are never used."""
    catch_all = ""
    for rule in rules:
        rule.shadowed_by = catch_all
        if not catch_all and matches_every_claim(rule):
            catch_all = rule.name
        rule.conditions_in_words = rule_conditions(rule)
        rule.extras_in_words = rule_extras(rule)
        rule.step_list = sorted(rule.steps.all(), key=lambda s: (s.position, s.pk))
        for step in rule.step_list:
            step.approver_in_words = step_approver(step)
            step.terms_in_words = step_terms(step)
    return rules
