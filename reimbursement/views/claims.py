"""The employee's claim pages: the list, a claim's header, the pre-flight check, detail, print and the
state changes the claimant makes (submit, withdraw, delete)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.errors import ApplicationError, ConflictError, NotFoundError
from org.selectors import employee_for_user
from reimbursement.choices import ClaimStatus
from reimbursement.errors import JustificationMissing
from reimbursement.filtersets import ClaimFilterSet
from reimbursement.forms import SORT_CHOICES, STATUS_CHOICES, ClaimHeaderForm, LineForm, WithdrawForm
from reimbursement.models import Claim
from reimbursement.policy import BLOCK, WARN, evaluate_claim
from reimbursement.selectors import my_claims
from reimbursement.services import claim_create, claim_delete, claim_submit, claim_update, claim_withdraw
from reimbursement.views.changes import describe_changes
from reimbursement.views.common import is_owner, own_claim, visible_claim
from reimbursement.views.pack import claim_audit_timeline, may_download_pack

PAGE_SIZE = 25
FILTER_KEYS = ("status", "created_from", "created_to", "amount_min", "amount_max", "q")


@login_required
def claim_list(request: HttpRequest) -> HttpResponse:
    """My claims, filtered by the same FilterSet as the API, 25 to a page, in a fixed number of queries."""
    filterset = ClaimFilterSet(request.GET or None, queryset=my_claims(request.user))
    claims = filterset.qs
    # my_claims groups by claim (its line count), and Django drops Meta.ordering from grouped queries:
    # order here, newest first by default, with the id as tie-breaker so pages never overlap.
    claims = claims.order_by(*(claims.query.order_by or ["-created_at"]), "-id")
    page = Paginator(claims, PAGE_SIZE).get_page(request.GET.get("page"))
    # Sums per currency over every matching claim (not only this page); a sub-select avoids the
    # line-count join of my_claims multiplying the amounts.
    totals = (
        Claim.objects.filter(pk__in=claims.values("pk"))
        .values("base_currency")
        .annotate(total=Sum("total_amount"), count=Count("id"))
        .order_by("base_currency")
        if page.paginator.count
        else []
    )
    form = filterset.form
    context = {
        "page": page,
        "claims": page.object_list,
        "totals": totals,
        "filter_form": form,
        "filtered": any(request.GET.get(key) for key in FILTER_KEYS),
        "selected_statuses": request.GET.getlist("status"),
        "status_choices": STATUS_CHOICES,
        "sort_choices": SORT_CHOICES,
        "sort": request.GET.get("ordering", ""),
    }
    return render(request, "reimbursement/claim_list.html", context)


@login_required
def claim_new(request: HttpRequest) -> HttpResponse:
    """Start a draft: its header first, then the edit page takes the lines."""
    employee = employee_for_user(request.user)
    if employee is None:
        messages.error(request, _("Your account has no employee record, so it cannot make claims."))
        return redirect("reimbursement:my_claims")
    form = ClaimHeaderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            claim = claim_create(claimant=employee, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.show_errors(exc)
        else:
            messages.success(request, _("Draft %(number)s created. Now add its expenses.") % {"number": claim.number})
            return redirect("reimbursement:edit", claim_id=claim.pk)
    return render(request, "reimbursement/claim_edit.html", {"claim": None, "form": form})


@login_required
def claim_edit(request: HttpRequest, claim_id: int) -> HttpResponse:
    """The header as a plain form; the lines are edited in place through the HTMX views in lines.py."""
    claim = own_claim(request, claim_id)
    if not claim.is_editable:
        messages.info(
            request,
            _("Claim %(number)s is %(status)s and can no longer be changed.")
            % {"number": claim.number, "status": claim.get_status_display()},
        )
        return redirect("reimbursement:detail", claim_id=claim.pk)
    if request.method == "POST":
        form = ClaimHeaderForm(request.POST)
        if form.is_valid():
            try:
                claim_update(claim_id=claim.pk, actor=request.user, **form.cleaned_data)
            except ConflictError as exc:
                messages.error(request, exc.message)
                return redirect("reimbursement:detail", claim_id=claim.pk)
            except ApplicationError as exc:
                _raise_not_found(exc)
                form.show_errors(exc)
            else:
                messages.success(request, _("The claim's details were saved."))
                return redirect("reimbursement:edit", claim_id=claim.pk)
    else:
        form = ClaimHeaderForm(
            initial={"purpose": claim.purpose, "cost_centre": claim.cost_centre, "project": claim.project}
        )
    # ?line=<id> opens one line for editing: the same page works when script is off.
    editing = _int(request.GET.get("line"))
    edit_form = None
    for line in claim.lines.all():
        if line.pk == editing:
            edit_form = LineForm(
                initial=LineForm.initial_from_line(line),
                base_currency=claim.base_currency,
                auto_id=f"line-{line.pk}-%s",
            )
    context = {
        "claim": claim,
        "form": form,
        "lines": claim.lines.all(),
        "editing": editing if edit_form else None,
        "edit_form": edit_form,
        "new_form": LineForm(base_currency=claim.base_currency, auto_id="line-new-%s"),
    }
    return render(request, "reimbursement/claim_edit.html", context)


@login_required
def claim_submit_view(request: HttpRequest, claim_id: int) -> HttpResponse:
    """Pre-flight: every policy hit on one screen, a justification for each warning, then submit."""
    claim = own_claim(request, claim_id)
    if claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.IN_APPROVAL):
        messages.info(request, _("Claim %(number)s is already submitted.") % {"number": claim.number})
        return redirect("reimbursement:detail", claim_id=claim.pk)
    if not claim.is_editable:
        messages.info(
            request,
            _("Claim %(number)s is %(status)s and can no longer be submitted.")
            % {"number": claim.number, "status": claim.get_status_display()},
        )
        return redirect("reimbursement:detail", claim_id=claim.pk)
    typed: dict[str, str] = {}
    missing: set[str] = set()
    error = ""
    if request.method == "POST":
        prefix = "justification:"
        typed = {key.removeprefix(prefix): value for key, value in request.POST.items() if key.startswith(prefix)}
        try:
            claim_submit(claim_id=claim.pk, actor=request.user, justifications=typed)
        except JustificationMissing as exc:
            missing = {key.removeprefix(prefix) for key in exc.fields}
            error = exc.message
        except ConflictError as exc:
            messages.error(request, exc.message)
            return redirect("reimbursement:detail", claim_id=claim.pk)
        except ApplicationError as exc:
            _raise_not_found(exc)
            error = exc.message
        else:
            messages.success(request, _("Claim %(number)s was submitted.") % {"number": claim.number})
            return redirect("reimbursement:detail", claim_id=claim.pk)
    hits = evaluate_claim(claim)
    lines = {line.pk: line for line in claim.lines.all()}
    warnings = [
        {"hit": h, "line": lines.get(h.line_id), "value": typed.get(h.key, ""), "missing": h.key in missing}
        for h in hits
        if h.severity == WARN
    ]
    context = {
        "claim": claim,
        "lines": claim.lines.all(),
        "blocks": [{"hit": h, "line": lines.get(h.line_id)} for h in hits if h.severity == BLOCK],
        "warnings": warnings,
        "error": error,
    }
    return render(request, "reimbursement/claim_submit.html", context)


@login_required
def claim_detail_view(request: HttpRequest, claim_id: int) -> HttpResponse:
    """Everything about one claim: header, lines with files, warnings, changes, timeline and actions."""
    claim = visible_claim(request, claim_id)
    owner = is_owner(request, claim)
    context = {
        "claim": claim,
        "lines": claim.lines.all(),
        "warnings": claim.policy_warnings.all(),
        "changes": describe_changes(claim),
        # Audit events and field changes of the claim and its lines, merged (audit.selectors.timeline_for).
        "audit_timeline": claim_audit_timeline(claim),
        "can_download_pack": may_download_pack(request.user),
        "can_edit": owner and claim.is_editable,
        "can_withdraw": owner and claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.IN_APPROVAL),
        "can_delete": owner and claim.status == ClaimStatus.DRAFT and not claim.submission_count,
        "withdraw_form": WithdrawForm(auto_id="withdraw-%s"),
    }
    return render(request, "reimbursement/claim_detail.html", context)


@login_required
def claim_print(request: HttpRequest, claim_id: int) -> HttpResponse:
    """A clean A4 page of the claim for the paper file, without navigation."""
    claim = visible_claim(request, claim_id)
    context = {"claim": claim, "lines": claim.lines.all(), "warnings": claim.policy_warnings.all()}
    return render(request, "reimbursement/claim_print.html", context)


@login_required
@require_POST
def claim_withdraw_view(request: HttpRequest, claim_id: int) -> HttpResponse:
    claim = own_claim(request, claim_id)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        claim_withdraw(claim_id=claim.pk, actor=request.user, reason=reason)
    except ApplicationError as exc:
        _raise_not_found(exc)
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Claim %(number)s was withdrawn; you can edit it again.") % {"number": claim.number}
        )
    return redirect("reimbursement:detail", claim_id=claim.pk)


@login_required
@require_POST
def claim_delete_view(request: HttpRequest, claim_id: int) -> HttpResponse:
    claim = own_claim(request, claim_id)
    try:
        claim_delete(claim_id=claim.pk, actor=request.user)
    except ApplicationError as exc:
        _raise_not_found(exc)
        messages.error(request, exc.message)
        return redirect("reimbursement:detail", claim_id=claim.pk)
    messages.success(request, _("Draft %(number)s was deleted.") % {"number": claim.number})
    return redirect("reimbursement:my_claims")


def _raise_not_found(exc: ApplicationError) -> None:
    # The services say "does not exist" to anyone but the claimant; the page answers the same with a 404.
    if isinstance(exc, NotFoundError):
        raise Http404(exc.message) from exc


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
