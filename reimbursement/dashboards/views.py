"""Finance dashboards, mounted at /dashboards/: five charts over a date range in one currency, and the list of
claims behind any bar or point. Finance, auditors (their granted departments only) and administrators; any
one else gets 404, as for every page they may not see.

Charts are drawn by static/js/dashboards.js with the vendored Chart.js from data passed with json_script
(the CSP forbids inline script); every chart also has its numbers in a table, each row linking to the
claims behind it, so the page works and is testable without script.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reimbursement.dashboards import selectors
from reimbursement.dashboards.selectors import DashboardFilters, month_end
from reimbursement.filtersets import ClaimFilterSet
from reimbursement.payments.selectors import BOOKED_STATUSES

PAGE_SIZE = 25
# Five years of months at most: the month figures stay a bounded number of rows.
MAX_RANGE_DAYS = 5 * 366
DRILL_KEYS = ("currency", "department", "category", "decided_from", "decided_to", "pending_approver", "status")


def dashboards_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in with the finance, auditor or admin role; anyone else is told the page does not exist."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.may_see_dashboards(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


class DashboardForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("From"),
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"),
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
    )
    currency = forms.ChoiceField(label=gettext_lazy("Currency"), widget=forms.Select(attrs={"class": "form-select"}))

    def __init__(self, *args: Any, currencies: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        elif start and end and (end - start).days > MAX_RANGE_DAYS:
            self.add_error("date_from", _("Choose a range of at most five years."))
        return data


def default_range(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """The last twelve months, this one included."""
    today = today or timezone.localdate()
    start = today.replace(day=1)
    for _month in range(11):
        start = (start - datetime.timedelta(days=1)).replace(day=1)
    return start, today


@dashboards_only
def dashboard_view(request: HttpRequest) -> HttpResponse:
    currencies = selectors.dashboard_currencies()
    date_from, date_to = default_range()
    initial = {"date_from": date_from, "date_to": date_to, "currency": currencies[0]}
    form = DashboardForm({**initial, **request.GET.dict()}, currencies=currencies)
    if not form.is_valid():
        context = {"form": form, "charts": [], "chart_data": {"charts": []}, "invalid": True}
        return render(request, "reports/dashboards/index.html", context, status=400)
    filters = DashboardFilters(**form.cleaned_data)
    scope = selectors.dashboard_claims(request.user)
    charts = [
        _spend_by_month(scope, filters),
        _cycle_time(scope, filters),
        _spend_by_department(scope, filters),
        _spend_by_category(scope, filters),
        _backlog(scope, filters),
    ]
    context = {
        "form": form,
        "filters": filters,
        "charts": charts,
        "chart_data": {"charts": [_chart_json(chart) for chart in charts if not chart["empty"]]},
        "all_empty": all(chart["empty"] for chart in charts),
        "wide": {"spend-month", "cycle-time"},
    }
    return render(request, "reports/dashboards/index.html", context)


@dashboards_only
def claims_view(request: HttpRequest) -> HttpResponse:
    """The claims behind a figure: the claim FilterSet over the dashboards' scope, 25 to a page."""
    claims = (
        selectors.dashboard_claims(request.user)
        .select_related("claimant", "department")
        .order_by("-decided_at", "-submitted_at", "-id")
    )
    filterset = ClaimFilterSet(request.GET or None, queryset=claims)
    if filterset.is_bound and not filterset.is_valid():
        errors = [str(e) for errors in filterset.errors.values() for e in errors]
        return render(request, "reports/dashboards/claims.html", {"errors": errors}, status=400)
    qs = filterset.qs
    if not qs.query.order_by:
        qs = qs.order_by("-decided_at", "-submitted_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = [(key, value) for key in DRILL_KEYS for value in request.GET.getlist(key)]
    context = {
        "page": page,
        "claims": page.object_list,
        "applied": _describe_filters(request),
        "page_query": urlencode(query),
    }
    return render(request, "reports/dashboards/claims.html", context)


# --- charts ---------------------------------------------------------------------------------------


def _drill(**params: Any) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, str(item)))
    return f"{reverse('dashboards:claims')}?{urlencode(pairs)}"


def _booked_drill(filters: DashboardFilters, **extra: Any) -> str:
    params = {
        "currency": filters.currency,
        "status": [str(s) for s in BOOKED_STATUSES],
        "decided_from": filters.date_from.isoformat(),
        "decided_to": filters.date_to.isoformat(),
    }
    params.update(extra)
    return _drill(**params)


def _month_label(month: datetime.date) -> str:
    return date_format(month, "Y-m")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _spend_by_month(scope: Any, filters: DashboardFilters) -> dict[str, Any]:
    rows = selectors.spend_by_month(scope, filters)
    items = []
    for row in rows:
        start = max(row["month"], filters.date_from)
        end = min(month_end(row["month"]), filters.date_to)
        link = _booked_drill(filters, decided_from=start.isoformat(), decided_to=end.isoformat())
        items.append(
            {
                "label": _month_label(row["month"]),
                "values": [row["amount"]],
                "cells": [_money(row["amount"]), row["count"]],
                "link": link,
            }
        )
    return _chart(
        "spend-month",
        _("Spend by month"),
        _("Approved amounts, by month of approval."),
        "bar",
        [_("Month"), _("Amount (%(currency)s)") % {"currency": filters.currency}, _("Claims")],
        [_("Amount")],
        items,
        empty=not any(row["count"] for row in rows),
    )


