"""The compliance reports: each one a title, its columns and the rows it reads for a date range.

Each report reads a fixed number of queries whatever the range (one, or three for the separation of
duties), streamed with ``.iterator()`` so an export of a long range keeps memory flat. Rows are tuples of
plain values (text, Decimal, int, date, aware datetime) in the order of the columns; the screen, the CSV,
XLSX and PDF writers and the monthly mail all read them the same way.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Func, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from approvals.choices import DECIDED_TASK_STATUSES, DecisionChannel, TaskStatus
from approvals.models import ApprovalTask
from audit.models import AuditEvent
from org.models import Department, Employee
from reimbursement.models import Claim, ClaimLine, PolicyWarning
from reimbursement.payments.selectors import BOOKED_STATUSES
from reports.choices import CLAIM_LINES
from reports.selectors import ReportParams, claim_ids_as_text, report_claims

CHUNK = 2000
DUPLICATE_REFUSED = "claim.duplicate_invoice_refused"


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    kind: str = "text"  # text | money | int | number | date | datetime


@dataclass
class Report:
    slug: str
    title: Any
    description: Any
    date_meaning: Any
    columns: list[Column] = field(default_factory=list)
    covers_drafts = False  # whether claims never submitted count (reports.selectors.report_claims)

    def rows(self, claims: QuerySet[Claim], params: ReportParams) -> Iterator[tuple]:
        raise NotImplementedError


def _in_range(prefix: str, params: ReportParams) -> Q:
    start, end = params.bounds
    return Q(**{f"{prefix}__gte": start, f"{prefix}__lt": end})


# --- (a) Policy warnings ----------------------------------------------------------------------------


class PolicyWarningsReport(Report):
    def rows(self, claims, params):
        warnings = (
            PolicyWarning.objects.filter(_in_range("created_at", params), claim__in=claims.values("pk"))
            .order_by("created_at", "id")
            .values_list(
                "created_at",
                "claim__number",
                "claim__claimant__name",
                "claim__department_name",
                "submission",
                "line__position",
                "code",
                "message",
                "justification",
            )
        )
        yield from warnings.iterator(chunk_size=CHUNK)


# --- (b) Duplicate invoices refused ------------------------------------------------------------------


class DuplicatesReport(Report):
    covers_drafts = True  # the refused claim is usually a draft

    def rows(self, claims, params):
        events = (
            AuditEvent.objects.filter(
                _in_range("occurred_at", params),
                action=DUPLICATE_REFUSED,
                target_type="reimbursement.claim",
                target_id__in=claim_ids_as_text(claims),
            )
            .order_by("id")
            .values_list("occurred_at", "target_label", "actor_name", "data")
        )
        for occurred_at, label, actor, data in events.iterator(chunk_size=CHUNK):
            for invoice in (data or {}).get("invoices") or [{}]:
                yield (
                    occurred_at,
                    label,
                    actor,
                    invoice.get("line"),
                    invoice.get("invoice_key", ""),
                    invoice.get("held_by", ""),
                )


# --- (c) Separation of duties -------------------------------------------------------------------------


def _decided(claims: QuerySet[Claim], params: ReportParams) -> QuerySet[ApprovalTask]:
    return ApprovalTask.objects.filter(
        _in_range("decided_at", params), status__in=DECIDED_TASK_STATUSES, claim__in=claims.values("pk")
    ).order_by("decided_at", "id")


def _manager_chain(employee_id: int, managers: dict[int, int | None]) -> Iterator[int]:
    seen = set()
    current = managers.get(employee_id)
    while current is not None and current not in seen:
        seen.add(current)
        yield current
        current = managers.get(current)


class SeparationOfDutiesReport(Report):
    """A decision by the claimant, or by someone below the claimant: in their manager chain, or in a
    department (or below one) the claimant heads. The org chart is read as it is now, in two queries."""

    def rows(self, claims, params):
        tasks = _decided(claims, params).values_list(
            "decided_at",
            "claim__number",
            "claim__department_name",
            "claim__claimant_id",
            "claim__claimant__name",
            "step__name",
            "status",
            "decided_by__employee__id",
            "decided_by__employee__department__path",
            "decided_by_name",
            "on_behalf_of_name",
        )
        managers: dict[int, int | None] | None = None
        headed: dict[int, list[str]] = {}
        labels = dict(TaskStatus.choices)
        for (
            decided_at,
            number,
            dept,
            claimant_id,
            claimant,
            step,
            status,
            decider_id,
            path,
            name,
            behalf,
        ) in tasks.iterator(chunk_size=CHUNK):
            if managers is None:
                managers = dict(Employee.objects.values_list("id", "manager_id"))
                for head_id, head_path in Department.objects.filter(head__isnull=False).values_list("head_id", "path"):
                    headed.setdefault(head_id, []).append(head_path)
            if decider_id is None:
                continue
            if decider_id == claimant_id:
                breach = _("The approver is the claimant.")
            elif claimant_id in _manager_chain(decider_id, managers):
                breach = _("The approver reports to the claimant.")
            elif path and any(path.startswith(p) for p in headed.get(claimant_id, ())):
                breach = _("The approver works in a department the claimant heads.")
            else:
                continue
            yield (decided_at, number, dept, claimant, step, str(labels.get(status, status)), name, behalf, str(breach))


# --- (d) Overdue approvals -------------------------------------------------------------------------------


class OverdueReport(Report):
    def rows(self, claims, params):
        now = timezone.now()
        tasks = (
            ApprovalTask.objects.filter(
                _in_range("due_at", params), status=TaskStatus.PENDING, due_at__lt=now, claim__in=claims.values("pk")
            )
            .order_by("due_at", "id")
            .values_list(
                "due_at",
                "claim__number",
                "claim__claimant__name",
                "claim__department_name",
                "step__name",
                "assignee__name",
                "reminders_sent",
            )
        )
        for due_at, *rest in tasks.iterator(chunk_size=CHUNK):
            hours = Decimal((now - due_at).total_seconds() / 3600).quantize(Decimal("0.1"))
            yield (due_at, *rest[:-1], hours, rest[-1])


# --- (e) Decisions by delegates or from the OA ----------------------------------------------------------


class DelegatedDecisionsReport(Report):
    def rows(self, claims, params):
        labels = dict(TaskStatus.choices)
        channels = dict(DecisionChannel.choices)
        tasks = (
            _decided(claims, params)
            .filter(~Q(on_behalf_of_name="") | Q(channel=DecisionChannel.OA))
            .values_list(
                "decided_at",
                "claim__number",
                "claim__department_name",
                "step__name",
                "status",
                "decided_by_name",
                "on_behalf_of_name",
                "channel",
                "comment",
            )
        )
        for decided_at, number, dept, step, status, name, behalf, channel, comment in tasks.iterator(chunk_size=CHUNK):
            yield (
                decided_at,
                number,
                dept,
                step,
                str(labels.get(status, status)),
                name,
                behalf,
                str(channels.get(channel, channel)),
                comment,
            )


# --- (f) Voids and returns ------------------------------------------------------------------------------


class VoidsReturnsReport(Report):
    ACTIONS = {"claim.voided": _("Voided"), "claim.returned": _("Returned")}

    def rows(self, claims, params):
        events = (
            AuditEvent.objects.filter(
                _in_range("occurred_at", params),
                action__in=list(self.ACTIONS),
                target_type="reimbursement.claim",
                target_id__in=claim_ids_as_text(claims),
            )
            .order_by("id")
            .values_list("occurred_at", "action", "target_label", "actor_name", "on_behalf_of_name", "data")
        )
        for occurred_at, action, label, actor, behalf, data in events.iterator(chunk_size=CHUNK):
            yield (occurred_at, str(self.ACTIONS[action]), label, actor, behalf, (data or {}).get("reason", ""))


# --- (g) Spend ------------------------------------------------------------------------------------------


class SpendReport(Report):
    """Booked lines (claims approved, being paid or paid) by month of expense, department, category and
    currency: the amounts as claimed in their currency, and in the claim's base currency as approved."""

    def rows(self, claims, params):
        groups = (
            ClaimLine.objects.filter(
                expense_date__gte=params.date_from,
                expense_date__lte=params.date_to,
                claim__in=claims.filter(status__in=BOOKED_STATUSES).values("pk"),
            )
            .values(
                month=TruncMonth("expense_date"),
                department=F("claim__department_name"),
                category_code=F("category__code"),
                line_currency=F("currency"),
                base=F("claim__base_currency"),
            )
            .annotate(
                lines=Count("id"),
                amount_sum=Sum("amount"),
                base_sum=Sum(Coalesce("approved_amount", "base_amount")),
            )
            .order_by("month", "department", "category_code", "line_currency", "base")
        )
        for g in groups:
            month = g["month"]
            month = month.date() if isinstance(month, datetime.datetime) else month
            yield (
                f"{month:%Y-%m}",
                g["department"],
                g["category_code"],
                g["lines"],
                g["amount_sum"],
                g["line_currency"],
                g["base_sum"],
                g["base"],
            )


