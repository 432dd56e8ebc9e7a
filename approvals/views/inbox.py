"""The approver's inbox (pending tasks, own and delegated), bulk approval, and the history of decisions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from approvals.forms import BulkApproveForm, InboxFilterSet
from approvals.models import ApprovalTask
from approvals.selectors import active_delegations_to, inbox_tasks, task_history
from approvals.services import tasks_bulk_approve
from approvals.views.common import inbox_url, next_url
from reimbursement.models import ClaimLine, PolicyWarning
from reimbursement.selectors import claims_visible_to

INBOX_PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 25


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """My pending tasks and those delegated to me, filtered and sorted, 50 to a page.

    A fixed number of queries whatever the size: the page of tasks with claim, claimant, department,
    assignee and step joined, one more for the lines' categories, and an EXISTS for policy warnings.
    """
    employee = getattr(request.user, "employee", None)
    warnings = PolicyWarning.objects.filter(
        claim_id=OuterRef("claim_id"), submission=OuterRef("claim__submission_count")
    )
    tasks = inbox_tasks(request.user).annotate(has_warnings=Exists(warnings))
    filterset = InboxFilterSet(request.GET or None, queryset=tasks)
    tasks = filterset.qs.prefetch_related(
        Prefetch("claim__lines", queryset=ClaimLine.objects.select_related("category").order_by("position", "id"))
    )
    page = Paginator(tasks, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = list(page.object_list)
    for task in rows:
        task.categories = sorted({line.category.name for line in task.claim.lines.all()})
        task.on_behalf = employee is not None and task.assignee_id != employee.pk
        task.overdue = task.due_at is not None and task.due_at < now
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "tasks": rows,
        "filterset": filterset,
        "filter_form": filterset.form,
        "filtered": filterset.is_filtered,
        "query": query.urlencode(),
        "delegations": active_delegations_to(employee) if employee is not None else [],
        "tab": "inbox",
    }
    return render(request, "approvals/inbox.html", context)


@login_required
@require_POST
def bulk_approve(request: HttpRequest) -> HttpResponse:
    """Approve the ticked tasks one by one (each in its own transaction) and say what each refusal was."""
    back = next_url(request, inbox_url())
    form = BulkApproveForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    task_ids = form.cleaned_data["task"]
    results = tasks_bulk_approve(task_ids=task_ids, actor=request.user, comment=form.cleaned_data["comment"])
    # Name each claim by its number, for the tasks on claims this person may see; others stay "#id".
    numbers = dict(
        ApprovalTask.objects.filter(pk__in=task_ids, claim__in=claims_visible_to(request.user)).values_list(
            "pk", "claim__number"
        )
    )
    approved = [r for r in results if r.ok]
    if approved:
        messages.success(
            request,
            ngettext("%(n)d claim approved: %(numbers)s.", "%(n)d claims approved: %(numbers)s.", len(approved))
            % {"n": len(approved), "numbers": ", ".join(numbers.get(r.task_id) or f"#{r.task_id}" for r in approved)},
        )
    for result in results:
        if not result.ok:
            messages.error(
                request,
                _("%(number)s was not approved: %(message)s")
                % {"number": numbers.get(result.task_id) or f"#{result.task_id}", "message": result.message},
            )
    return redirect(back)


@login_required
def history(request: HttpRequest) -> HttpResponse:
    """Tasks I decided or transferred (or that were decided on my behalf), newest first."""
    page = Paginator(task_history(request.user).select_related("assignee"), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    employee = getattr(request.user, "employee", None)
    rows = list(page.object_list)
    for task in rows:
        task.mine = employee is not None and task.assignee_id == employee.pk
    return render(request, "approvals/history.html", {"page": page, "tasks": rows, "tab": "history"})
