"""What the routing-rule pages share: who may see them, the reads they make, and HTMX answers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from approvals.choices import RuleSetStatus
from approvals.models import MatrixEntry, RoutingRule, RoutingStep, RuleSet
from approvals.rules_views.describe import decorate
from org.choices import Role
from org.selectors import user_roles


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in with the admin role; anyone else gets a 404 (the pages' existence is not advertised)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if Role.ADMIN not in user_roles(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def rule_sets_with_counts():
    return RuleSet.objects.select_related("fallback_approver", "published_by__employee").annotate(
        rule_count=Count("rules", distinct=True)
    )


def publisher_name(rule_set: RuleSet | None) -> str:
    """Who published the version, by name (the demo's and the seed's versions have nobody)."""
    user = rule_set.published_by if rule_set is not None else None
    if user is None:
        return ""
    employee = getattr(user, "employee", None)
    return employee.name if employee is not None else user.get_username()


def with_publishers(rule_sets: list[RuleSet]) -> list[RuleSet]:
    for rule_set in rule_sets:
        rule_set.publisher_name = publisher_name(rule_set)
    return rule_sets


def published() -> RuleSet | None:
    found = rule_sets_with_counts().filter(status=RuleSetStatus.PUBLISHED).first()
    return with_publishers([found])[0] if found else None


def draft() -> RuleSet | None:
    return rule_sets_with_counts().filter(status=RuleSetStatus.DRAFT).first()


def draft_or_redirect(request: HttpRequest) -> RuleSet | HttpResponse:
    rule_set = draft()
    if rule_set is None:
        return redirect("rules:index")
    return rule_set


def rules_of(rule_set: RuleSet) -> list[RoutingRule]:
    """The rule set's rules in order with departments, categories and steps, in words (four queries)."""
    rules = (
        RoutingRule.objects.filter(rule_set=rule_set)
        .prefetch_related(
            "departments",
            "categories",
            Prefetch("steps", queryset=RoutingStep.objects.select_related("named_approver")),
        )
        .order_by("position", "id")
    )
    return decorate(list(rules))


def rule_of(rule_set: RuleSet, rule_id: int) -> RoutingRule:
    """One rule of this rule set in words, or a 404."""
    rule = (
        RoutingRule.objects.filter(rule_set=rule_set, pk=rule_id)
        .prefetch_related(
            "departments",
            "categories",
            Prefetch("steps", queryset=RoutingStep.objects.select_related("named_approver")),
        )
        .first()
    )
    if rule is None:
        raise Http404
    return decorate([rule])[0]


def matrix_of(rule_set: RuleSet) -> list[MatrixEntry]:
    return list(
        MatrixEntry.objects.filter(rule_set=rule_set)
        .select_related("department", "category", "approver")
        .order_by("department__path", "category__sort_order", "amount_min", "id")
    )


def back_to_rule(rule_id: int | None = None) -> HttpResponse:
    """Where an editor action ends without HTMX: the editor, scrolled to the rule."""
    response = redirect("rules:draft")
    if rule_id:
        response["Location"] += f"#rule-{rule_id}"
    return response
