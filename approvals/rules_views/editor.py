"""Writes of the draft editor: rules, their steps (in place with HTMX), the fallback approver, the matrix.

Every write goes through approvals.services.rule_editor, which refuses anything but a draft. Without HTMX
(no script) each form posts normally and lands back on the editor at its rule.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from approvals.models import MatrixEntry, RoutingRule, RoutingStep
from approvals.rules_forms import FallbackForm, MatrixEntryForm, RuleForm, StepForm, people_for_picker
from approvals.rules_views.common import admin_required, back_to_rule, draft_or_redirect, matrix_of, rule_of
from approvals.services.rule_editor import (
    matrix_entry_add,
    matrix_entry_remove,
    rule_create,
    rule_delete,
    rule_move,
    rule_set_set_fallback,
    rule_update,
    step_add,
    step_move,
    step_remove,
    step_update,
)
from config.errors import ApplicationError


def _refused(request: HttpRequest, exc: ApplicationError, rule_id: int | None = None) -> HttpResponse:
    """A refused write: say why on the page it lands on (the overview when the draft is gone)."""
    messages.error(request, exc.message)
    response = redirect("rules:index") if exc.code == "not_draft" else back_to_rule(rule_id)
    if request.htmx:
        # A redirect would be followed inside the swap target; have htmx load the page instead.
        location = response["Location"]
        response = HttpResponse(status=204)
        response["HX-Redirect"] = location
    return response


# --- Rules --------------------------------------------------------------------------------------------


@admin_required
def rule_new(request: HttpRequest) -> HttpResponse:
    """A new rule's name and conditions; its steps are added on the editor afterwards."""
    rule_set = draft_or_redirect(request)
    if isinstance(rule_set, HttpResponse):
        return rule_set
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rule = rule_create(rule_set_id=rule_set.pk, actor=request.user, data=form.rule_input())
        except ApplicationError as exc:
            if exc.code == "not_draft":
                return _refused(request, exc)
            form.show_errors(exc)
        else:
            messages.success(request, _("Rule “%(r)s” added. Now add its steps.") % {"r": rule.name})
            return back_to_rule(rule.pk)
    return render(request, "approvals/rules/rule_form.html", {"form": form, "draft": rule_set, "rule": None})


@admin_required
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Change a rule's name and conditions. Rules of a published version cannot change."""
    rule = RoutingRule.objects.select_related("rule_set").filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            try:
                rule_update(rule_id=rule.pk, actor=request.user, data=form.rule_input())
            except ApplicationError as exc:
                if exc.code in ("not_draft", "not_found"):
                    return _refused(request, exc)
                form.show_errors(exc)
            else:
                messages.success(request, _("Rule “%(r)s” saved.") % {"r": form.cleaned_data["name"]})
                return back_to_rule(rule.pk)
    elif rule.rule_set.status != "draft":
        messages.error(request, _("Published rule sets cannot change; edit the draft."))
        return redirect("rules:index")
    else:
        form = RuleForm(initial=RuleForm.initial_from(rule))
    return render(request, "approvals/rules/rule_form.html", {"form": form, "draft": rule.rule_set, "rule": rule})


@admin_required
@require_POST
def rule_delete_view(request: HttpRequest, rule_id: int) -> HttpResponse:
    name = RoutingRule.objects.filter(pk=rule_id).values_list("name", flat=True).first()
    try:
        rule_delete(rule_id=rule_id, actor=request.user)
    except ApplicationError as exc:
        return _refused(request, exc)
    messages.success(request, _("Rule “%(r)s” deleted.") % {"r": name})
    return back_to_rule()


@admin_required
@require_POST
def rule_move_view(request: HttpRequest, rule_id: int) -> HttpResponse:
    try:
        rule_move(rule_id=rule_id, actor=request.user, direction=request.POST.get("direction", ""))
    except ApplicationError as exc:
        return _refused(request, exc, rule_id)
    return back_to_rule(rule_id)


# --- Steps (HTMX answers with the rule's step block) ----------------------------------------------------


def _steps_block(request: HttpRequest, rule_id: int, *, new_form=None, editing=None, status: int = 200):
    rule_set = draft_or_redirect(request)
    if isinstance(rule_set, HttpResponse):
        raise Http404
    rule = rule_of(rule_set, rule_id)
    rule.new_step_form = new_form or StepForm(prefix=f"new-{rule.pk}")
    for step in rule.step_list:
        step.edit_form = (editing or {}).get(step.pk)
    context = {"rule": rule, "editable": True}
    return render(request, "approvals/rules/partials/steps.html", context, status=status)


def _rule_id_of_step(step_id: int) -> int:
    rule_id = RoutingStep.objects.filter(pk=step_id).values_list("rule_id", flat=True).first()
    if rule_id is None:
        raise Http404
    return rule_id


