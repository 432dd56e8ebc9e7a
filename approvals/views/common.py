"""Helpers shared by the approver pages: the task a person may open, the claim as an approver sees it,
and where to go next.

The few reads here that have no selector yet (a task by id for its page, a person's delegations and
notifications) are written the selector way (one query, related rows joined) and belong in
approvals/selectors.py once that module is open for edits again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from approvals.choices import TaskStatus
from approvals.models import ApprovalTask, Delegation, Notification
from approvals.selectors import claim_flows, inbox_tasks
from reimbursement.choices import InvoiceKind
from reimbursement.models import Claim, ClaimLine
from reimbursement.selectors import active_categories, claim_detail

TASK_RELATED = ("claim", "claim__claimant", "claim__claimant__department", "assignee", "step")


def task_for(user: Any, task_id: int) -> ApprovalTask:
    """A task the user may open: pending for them (their own or delegated to them), or assigned to or
    decided by them in any state (so the page still answers after someone else decided). Else 404."""
    task = inbox_tasks(user).filter(pk=task_id).first()
    if task is not None:
        return task
    employee = getattr(user, "employee", None)
    if employee is None:
        raise Http404
    task = (
        ApprovalTask.objects.filter(Q(assignee=employee) | Q(decided_by=user), pk=task_id)
        .select_related(*TASK_RELATED)
        .first()
    )
    if task is None:
        raise Http404
    return task


def delegations_of(employee: Any) -> tuple[list[Delegation], list[Delegation]]:
    """The delegations an employee gave and received, newest first, each with its categories."""
    base = Delegation.objects.select_related("delegator", "delegate").prefetch_related("categories")
    given = list(base.filter(delegator=employee).order_by("-active", "-starts_on", "-id"))
    received = list(base.filter(delegate=employee).order_by("-active", "-starts_on", "-id"))
    return given, received


def notifications_of(user: Any) -> QuerySet[Notification]:
    """The user's notification centre, newest first."""
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")


def pending_task_count(user: Any) -> int:
    """What ``selectors.pending_count`` answers, in a single COUNT query (for the menu on every page).

    The selector first loads the delegations in force, then counts; here both are one statement: my
    pending tasks, plus those of people whose delegation to me runs today and either covers every
    category or a category the claim has a line in. tests/approvals/test_pages.py holds them equal.
    """
    today = timezone.localdate()
    claim_categories = ClaimLine.objects.filter(claim_id=OuterRef(OuterRef("claim_id"))).values("category_id")
    delegated = Delegation.objects.filter(
        delegator_id=OuterRef("assignee_id"),
        delegate__user=user,
        active=True,
        starts_on__lte=today,
        ends_on__gte=today,
    ).filter(Q(categories__isnull=True) | Q(categories__in=claim_categories))
    return ApprovalTask.objects.filter(Q(assignee__user=user) | Q(Exists(delegated)), status=TaskStatus.PENDING).count()


def unread_notification_count(user: Any) -> int:
    """One COUNT query (the index on recipient, read_at serves it)."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def next_url(request: HttpRequest, default: str) -> str:
    """A ``next`` the form carried, when it points back into this site; otherwise ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def inbox_url() -> str:
    return reverse("approvals:inbox")


# --- The claim as an approver sees it ---------------------------------------------------------------

FIELD_LABELS = {
    "purpose": gettext_lazy("Purpose"),
    "cost_centre": gettext_lazy("Cost centre"),
    "project": gettext_lazy("Project"),
    "total_amount": gettext_lazy("Total"),
    "date": gettext_lazy("Date"),
    "category": gettext_lazy("Category"),
    "description": gettext_lazy("Description"),
    "merchant": gettext_lazy("Merchant"),
    "amount": gettext_lazy("Amount"),
    "currency": gettext_lazy("Currency"),
    "fx_rate": gettext_lazy("Exchange rate"),
    "base_amount": gettext_lazy("Amount in base currency"),
    "tax_amount": gettext_lazy("Tax"),
    "invoice_kind": gettext_lazy("Invoice kind"),
    "invoice_code": gettext_lazy("Invoice code"),
    "invoice_number": gettext_lazy("Invoice number"),
    "attachments": gettext_lazy("Receipts"),
}


@dataclass
class Change:
    """One line of "what changed since the last submission"."""

    what: str
    before: str = ""
    after: str = ""
    kind: str = "changed"  # changed | added | removed


def describe_changes(claim: Claim, lines: list) -> list[Change]:
    """The stored diff of the last resubmission (claim.changes_since_last_submission) as readable rows."""
    diff = claim.changes_since_last_submission or []
    if not diff:
        return []
    categories = {c.code: c.name for c in active_categories()}
    categories.update({line.category.code: line.category.name for line in lines})
    numbers = {line.pk: number for number, line in enumerate(lines, 1)}

    def value(field: str, raw: Any) -> str:
        if raw is None or raw == "":
            return "—"
        if field == "category":
            return categories.get(raw, raw)
        if field == "invoice_kind":
            return str(InvoiceKind(raw).label) if raw in InvoiceKind.values else raw
        if field == "attachments":
            return _("%(n)d files") % {"n": len(raw)}
        return str(raw)

    def summary(line: dict[str, Any]) -> str:
        parts = [
            line.get("date", ""),
            categories.get(line.get("category", ""), line.get("category", "")),
            f"{line.get('amount', '')} {line.get('currency', '')}".strip(),
            line.get("description", ""),
        ]
        return " · ".join(str(p) for p in parts if p)

    # A line in the base currency has its base amount change with its amount: say it once.
    amount_changes = {
        (item.get("line"), str(item.get("before")), str(item.get("after")))
        for item in diff
        if item.get("kind") == "line" and item.get("field") == "amount"
    }
    changes = []
    for item in diff:
        if item.get("field") == "base_amount" and (
            (item.get("line"), str(item.get("before")), str(item.get("after"))) in amount_changes
        ):
            continue
        kind, field = item.get("kind"), item.get("field", "")
        label = str(FIELD_LABELS.get(field, field))
        if kind == "claim":
            changes.append(Change(label, value(field, item.get("before")), value(field, item.get("after"))))
        elif kind == "line":
            what = _("Line %(n)s: %(field)s") % {"n": numbers.get(item.get("line"), "?"), "field": label}
            changes.append(Change(what, value(field, item.get("before")), value(field, item.get("after"))))
        elif kind == "line_added":
            what = _("Line %(n)s added") % {"n": numbers.get(item.get("line"), "?")}
            changes.append(Change(what, after=summary(item.get("after") or {}), kind="added"))
        elif kind == "line_removed":
            changes.append(Change(_("Line removed"), before=summary(item.get("before") or {}), kind="removed"))
    return changes


def claim_view(user: Any, claim_id: int) -> dict[str, Any]:
    """Everything the preview and the task page show about a claim, in a fixed number of queries:
    the claim with lines, files and warnings (4), its chain (3), its comments (1)."""
    try:
        claim = claim_detail(user, claim_id)
    except Claim.DoesNotExist:
        raise Http404 from None
    lines = list(claim.lines.all())
    current = [w for w in claim.policy_warnings.all() if w.submission == claim.submission_count]
    flows = claim_flows(claim)
    return {
        "claim": claim,
        "lines": lines,
        "warnings": current,
        "changes": describe_changes(claim, lines),
        "flows": flows,
        "comments": list(claim.comments.all()),
        "has_cuts": any(line.approved_amount is not None for line in lines),
        "foreign": any(line.currency != claim.base_currency for line in lines),
    }
