"""The rule sets overview, one version read-only, the draft editor page, starting a draft and publishing."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from approvals.choices import RuleSetStatus
from approvals.rules_forms import FallbackForm, StepForm, people_for_picker
from approvals.rules_views.common import (
    admin_required,
    draft,
    draft_or_redirect,
    matrix_of,
    published,
    publisher_name,
    rule_sets_with_counts,
    rules_of,
    with_publishers,
)
from approvals.services.rules import rule_set_draft, rule_set_publish, validate_rule_set
from config.errors import ApplicationError


@admin_required
def index(request: HttpRequest) -> HttpResponse:
    """The published rules in words, the draft (if any) and every earlier version: a fixed number of queries."""
    current = published()
    versions = rule_sets_with_counts().filter(status__in=[RuleSetStatus.PUBLISHED, RuleSetStatus.RETIRED])
    history = with_publishers(list(versions.order_by("-version")))
    context = {
        "published": current,
        "rules": rules_of(current) if current else [],
        "matrix": matrix_of(current) if current else [],
        "draft": draft(),
        "history": history,
    }
    return render(request, "approvals/rules/index.html", context)


@admin_required
def version_detail(request: HttpRequest, version: int) -> HttpResponse:
    """One version as it was published (or the draft, read-only)."""
    rule_set = get_object_or_404(rule_sets_with_counts(), version=version)
    rule_set.publisher_name = publisher_name(rule_set)
    context = {"rule_set": rule_set, "rules": rules_of(rule_set), "matrix": matrix_of(rule_set)}
    return render(request, "approvals/rules/version.html", context)


@admin_required
@require_POST
def draft_start(request: HttpRequest) -> HttpResponse:
    """Open the draft: the existing one, or a copy of the published rules under the next version number."""
    rule_set = rule_set_draft(actor=request.user)
    messages.success(request, _("Draft v%(v)d is open for editing.") % {"v": rule_set.version})
    return redirect("rules:draft")


def editor_context(rule_set, **extra) -> dict:
    rules = rules_of(rule_set)
    for rule in rules:
        rule.new_step_form = StepForm(prefix=f"new-{rule.pk}")
    fallback = FallbackForm(initial={"approver": rule_set.fallback_approver}, prefix="fallback")
    return {
        "draft": rule_set,
        "rules": rules,
        "matrix_count": rule_set.matrix.count(),
        "fallback_form": fallback,
        "problems": validate_rule_set(rule_set),
        "people": people_for_picker(),
        **extra,
    }


@admin_required
def editor(request: HttpRequest) -> HttpResponse:
    """The draft: its rules with their steps, the fallback approver, and what publishing would say."""
    rule_set = draft_or_redirect(request)
    if isinstance(rule_set, HttpResponse):
        messages.info(request, _("There is no draft. Start one from the published rules."))
        return rule_set
    return render(request, "approvals/rules/editor.html", editor_context(rule_set))


@admin_required
@require_POST
def publish(request: HttpRequest) -> HttpResponse:
    """Publish the draft. Problems are listed on the editor and nothing changes."""
    rule_set = draft()
    if rule_set is None:
        messages.error(request, _("There is no draft to publish."))
        return redirect("rules:index")
    try:
        rule_set_publish(rule_set_id=rule_set.pk, actor=request.user)
    except ApplicationError as exc:
        problems = exc.fields.get("rules") or [exc.message]
        context = editor_context(rule_set, publish_refused=True, problems=problems)
        return render(request, "approvals/rules/editor.html", context, status=400)
    messages.success(
        request,
        _(
            "Version %(v)d is published: claims submitted from now on are routed with it. "
            "Claims already in approval keep the rules they were routed with."
        )
        % {"v": rule_set.version},
    )
    return redirect("rules:index")