@admin_required
def step_add_view(request: HttpRequest, rule_id: int) -> HttpResponse:
    """GET: the rule's steps (to cancel an edit); POST: append a step."""
    if request.method != "POST":
        if not request.htmx:
            return back_to_rule(rule_id)
        return _steps_block(request, rule_id)
    form = StepForm(request.POST, prefix=f"new-{rule_id}")
    if form.is_valid():
        try:
            step_add(rule_id=rule_id, actor=request.user, data=form.step_input())
        except ApplicationError as exc:
            if exc.code in ("not_draft", "not_found"):
                return _refused(request, exc, rule_id)
            form.show_errors(exc)
        else:
            if not request.htmx:
                return back_to_rule(rule_id)
            return _steps_block(request, rule_id)
    if not request.htmx:
        return _step_page(request, rule_id, form, step=None)
    return _steps_block(request, rule_id, new_form=form)


def _step_page(request: HttpRequest, rule_id: int, form: StepForm, step: RoutingStep | None) -> HttpResponse:
    """The step form on a page of its own: for browsers without script, and to show its errors."""
    rule_set = draft_or_redirect(request)
    if isinstance(rule_set, HttpResponse):
        return rule_set
    rule = rule_of(rule_set, rule_id)
    context = {"form": form, "rule": rule, "step": step, "draft": rule_set, "people": people_for_picker()}
    return render(request, "approvals/rules/step_form.html", context)


@admin_required
def step_edit_view(request: HttpRequest, step_id: int) -> HttpResponse:
    """GET: the step as a form in its row; POST: save it."""
    step = RoutingStep.objects.select_related("rule__rule_set", "named_approver").filter(pk=step_id).first()
    if step is None:
        raise Http404
    prefix = f"step-{step.pk}"
    if request.method != "POST":
        if step.rule.rule_set.status != "draft":
            refusal = ApplicationError(_("Published rule sets cannot change; edit the draft."), code="not_draft")
            return _refused(request, refusal)
        form = StepForm(initial=StepForm.initial_from(step), prefix=prefix)
        if not request.htmx:
            return _step_page(request, step.rule_id, form, step)
        return _steps_block(request, step.rule_id, editing={step.pk: form})
    form = StepForm(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            step_update(step_id=step.pk, actor=request.user, data=form.step_input())
        except ApplicationError as exc:
            if exc.code in ("not_draft", "not_found"):
                return _refused(request, exc, step.rule_id)
            form.show_errors(exc)
        else:
            if not request.htmx:
                return back_to_rule(step.rule_id)
            return _steps_block(request, step.rule_id)
    if not request.htmx:
        return _step_page(request, step.rule_id, form, step)
    return _steps_block(request, step.rule_id, editing={step.pk: form})


@admin_required
@require_POST
def step_remove_view(request: HttpRequest, step_id: int) -> HttpResponse:
    rule_id = _rule_id_of_step(step_id)
    try:
        step_remove(step_id=step_id, actor=request.user)
    except ApplicationError as exc:
        return _refused(request, exc, rule_id)
    return _steps_block(request, rule_id) if request.htmx else back_to_rule(rule_id)


@admin_required
@require_POST
def step_move_view(request: HttpRequest, step_id: int) -> HttpResponse:
    rule_id = _rule_id_of_step(step_id)
    try:
        step_move(step_id=step_id, actor=request.user, direction=request.POST.get("direction", ""))
    except ApplicationError as exc:
        return _refused(request, exc, rule_id)
    return _steps_block(request, rule_id) if request.htmx else back_to_rule(rule_id)


# --- The rule set: fallback approver and approval matrix -------------------------------------------------


@admin_required
@require_POST
def fallback_view(request: HttpRequest) -> HttpResponse:
    rule_set = draft_or_redirect(request)
    if isinstance(rule_set, HttpResponse):
        return rule_set
    form = FallbackForm(request.POST, prefix="fallback")
    if not form.is_valid():
        for error in form.errors.get("approver", []):
            messages.error(request, error)
        return back_to_rule()
    person = form.cleaned_data.get("approver")
    try:
        rule_set_set_fallback(rule_set_id=rule_set.pk, actor=request.user, approver_id=person.pk if person else None)
    except ApplicationError as exc:
        return _refused(request, exc)
    if person:
        messages.success(request, _("%(p)s is the fallback approver.") % {"p": person.name})
    else:
        messages.warning(request, _("No fallback approver: publishing needs one."))
    return back_to_rule()


@admin_required
def matrix_view(request: HttpRequest) -> HttpResponse:
    """The draft's approval matrix: department × category × amount band → approver."""
    rule_set = draft_or_redirect(request)
    if isinstance(rule_set, HttpResponse):
        return rule_set
    form = MatrixEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            matrix_entry_add(rule_set_id=rule_set.pk, actor=request.user, data=form.entry_input())
        except ApplicationError as exc:
            if exc.code == "not_draft":
                return _refused(request, exc)
            form.show_errors(exc)
        else:
            messages.success(request, _("Matrix entry added."))
            return redirect("rules:matrix")
    context = {"draft": rule_set, "entries": matrix_of(rule_set), "form": form, "people": people_for_picker()}
    return render(request, "approvals/rules/matrix.html", context)


@admin_required
@require_POST
def matrix_remove_view(request: HttpRequest, entry_id: int) -> HttpResponse:
    if not MatrixEntry.objects.filter(pk=entry_id).exists():
        raise Http404
    try:
        matrix_entry_remove(entry_id=entry_id, actor=request.user)
    except ApplicationError as exc:
        return _refused(request, exc)
    messages.success(request, _("Matrix entry removed."))
    return redirect("rules:matrix")
