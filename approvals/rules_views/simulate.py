"""The simulator (one claim, or facts typed in) and the dry run (recent claims under the draft)."""

from __future__ import annotations

import datetime
import time

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.choices import RuleSetStatus
from approvals.models import RuleSet
from approvals.rules_forms import DryRunForm, SimulateForm, people_for_picker
from approvals.rules_views.common import admin_required
from approvals.simulation import dry_run, facts_for, facts_of_claim, simulate
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, ExpenseCategory

RECENT_CLAIMS = 30


def _rule_sets() -> dict[str, RuleSet | None]:
    found = {
        r.status: r
        for r in RuleSet.objects.select_related("fallback_approver").filter(
            status__in=[RuleSetStatus.PUBLISHED, RuleSetStatus.DRAFT]
        )
    }
    return {"published": found.get(RuleSetStatus.PUBLISHED), "draft": found.get(RuleSetStatus.DRAFT)}


@admin_required
def simulator(request: HttpRequest) -> HttpResponse:
    """Which rule a claim would match and whom it would ask, with every reason. Results render in place."""
    sets = _rule_sets()
    submitted = "source" in request.GET
    form = SimulateForm(
        request.GET if submitted else None,
        has_draft=sets["draft"] is not None,
        has_published=sets["published"] is not None,
    )
    result = None
    if submitted and form.is_valid():
        data = form.cleaned_data
        if data["source"] == SimulateForm.SOURCE_CLAIM:
            facts = facts_of_claim(data["claim"])
        else:
            facts = facts_for(
                claimant=data["claimant"],
                amount=data["amount"],
                category_ids=[c.pk for c in data["categories"]],
                cost_centre=data.get("cost_centre") or "",
                project=data.get("project") or "",
            )
        result = simulate(facts, sets[data["rules"]])
        result.claim = data.get("claim")
        result.category_names = [
            c.name for c in ExpenseCategory.objects.filter(pk__in=facts.category_ids).order_by("sort_order", "code")
        ]
    context = {"form": form, "result": result, "submitted": submitted, **sets}
    if request.htmx and submitted:
        return render(request, "approvals/rules/partials/simulation.html", context)
    context["people"] = people_for_picker()
    # Suggestions for the claim number: the latest claims not decided yet (any claim's number works).
    context["recent_claims"] = (
        Claim.objects.exclude(number=None)
        .filter(status__in=[ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.IN_APPROVAL])
        .select_related("claimant")
        .order_by("-created_at", "-id")[:RECENT_CLAIMS]
    )
    return render(request, "approvals/rules/simulate.html", context)


@admin_required
def dry_run_view(request: HttpRequest) -> HttpResponse:
    """The claims of the last N days whose chain of approvers the draft would change."""
    sets = _rule_sets()
    if sets["draft"] is None:
        messages.info(request, _("A dry run compares the draft with the published rules: start a draft first."))
        return redirect("rules:index")
    form = DryRunForm(request.GET if "days" in request.GET else None, initial={"days": 30})
    days = form.cleaned_data["days"] if form.is_bound and form.is_valid() else 30
    result = elapsed_ms = None
    if not form.is_bound or form.is_valid():
        since = timezone.now() - datetime.timedelta(days=days)
        started = time.perf_counter()
        result = dry_run(draft=sets["draft"], published=sets["published"], since=since)
        elapsed_ms = (time.perf_counter() - started) * 1000
    context = {"form": form, "result": result, "elapsed_ms": elapsed_ms, "days": days, **sets}
    template = "approvals/rules/partials/dry_run_results.html" if request.htmx else "approvals/rules/dry_run.html"
    return render(request, template, context)