def _spend_by_department(scope: Any, filters: DashboardFilters) -> dict[str, Any]:
    rows = selectors.spend_by_department(scope, filters)
    items = [
        {
            "label": row["name"],
            "values": [row["amount"]],
            "cells": [_money(row["amount"]), row["count"]],
            "link": _booked_drill(filters, department=row["department_id"]),
        }
        for row in rows
    ]
    return _chart(
        "spend-department",
        _("Spend by department"),
        _("Approved amounts, by the department each claim was made for."),
        "hbar",
        [_("Department"), _("Amount (%(currency)s)") % {"currency": filters.currency}, _("Claims")],
        [_("Amount")],
        items,
        empty=not rows,
    )


def _spend_by_category(scope: Any, filters: DashboardFilters) -> dict[str, Any]:
    rows = selectors.spend_by_category(scope, filters)
    items = [
        {
            "label": row["name"],
            "values": [row["amount"]],
            "cells": [_money(row["amount"]), row["count"]],
            "link": _booked_drill(filters, category=row["category_id"]),
        }
        for row in rows
    ]
    return _chart(
        "spend-category",
        _("Spend by category"),
        _("Approved line amounts, by expense category."),
        "hbar",
        [_("Category"), _("Amount (%(currency)s)") % {"currency": filters.currency}, _("Claims")],
        [_("Amount")],
        items,
        empty=not rows,
    )


def _cycle_time(scope: Any, filters: DashboardFilters) -> dict[str, Any]:
    rows = selectors.cycle_time_by_month(scope, filters)
    decided = [str(s) for s in (*BOOKED_STATUSES, "rejected")]
    items = []
    for row in rows:
        start = max(row["month"], filters.date_from)
        end = min(month_end(row["month"]), filters.date_to)
        items.append(
            {
                "label": _month_label(row["month"]),
                "values": [row["p50"], row["p90"]],
                "cells": [_hours(row["p50"]), _hours(row["p90"]), row["count"]],
                "link": _drill(
                    currency=filters.currency,
                    status=decided,
                    decided_from=start.isoformat(),
                    decided_to=end.isoformat(),
                ),
            }
        )
    return _chart(
        "cycle-time",
        _("Approval cycle time"),
        _("Hours from submission to the final decision, for claims decided in each month."),
        "line",
        [_("Month"), _("Median (p50), hours"), _("p90, hours"), _("Claims decided")],
        [_("Median (p50)"), _("p90")],
        items,
        empty=not any(row["count"] for row in rows),
    )


def _backlog(scope: Any, filters: DashboardFilters) -> dict[str, Any]:
    rows = selectors.backlog_by_approver(scope, filters)
    items = []
    for row in rows:
        if row["assignee_id"] is None:
            label = _("%(n)d other approvers") % {"n": row["others"]}
            link = ""
        else:
            label = row["name"]
            link = _drill(currency=filters.currency, pending_approver=row["assignee_id"])
        oldest = date_format(timezone.localtime(row["oldest"]), "Y-m-d") if row["oldest"] else "—"
        items.append({"label": label, "values": [row["count"]], "cells": [row["count"], oldest], "link": link})
    return _chart(
        "backlog",
        _("Backlog per approver"),
        _("Approval tasks pending now, whatever the dates chosen."),
        "hbar",
        [_("Approver"), _("Pending tasks"), _("Waiting since")],
        [_("Pending tasks")],
        items,
        empty=not rows,
        empty_message=_("No approval is pending."),
    )


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _chart(
    chart_id: str,
    title: str,
    description: str,
    kind: str,
    columns: list[str],
    series: list[str],
    items: list[dict[str, Any]],
    *,
    empty: bool,
    empty_message: str = "",
) -> dict[str, Any]:
    return {
        "empty_message": empty_message or _("No data in this range."),
        "id": chart_id,
        "title": title,
        "description": description,
        "kind": kind,
        "columns": columns,
        "series": series,
        "items": items,
        "empty": empty,
    }


def _chart_json(chart: dict[str, Any]) -> dict[str, Any]:
    """What dashboards.js needs: labels, one list of numbers per series, the drill-down link of each point."""
    return {
        "id": chart["id"],
        "kind": chart["kind"],
        "labels": [item["label"] for item in chart["items"]],
        "series": [
            {"label": name, "data": [_number(item["values"][i]) for item in chart["items"]]}
            for i, name in enumerate(chart["series"])
        ],
        "links": [item["link"] for item in chart["items"]],
    }


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _describe_filters(request: HttpRequest) -> list[tuple[str, str]]:
    """The drill-down filters in words, for the list's heading."""
    labels = {
        "currency": _("Currency"),
        "department": _("Department"),
        "category": _("Category"),
        "decided_from": _("Decided from"),
        "decided_to": _("Decided to"),
        "pending_approver": _("Waiting for approver"),
        "status": _("Status"),
    }
    names = _names_of(request)
    applied = []
    for key in DRILL_KEYS:
        values = request.GET.getlist(key)
        if values:
            applied.append((str(labels[key]), ", ".join(names.get((key, v), v) for v in values)))
    return applied


def _names_of(request: HttpRequest) -> dict[tuple[str, str], str]:
    """Names for the ids in the query (one query per kind present, none otherwise)."""
    from org.models import Department, Employee
    from reimbursement.choices import ClaimStatus
    from reimbursement.models import ExpenseCategory

    names: dict[tuple[str, str], str] = {("status", value): str(label) for value, label in ClaimStatus.choices}
    for key, model in (("department", Department), ("category", ExpenseCategory), ("pending_approver", Employee)):
        ids = [v for v in request.GET.getlist(key) if v.isdigit()]
        if ids:
            names.update({(key, str(obj.pk)): str(obj) for obj in model.objects.filter(pk__in=ids)})
    return names
