"""Figures for the finance dashboards: spend by month, department and category, approval cycle time and the
approvers' backlog. Each figure is one aggregate query over the claims the user may see, whatever the
number of claims (``scope`` is ``dashboard_claims(user)``, built once per page: the visibility rules
cost a query each time they are evaluated); the rows it returns are bounded by months, departments,
categories or approvers.

Spend is what was approved: claims approved, paying or paid, counted at their approved amount (the
claimed total where nobody cut a line), in the month of their approval, in one currency at a time.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Min,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from org.choices import Role
from org.selectors import user_roles
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, ClaimLine
from reimbursement.payments.selectors import BOOKED_STATUSES, local_day_bounds
from reimbursement.selectors import claims_visible_to

# Administrators configure the system; they look at money only if they also hold a finance or auditor role
# (separation of duties), and then see what that role sees: every figure opens to claims they may open.
DASHBOARD_ROLES = {Role.FINANCE, Role.AUDITOR}
# Claims whose approval cycle ended: the cycle-time figure's scope.
DECIDED_STATUSES = (*BOOKED_STATUSES, ClaimStatus.REJECTED)
# The backlog chart names the approvers with the most pending tasks; the rest are summed in one row.
BACKLOG_LIMIT = 15
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DashboardFilters:
    """The date range (local days, inclusive) and the one currency every figure is in."""

    date_from: datetime.date
    date_to: datetime.date
    currency: str

    @property
    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        return local_day_bounds(self.date_from, self.date_to)


def may_see_dashboards(user: Any) -> bool:
    return bool(DASHBOARD_ROLES & user_roles(user))


def dashboard_claims(user: Any) -> QuerySet[Claim]:
    """The claims behind every figure: ``claims_visible_to`` (so an auditor with granted departments sees
    those departments only, and every drill-down row opens)."""
    return claims_visible_to(user)


def dashboard_currencies() -> list[str]:
    """The configured currencies, the base currency first (the figure's default)."""
    base = settings.BAOXIAO_BASE_CURRENCY
    return [base, *(c for c in settings.BAOXIAO_CURRENCIES if c != base)]


def _booked(scope: QuerySet[Claim], filters: DashboardFilters) -> QuerySet[Claim]:
    start, end = filters.bounds
    return scope.filter(
        status__in=BOOKED_STATUSES, base_currency=filters.currency, decided_at__gte=start, decided_at__lt=end
    )


def _approved_amount():
    return Coalesce("approved_amount", "total_amount")


def spend_by_month(scope: QuerySet[Claim], filters: DashboardFilters) -> list[dict[str, Any]]:
    """[{month (first day), amount, count}] for every month of the range, empty months at zero."""
    zone = timezone.get_current_timezone()
    rows = (
        _booked(scope, filters)
        .annotate(month=TruncMonth("decided_at", tzinfo=zone))
        .values("month")
        .annotate(amount=Sum(_approved_amount()), count=Count("id"))
        .order_by("month")
    )
    found = {_as_date(row["month"]): row for row in rows}
    result = []
    for month in months_between(filters.date_from, filters.date_to):
        row = found.get(month, {})
        result.append({"month": month, "amount": row.get("amount") or ZERO, "count": row.get("count", 0)})
    return result


def spend_by_department(scope: QuerySet[Claim], filters: DashboardFilters) -> list[dict[str, Any]]:
    """[{department_id, name, amount, count}], largest first; the name is the one the claim was made for."""
    rows = (
        _booked(scope, filters)
        .values("department_id")
        .annotate(amount=Sum(_approved_amount()), count=Count("id"), name=Min("department_name"))
        .order_by("-amount", "department_id")
    )
    return [{**row, "name": row["name"] or "—"} for row in rows]


def spend_by_category(scope: QuerySet[Claim], filters: DashboardFilters) -> list[dict[str, Any]]:
    """[{category_id, code, name, amount, count}] over the lines of the booked claims, largest first."""
    rows = (
        ClaimLine.objects.filter(claim__in=_booked(scope, filters).values("pk"))
        .values("category_id", "category__code", "category__name_en", "category__name_zh")
        .annotate(amount=Sum(Coalesce("approved_amount", "base_amount")), count=Count("claim_id", distinct=True))
        .order_by("-amount", "category_id")
    )
    chinese = _language_is_chinese()
    return [
        {
            "category_id": row["category_id"],
            "code": row["category__code"],
            "name": row["category__name_zh"] if chinese else row["category__name_en"],
            "amount": row["amount"] or ZERO,
            "count": row["count"],
        }
        for row in rows
    ]


class _Percentile(Aggregate):
    """PostgreSQL's ordered-set percentile_cont over a number of hours."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, percentile: float, **extra: Any) -> None:
        super().__init__(expression, percentile=float(percentile), **extra)


class _EpochHours(Func):
    """An interval in hours, on PostgreSQL."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) / 3600.0)"
    output_field = FloatField()


def cycle_time_by_month(scope: QuerySet[Claim], filters: DashboardFilters) -> list[dict[str, Any]]:
    """[{month, p50, p90, count}]: hours from the last submission to the final decision of the claims
    decided (approved or rejected) in each month of the range; None where no claim was decided."""
    start, end = filters.bounds
    zone = timezone.get_current_timezone()
    decided = scope.filter(
        status__in=DECIDED_STATUSES,
        base_currency=filters.currency,
        decided_at__gte=start,
        decided_at__lt=end,
        submitted_at__isnull=False,
    ).annotate(
        month=TruncMonth("decided_at", tzinfo=zone),
        took=ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField()),
    )
    found: dict[datetime.date, dict[str, Any]] = {}
    if connection.vendor == "postgresql":
        rows = (
            decided.values("month")
            .annotate(
                count=Count("id"),
                p50=_Percentile(_EpochHours(F("took")), 0.5),
                p90=_Percentile(_EpochHours(F("took")), 0.9),
            )
            .order_by("month")
        )
        for row in rows:
            found[_as_date(row["month"])] = row
    else:  # the embedded SQLite default: the same figures computed here, from one query
        by_month: dict[datetime.date, list[float]] = {}
        for month, took in decided.values_list("month", "took"):
            by_month.setdefault(_as_date(month), []).append(took.total_seconds() / 3600)
        for month, values in by_month.items():
            found[month] = {"count": len(values), "p50": percentile(values, 0.5), "p90": percentile(values, 0.9)}
    result = []
    for month in months_between(filters.date_from, filters.date_to):
        row = found.get(month, {})
        result.append(
            {
                "month": month,
                "count": row.get("count", 0),
                "p50": _round(row.get("p50")),
                "p90": _round(row.get("p90")),
            }
        )
    return result


