"""The policy check: every rule a claim meets, as blocks (must fix) and warnings (must justify).

One call evaluates the whole claim with a fixed number of queries, whatever the number of lines, so the
pre-flight screen and submit stay fast.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from reimbursement.choices import RELEASED_STATUSES, PolicyAction, PolicyKind
from reimbursement.models import Attachment, Claim, ClaimLine, InvoiceRegistration, PolicyRule
from reimbursement.snapshots import claim_lines

BLOCK, WARN = PolicyAction.BLOCK.value, PolicyAction.WARN.value


@dataclass(frozen=True)
class PolicyHit:
    code: str  # "policy:<id>" for admin rules, a built-in name otherwise
    severity: str  # block | warn
    message: str
    line_id: int | None = None
    line_position: int | None = None  # 1-based, for messages

    @property
    def key(self) -> str:
        """Identifies the hit for its justification: the same rule on another line is another key."""
        return f"{self.code}@{self.line_id or 0}"


def _money(value: Decimal, currency: str) -> str:
    return f"{formats.number_format(value, 2, use_l10n=True, force_grouping=True)} {currency}"


def _live_lines_of_claimant(claim: Claim):
    """Lines of the claimant's other claims that still count (not draft, withdrawn, rejected or voided)."""
    return (
        ClaimLine.objects.filter(claim__claimant_id=claim.claimant_id)
        .exclude(claim=claim)
        .exclude(claim__status__in=RELEASED_STATUSES)
    )


def applicable_rules(claim: Claim) -> list[PolicyRule]:
    """Active rules for the claimant: everyone's, their department's and its ancestors', their level's."""
    claimant = claim.claimant
    department_ids = [*claimant.department.ancestor_ids(), claimant.department_id]
    rules = PolicyRule.objects.filter(active=True).filter(
        Q(department__isnull=True) | Q(department_id__in=department_ids)
    )
    rules = rules.filter(Q(level_min__isnull=True) | Q(level_min__lte=claimant.level))
    rules = rules.filter(Q(level_max__isnull=True) | Q(level_max__gte=claimant.level))
    return list(rules.select_related("category"))


def evaluate_claim(claim: Claim, *, today: datetime.date | None = None) -> list[PolicyHit]:
    """Every policy hit of the claim as it stands, blocks first, then in line order."""
    today = today or timezone.localdate()
    lines = claim_lines(claim)
    hits: list[PolicyHit] = []
    if not lines:
        return [PolicyHit("no_lines", BLOCK, _("Add at least one expense line."))]
    positions = {line.id: i for i, line in enumerate(lines, start=1)}

    def hit(code: str, severity: str, message: str, line: ClaimLine | None = None) -> None:
        hits.append(
            PolicyHit(code, severity, message, line.id if line else None, positions.get(line.id) if line else None)
        )

    cur = claim.base_currency
    for line in lines:
        n = positions[line.id]
        if line.expense_date > today:
            hit("future_date", BLOCK, _("Line %(n)d: the expense date is in the future.") % {"n": n}, line)
        threshold = line.category.receipt_required_above
        if threshold is not None and line.base_amount > threshold and not line.attachments.all():
            hit(
                f"category_receipt:{line.category_id}",
                BLOCK,
                (
                    _("Line %(n)d: %(category)s above %(limit)s needs a receipt.")
                    if threshold
                    else _("Line %(n)d: %(category)s always needs a receipt.")
                )
                % {"n": n, "category": line.category.name, "limit": _money(threshold, cur)},
                line,
            )

    _check_rules(claim, lines, positions, hit, today)
    _check_duplicates(claim, lines, positions, hit)
    hits.sort(key=lambda h: (h.severity != BLOCK, h.line_position or 0, h.code))
    return hits


