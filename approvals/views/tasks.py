"""One task: its claim previewed in the inbox, its page, and the decisions taken on it.

Each decision is a POST through one service. Answers:
- done: back to the inbox (or to the task, when it stays mine), with a message; HTMX gets HX-Redirect;
- refused (ApplicationError): the actions again with the message and the typed text, 400;
- too late (ConflictError: already decided, no longer pending): the page as it now is, with a clear
  message, 409 (HTMX swaps the whole page body, since the chain changed too);
- not mine: 404, as the services answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from approvals import forms
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from approvals.services import (
    claim_comment_add,
    task_add_approver,
    task_approve,
    task_cut_line,
    task_reject,
    task_return,
    task_transfer,
)
from approvals.views.common import claim_view, inbox_url, next_url, task_for
from config.errors import ApplicationError, ConflictError, NotFoundError

# The action panels of the task page, in the order they are shown.
ACTION_FORMS: dict[str, type[forms.BootstrapForm]] = {
    "approve": forms.ApproveForm,
    "return": forms.ReturnForm,
    "reject": forms.RejectForm,
    "cut": forms.CutLineForm,
    "transfer": forms.TransferForm,
    "add_approver": forms.AddApproverForm,
    "comment": forms.CommentForm,
}


def _task_url(task: ApprovalTask) -> str:
    return reverse("approvals:task", args=[task.pk])


def _forms(
    task: ApprovalTask, lines: list, actor_id: int | None, bound: dict[str, forms.BootstrapForm] | None = None
) -> dict[str, Any]:
    """One form per action; the one just posted keeps what was typed and its errors."""
    result: dict[str, Any] = {}
    for name, form_class in ACTION_FORMS.items():
        if bound and name in bound:
            result[name] = bound[name]
            continue
        result[name] = _new_form(form_class, task, lines, actor_id=actor_id, prefix=name)
    return result


def _new_form(
    form_class, task: ApprovalTask, lines: list, *, actor_id: int | None, data=None, prefix: str
) -> forms.BootstrapForm:
    kwargs: dict[str, Any] = {"prefix": prefix}
    if form_class is forms.CutLineForm:
        kwargs["lines"] = lines
    form = form_class(data, **kwargs)
    for field_name in ("to", "approver"):
        if field_name in form.fields:
            # Not the assignee, not a delegate acting for them, not the claimant: the services refuse those.
            forms.people_except(form.fields[field_name], task.assignee_id, actor_id, task.claim.claimant_id)
    return form


def _page_context(request: HttpRequest, task: ApprovalTask, **extra: Any) -> dict[str, Any]:
    context = claim_view(request.user, task.claim_id)
    employee = getattr(request.user, "employee", None)
    open_panel = extra.pop("open_panel", "")
    context.update(
        {
            "task": task,
            "can_act": task.status == TaskStatus.PENDING,
            "on_behalf": employee is not None and task.assignee_id != employee.pk,
            "forms": _forms(task, context["lines"], getattr(employee, "pk", None), extra.pop("bound", None)),
            "open_panel": open_panel,
        }
    )
    context.update(extra)
    return context


@login_required
def task_preview(request: HttpRequest, task_id: int) -> HttpResponse:
    """The claim of a task, for the inbox's side panel (desktop) or under its row (phone)."""
    task = task_for(request.user, task_id)
    context = claim_view(request.user, task.claim_id)
    context.update({"task": task, "can_act": task.status == TaskStatus.PENDING, "query": request.GET.urlencode()})
    return render(request, "approvals/partials/preview.html", context)


@login_required
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    """The claim with every action an approver has."""
    task = task_for(request.user, task_id)
    return render(request, "approvals/task.html", _page_context(request, task))