def backlog_by_approver(scope: QuerySet[Claim], filters: DashboardFilters) -> list[dict[str, Any]]:
    """[{assignee_id, name, count, oldest}]: pending tasks now, on claims in scope and in the currency,
    per approver, most first; past BACKLOG_LIMIT approvers the rest are one row without an id."""
    rows = list(
        scope.filter(base_currency=filters.currency, approval_tasks__status="pending")
        .values("approval_tasks__assignee_id", "approval_tasks__assignee__name")
        .annotate(count=Count("approval_tasks"), oldest=Min("approval_tasks__activated_at"))
        .order_by("-count", "approval_tasks__assignee__name")
    )
    result = [
        {
            "assignee_id": row["approval_tasks__assignee_id"],
            "name": row["approval_tasks__assignee__name"],
            "count": row["count"],
            "oldest": row["oldest"],
        }
        for row in rows[:BACKLOG_LIMIT]
    ]
    rest = rows[BACKLOG_LIMIT:]
    if rest:
        oldest = [row["oldest"] for row in rest if row["oldest"]]
        result.append(
            {
                "assignee_id": None,
                "name": "",
                "count": sum(row["count"] for row in rest),
                "oldest": min(oldest) if oldest else None,
                "others": len(rest),
            }
        )
    return result


# --- helpers ----------------------------------------------------------------------------------------


def months_between(date_from: datetime.date, date_to: datetime.date) -> list[datetime.date]:
    """The first day of every month touched by the range, in order."""
    months = []
    month = date_from.replace(day=1)
    while month <= date_to:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def month_end(month: datetime.date) -> datetime.date:
    return (month + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _as_date(value: datetime.datetime | datetime.date) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _language_is_chinese() -> bool:
    from django.utils import translation

    return (translation.get_language() or "").startswith("zh")