def _check_rules(claim, lines, positions, hit, today) -> None:
    rules = applicable_rules(claim)
    if not rules:
        return
    cur = claim.base_currency
    need_day = any(r.kind == PolicyKind.CAP_PER_DAY for r in rules)
    need_month = any(r.kind == PolicyKind.CAP_PER_MONTH for r in rules)
    # Spending of the claimant's other live claims, per (category, day) and (category, month): one query each.
    other_day: dict[tuple[int, datetime.date], Decimal] = {}
    other_month: dict[tuple[int, datetime.date], Decimal] = {}
    dates = {line.expense_date for line in lines}
    if need_day:
        rows = _live_lines_of_claimant(claim).filter(expense_date__in=dates)
        rows = rows.values("category_id", "expense_date").annotate(total=Sum("base_amount"))
        other_day = {(r["category_id"], r["expense_date"]): r["total"] for r in rows}
    if need_month:
        months = {d.replace(day=1) for d in dates}
        rows = (
            _live_lines_of_claimant(claim)
            .annotate(month=TruncMonth("expense_date"))
            .filter(month__in=months)
            .values("category_id", "month")
            .annotate(total=Sum("base_amount"))
        )
        other_month = {(r["category_id"], _as_date(r["month"])): r["total"] for r in rows}

    this_day: dict[tuple[int, datetime.date], Decimal] = defaultdict(Decimal)
    this_month: dict[tuple[int, datetime.date], Decimal] = defaultdict(Decimal)
    for line in lines:
        this_day[(line.category_id, line.expense_date)] += line.base_amount
        this_month[(line.category_id, line.expense_date.replace(day=1))] += line.base_amount

    reported: set[tuple[int, tuple]] = set()
    for rule in rules:
        for line in lines:
            if rule.category_id and rule.category_id != line.category_id:
                continue
            n = positions[line.id]
            values = {"n": n, "rule": rule.name}
            if rule.kind == PolicyKind.CAP_PER_EXPENSE and line.base_amount > rule.amount:
                values |= {"amount": _money(line.base_amount, cur), "limit": _money(rule.amount, cur)}
                hit(
                    f"policy:{rule.pk}",
                    rule.action,
                    _("Line %(n)d: %(amount)s is above the %(limit)s per expense of “%(rule)s”.") % values,
                    line,
                )
            elif rule.kind in (PolicyKind.CAP_PER_DAY, PolicyKind.CAP_PER_MONTH):
                per_day = rule.kind == PolicyKind.CAP_PER_DAY
                period = line.expense_date if per_day else line.expense_date.replace(day=1)
                group = (line.category_id, period)
                if (rule.pk, group) in reported:
                    continue
                total = (this_day if per_day else this_month)[group] + (other_day if per_day else other_month).get(
                    group, Decimal("0")
                )
                if total > rule.amount:
                    reported.add((rule.pk, group))
                    values |= {"amount": _money(total, cur), "limit": _money(rule.amount, cur)}
                    message = (
                        _("Line %(n)d: %(amount)s on this day is above the daily %(limit)s of “%(rule)s”.")
                        if per_day
                        else _("Line %(n)d: %(amount)s this month is above the monthly %(limit)s of “%(rule)s”.")
                    )
                    hit(f"policy:{rule.pk}", rule.action, message % values, line)
            elif rule.kind == PolicyKind.RECEIPT_REQUIRED and line.base_amount > rule.amount:
                if not line.attachments.all():
                    values |= {"limit": _money(rule.amount, cur)}
                    hit(
                        f"policy:{rule.pk}",
                        rule.action,
                        _("Line %(n)d: expenses above %(limit)s need a receipt (“%(rule)s”).") % values,
                        line,
                    )
            elif rule.kind == PolicyKind.MAX_AGE and (today - line.expense_date).days > rule.days:
                values |= {"days": rule.days}
                hit(
                    f"policy:{rule.pk}",
                    rule.action,
                    _("Line %(n)d: the expense is older than %(days)d days (“%(rule)s”).") % values,
                    line,
                )


def _as_date(value) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def _check_duplicates(claim, lines, positions, hit) -> None:
    # Duplicate invoices: blocked. The database constraint on InvoiceRegistration is the real guarantee;
    # this check explains it before submit.
    keys = [line.invoice_key for line in lines if line.invoice_key]
    seen: dict[str, ClaimLine] = {}
    for line in lines:
        if not line.invoice_key:
            continue
        if line.invoice_key in seen:
            hit(
                "duplicate_invoice",
                BLOCK,
                _("Line %(n)d: the same invoice is already on line %(m)d of this claim.")
                % {"n": positions[line.id], "m": positions[seen[line.invoice_key].id]},
                line,
            )
        seen.setdefault(line.invoice_key, line)
    if keys:
        taken = dict(
            InvoiceRegistration.objects.filter(invoice_key__in=keys)
            .exclude(claim=claim)
            .values_list("invoice_key", "claim__number")
        )
        for line in lines:
            if line.invoice_key in taken:
                hit(
                    "duplicate_invoice",
                    BLOCK,
                    _("Line %(n)d: this invoice was already claimed on %(claim)s.")
                    % {"n": positions[line.id], "claim": taken[line.invoice_key]},
                    line,
                )

    # The same receipt file again: a warning (a shared taxi ride can legitimately reuse a photo).
    hashes: dict[str, list[ClaimLine]] = defaultdict(list)
    for line in lines:
        for attachment in line.attachments.all():
            hashes[attachment.sha256].append(line)
    if hashes:
        elsewhere = dict(
            Attachment.objects.filter(sha256__in=list(hashes))
            .exclude(line__claim=claim)
            .exclude(line__claim__status__in=RELEASED_STATUSES)
            .values_list("sha256", "line__claim__number")
        )
        for digest, owners in hashes.items():
            if digest in elsewhere:
                hit(
                    "duplicate_file",
                    WARN,
                    _("Line %(n)d: this receipt file was already used on %(claim)s.")
                    % {"n": positions[owners[0].id], "claim": elsewhere[digest]},
                    owners[0],
                )
            if len({line.id for line in owners}) > 1:
                hit(
                    "duplicate_file",
                    WARN,
                    _("Line %(n)d: the same receipt file is attached to line %(m)d too.")
                    % {"n": positions[owners[1].id], "m": positions[owners[0].id]},
                    owners[1],
                )

    # A similar line (same category, date and amount) on another live claim of the same person: a warning.
    candidates = (
        _live_lines_of_claimant(claim)
        .filter(expense_date__in={line.expense_date for line in lines})
        .values_list("category_id", "expense_date", "base_amount", "claim__number")
    )
    similar = {(c, d, a): number for c, d, a, number in candidates}
    for line in lines:
        number = similar.get((line.category_id, line.expense_date, line.base_amount))
        if number:
            hit(
                "similar_line",
                WARN,
                _("Line %(n)d: a line with the same category, date and amount is on %(claim)s.")
                % {"n": positions[line.id], "claim": number},
                line,
            )
