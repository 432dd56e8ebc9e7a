"""Delegation: an approver names someone to act on their tasks while they are away."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from approvals.forms import DelegationForm
from approvals.services import delegation_create, delegation_end
from approvals.views.common import delegations_of
from config.errors import ApplicationError, NotFoundError


@login_required
def delegation(request: HttpRequest) -> HttpResponse:
    """Create a delegation; list those I gave and those I received."""
    employee = getattr(request.user, "employee", None)
    if employee is None:
        raise Http404
    form = DelegationForm(request.POST or None, employee_id=employee.pk)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = delegation_create(
                    actor=request.user,
                    delegate=data["delegate"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    category_ids=[c.pk for c in data["categories"]],
                )
            except ApplicationError as exc:
                form.show_errors(exc)
            else:
                messages.success(
                    request,
                    _("%(name)s can act on your tasks from %(start)s until %(end)s.")
                    % {"name": created.delegate.name, "start": created.starts_on, "end": created.ends_on},
                )
                return redirect("approvals:delegation")
    given, received = delegations_of(employee)
    context = {
        "form": form,
        "given": given,
        "received": received,
        "today": timezone.localdate(),
        "tab": "delegation",
    }
    return render(request, "approvals/delegation.html", context, status=status)


@login_required
@require_POST
def delegation_stop(request: HttpRequest, delegation_id: int) -> HttpResponse:
    """End one of my delegations now."""
    try:
        ended = delegation_end(delegation_id=delegation_id, actor=request.user)
    except NotFoundError:
        raise Http404 from None
    messages.success(request, _("%(name)s no longer acts on your tasks.") % {"name": ended.delegate.name})
    return redirect("approvals:delegation")