# --- (h) Approval cycle time ----------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: percentile_cont(fraction) WITHIN GROUP (ORDER BY value)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any):
        super().__init__(expression, fraction=f"{float(fraction):.4f}", **extra)


def _percentile(values: list[float], fraction: float) -> float:
    """percentile_cont's linear interpolation, for SQLite."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _hours(seconds: float | None) -> Decimal | None:
    return None if seconds is None else Decimal(seconds / 3600).quantize(Decimal("0.01"))


class CycleTimeReport(Report):
    """Hours from a task becoming pending to its decision, per step name and per approver."""

    GROUPS = (("step__name", _("Step")), ("decided_by_name", _("Approver")))

    def rows(self, claims, params):
        tasks = _decided(claims, params).filter(activated_at__isnull=False).order_by()
        for key, label in self.GROUPS:
            if connection.vendor == "postgresql":
                seconds = Func(
                    ExpressionWrapper(F("decided_at") - F("activated_at"), output_field=DurationField()),
                    template="EXTRACT(EPOCH FROM %(expressions)s)",
                    output_field=FloatField(),
                )
                groups = (
                    tasks.values(key)
                    .annotate(n=Count("id"), p50=PercentileCont(seconds, 0.5), p90=PercentileCont(seconds, 0.9))
                    .order_by(key)
                    .values_list(key, "n", "p50", "p90")
                )
            else:
                durations: dict[str, list[float]] = {}
                for name, activated, decided in tasks.values_list(key, "activated_at", "decided_at"):
                    durations.setdefault(name, []).append((decided - activated).total_seconds())
                groups = [
                    (name, len(v), _percentile(v, 0.5), _percentile(v, 0.9)) for name, v in sorted(durations.items())
                ]
            for name, n, p50, p90 in groups:
                yield (str(label), name, n, _hours(p50), _hours(p90))


# --- The catalogue ---------------------------------------------------------------------------------------

WHEN = Column("when", _("Time"), "datetime")
CLAIM = Column("claim", _("Claim"))
CLAIMANT = Column("claimant", _("Claimant"))
DEPARTMENT = Column("department", _("Department"))
STEP = Column("step", _("Step"))

REPORTS: dict[str, Report] = {
    r.slug: r
    for r in [
        PolicyWarningsReport(
            "policy-warnings",
            _("Policy warnings"),
            _("Warnings claims were submitted with, and the claimant's justification."),
            _("submitted"),
            [
                WHEN,
                CLAIM,
                CLAIMANT,
                DEPARTMENT,
                Column("submission", _("Submission"), "int"),
                Column("line", _("Line"), "int"),
                Column("rule", _("Rule")),
                Column("warning", _("Warning")),
                Column("justification", _("Justification")),
            ],
        ),
        DuplicatesReport(
            "duplicate-invoices",
            _("Duplicate invoices refused"),
            _("Submissions refused because an invoice was already claimed."),
            _("refused"),
            [
                WHEN,
                CLAIM,
                Column("actor", _("Submitted by")),
                Column("line", _("Line"), "int"),
                Column("invoice", _("Invoice")),
                Column("held_by", _("Already on claim")),
            ],
        ),
        SeparationOfDutiesReport(
            "separation-of-duties",
            _("Separation of duties"),
            _("Decisions taken by the claimant or by someone who reports to the claimant."),
            _("decided"),
            [
                WHEN,
                CLAIM,
                DEPARTMENT,
                CLAIMANT,
                STEP,
                Column("decision", _("Decision")),
                Column("approver", _("Decided by")),
                Column("on_behalf_of", _("On behalf of")),
                Column("breach", _("Why it is a breach")),
            ],
        ),
        OverdueReport(
            "overdue-approvals",
            _("Overdue approvals"),
            _("Approval tasks still pending after their due time."),
            _("due"),
            [
                Column("due", _("Due"), "datetime"),
                CLAIM,
                CLAIMANT,
                DEPARTMENT,
                STEP,
                Column("assignee", _("Approver")),
                Column("hours_overdue", _("Hours overdue"), "number"),
                Column("reminders", _("Reminders sent"), "int"),
            ],
        ),
        DelegatedDecisionsReport(
            "delegated-decisions",
            _("Decisions by delegates or from the OA"),
            _("Approval decisions taken by a delegate on someone's behalf, or received from the OA."),
            _("decided"),
            [
                WHEN,
                CLAIM,
                DEPARTMENT,
                STEP,
                Column("decision", _("Decision")),
                Column("approver", _("Decided by")),
                Column("on_behalf_of", _("On behalf of")),
                Column("channel", _("Channel")),
                Column("comment", _("Comment")),
            ],
        ),
        VoidsReturnsReport(
            "voids-returns",
            _("Voids and returns"),
            _("Claims voided by finance or returned to their claimant, with the reason."),
            _("voided or returned"),
            [
                WHEN,
                Column("what", _("What")),
                CLAIM,
                Column("actor", _("By")),
                Column("on_behalf_of", _("On behalf of")),
                Column("reason", _("Reason")),
            ],
        ),
        SpendReport(
            "spend",
            _("Spend by department, category and month"),
            _("Lines of approved, paying and paid claims, per currency and in the base currency as approved."),
            _("expense date"),
            [
                Column("month", _("Month")),
                DEPARTMENT,
                Column("category", _("Category")),
                Column("lines", _("Lines"), "int"),
                Column("amount", _("Amount"), "money"),
                Column("currency", _("Currency")),
                Column("base_amount", _("Base amount"), "money"),
                Column("base_currency", _("Base currency")),
            ],
        ),
        CycleTimeReport(
            "cycle-time",
            _("Approval cycle time"),
            _(
                "Hours from a task reaching its approver to the decision: median (p50) and p90, per step and "
                "per approver."
            ),
            _("decided"),
            [
                Column("by", pgettext_lazy("cycle time per step or per approver", "By")),
                Column("name", _("Name")),
                Column("decisions", _("Decisions"), "int"),
                Column("p50", _("p50 hours"), "number"),
                Column("p90", _("p90 hours"), "number"),
            ],
        ),
    ]
}


def report_for(slug: str) -> Report | None:
    return REPORTS.get(slug)


# --- Claim lines (export only) ----------------------------------------------------------------------------

LINE_COLUMNS = [
    Column("claim", _("Claim")),
    Column("status", _("Status")),
    Column("employee_no", _("Employee number")),
    Column("claimant", _("Claimant")),
    DEPARTMENT,
    Column("line", _("Line"), "int"),
    Column("expense_date", _("Date"), "date"),
    Column("category", _("Category")),
    Column("description", _("Description")),
    Column("merchant", _("Merchant")),
    Column("amount", _("Amount"), "money"),
    Column("currency", _("Currency")),
    Column("fx_rate", _("FX rate"), "number"),
    Column("base_amount", _("Base amount"), "money"),
    Column("approved_amount", _("Approved amount"), "money"),
    Column("base_currency", _("Base currency")),
    Column("invoice_number", _("Invoice number")),
]


def claim_lines(claims: QuerySet[Claim], params: ReportParams) -> QuerySet:
    """Every line of the given claims with an expense date in the range, in claim order, as value tuples;
    iterate with ``.iterator(chunk_size=...)`` (a server-side cursor on PostgreSQL)."""
    return (
        ClaimLine.objects.filter(
            expense_date__gte=params.date_from, expense_date__lte=params.date_to, claim__in=claims.values("pk")
        )
        .order_by("claim_id", "position", "id")
        .values_list(
            "claim__number",
            "claim__status",
            "claim__claimant__employee_no",
            "claim__claimant__name",
            "claim__department_name",
            "position",
            "expense_date",
            "category__code",
            "description",
            "merchant",
            "amount",
            "currency",
            "fx_rate",
            "base_amount",
            "approved_amount",
            "claim__base_currency",
            "invoice_number",
        )
    )


def export_title(kind: str) -> Any:
    if kind == CLAIM_LINES:
        return _("Claim lines")
    report = report_for(kind)
    return report.title if report else kind


def export_columns(kind: str) -> list[Column]:
    return LINE_COLUMNS if kind == CLAIM_LINES else REPORTS[kind].columns


def scope(kind: str, user: Any | None, params: ReportParams) -> QuerySet[Claim]:
    """The claims an export or report of ``kind`` reads for ``user`` (None: the whole company)."""
    report = report_for(kind)
    return report_claims(user, params, drafts=bool(report and report.covers_drafts))


def export_rows(kind: str, claims: QuerySet[Claim], params: ReportParams) -> Iterator[tuple]:
    if kind == CLAIM_LINES:
        return claim_lines(claims, params).iterator(chunk_size=CHUNK)
    return REPORTS[kind].rows(claims, params)