def _act(
    request: HttpRequest,
    task_id: int,
    name: str,
    perform: Callable[[ApprovalTask, dict[str, Any]], str],
) -> HttpResponse:
    """Run one decision: parse the form, call the service, answer as the module docstring says.

    ``perform`` calls the service and returns where to go next (the success message is its business).
    """
    task = task_for(request.user, task_id)
    lines = list(task.claim.lines.select_related("category").order_by("position", "id")) if name == "cut" else []
    actor_id = getattr(getattr(request.user, "employee", None), "pk", None)
    form = _new_form(ACTION_FORMS[name], task, lines, actor_id=actor_id, data=request.POST, prefix=name)
    status, error = 400, ""
    if form.is_valid():
        try:
            destination = perform(task, form.cleaned_data)
        except NotFoundError:
            raise Http404 from None
        except ConflictError as exc:
            status, error = exc.status, exc.message
            task.refresh_from_db()
        except ApplicationError as exc:
            status = exc.status
            form.show_errors(exc)  # beside the field it is about (or atop the form), not twice
        else:
            if request.htmx:
                return HttpResponseClientRedirect(destination)
            return redirect(destination)
    context = _page_context(request, task, bound={name: form} if status != 409 else None, open_panel=name)
    context["error"] = error
    if request.htmx and status != 409:
        return render(request, "approvals/partials/task_actions.html", context, status=status)
    response = render(request, "approvals/task.html", context, status=status)
    if request.htmx:
        # Someone decided first: the chain, the statuses and the menu's count changed too, so the
        # whole page body is replaced, not only the actions.
        response = reswap(retarget(response, "body"), "innerHTML")
    return response


def _decided_message(request: HttpRequest, task: ApprovalTask, text: str) -> None:
    messages.success(request, text % {"number": task.claim.number})


@login_required
@require_POST
def approve(request: HttpRequest, task_id: int) -> HttpResponse:
    def perform(task: ApprovalTask, data: dict[str, Any]) -> str:
        task_approve(task_id=task.pk, actor=request.user, comment=data["comment"])
        _decided_message(request, task, _("You approved %(number)s."))
        return next_url(request, inbox_url())

    return _act(request, task_id, "approve", perform)


@login_required
@require_POST
def reject(request: HttpRequest, task_id: int) -> HttpResponse:
    def perform(task: ApprovalTask, data: dict[str, Any]) -> str:
        task_reject(task_id=task.pk, actor=request.user, reason=data["reason"])
        _decided_message(request, task, _("You rejected %(number)s."))
        return inbox_url()

    return _act(request, task_id, "reject", perform)


@login_required
@require_POST
def return_claim(request: HttpRequest, task_id: int) -> HttpResponse:
    def perform(task: ApprovalTask, data: dict[str, Any]) -> str:
        task_return(task_id=task.pk, actor=request.user, reason=data["reason"])
        _decided_message(request, task, _("You returned %(number)s to the claimant."))
        return inbox_url()

    return _act(request, task_id, "return", perform)


@login_required
@require_POST
def transfer(request: HttpRequest, task_id: int) -> HttpResponse:
    def perform(task: ApprovalTask, data: dict[str, Any]) -> str:
        task_transfer(task_id=task.pk, actor=request.user, to=data["to"], comment=data["comment"])
        messages.success(
            request, _("%(number)s now waits for %(name)s.") % {"number": task.claim.number, "name": data["to"].name}
        )
        return inbox_url()

    return _act(request, task_id, "transfer", perform)


@login_required
@require_POST
def add_approver(request: HttpRequest, task_id: int) -> HttpResponse:
    def perform(task: ApprovalTask, data: dict[str, Any]) -> str:
        before = data["position"] == "before"
        task_add_approver(
            task_id=task.pk, actor=request.user, approver=data["approver"], before=before, comment=data["comment"]
        )
        values = {"number": task.claim.number, "name": data["approver"].name}
        if before:
            # My task waits until they decide: it leaves my inbox until then.
            messages.success(request, _("%(name)s decides on %(number)s first; then it comes back to you.") % values)
            return inbox_url()
        messages.success(request, _("%(name)s will approve %(number)s after you.") % values)
        return _task_url(task)

    return _act(request, task_id, "add_approver", perform)


@login_required
@require_POST
def cut_line(request: HttpRequest, task_id: int) -> HttpResponse:
    def perform(task: ApprovalTask, data: dict[str, Any]) -> str:
        line = task_cut_line(
            task_id=task.pk, actor=request.user, line_id=data["line"], amount=data["amount"], reason=data["reason"]
        )
        messages.success(
            request,
            _("The line now counts for %(amount)s %(currency)s.")
            % {"amount": line.approved_amount, "currency": task.claim.base_currency},
        )
        return _task_url(task)

    return _act(request, task_id, "cut", perform)


@login_required
@require_POST
def comment(request: HttpRequest, task_id: int) -> HttpResponse:
    def perform(task: ApprovalTask, data: dict[str, Any]) -> str:
        claim_comment_add(claim_id=task.claim_id, actor=request.user, text=data["text"])
        messages.success(request, _("Your comment was added."))
        return _task_url(task) + "#comments"

    return _act(request, task_id, "comment", perform)
