"""Finance's reads: the payment queue, batches, and the claim lines of the accounting journal."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from org.choices import Role
from org.selectors import user_roles
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, ClaimLine, Payment, PaymentBatch, PaymentStatus
from reimbursement.selectors import claims_visible_to

# States of a claim whose approved amount is booked: the journal's scope (voided and rejected are not).
BOOKED_STATUSES = (ClaimStatus.APPROVED, ClaimStatus.PAYING, ClaimStatus.PAID)


def finance_sees_submitted_claims(user: Any) -> Q | None:
    """Visibility rule (registered in ReimbursementConfig.ready): finance sees every claim that was ever
    submitted; a draft nobody has submitted stays its claimant's own."""
    if Role.FINANCE in user_roles(user):
        return Q(submission_count__gt=0)
    return None


def payment_queue(user: Any) -> QuerySet[Claim]:
    """Approved claims waiting for payment, oldest approval first, each with its claimant's bank account
    (or None) and the reason of its last failed payment, in one query."""
    failed = Payment.objects.filter(claim=OuterRef("pk"), status=PaymentStatus.FAILED).order_by("-failed_at", "-id")
    return (
        claims_visible_to(user)
        .filter(status=ClaimStatus.APPROVED)
        .select_related("claimant", "claimant__department", "claimant__payee_account")
        .annotate(
            last_failure=Subquery(failed.values("failure_reason")[:1]),
            last_failed_batch=Subquery(failed.values("batch__number")[:1]),
        )
        .order_by("decided_at", "id")
    )


def batch_list(user: Any) -> QuerySet[PaymentBatch]:
    """Every payment batch, newest first (callers have checked the finance role)."""
    return PaymentBatch.objects.order_by("-created_at", "-id")


def batch_detail(user: Any, batch_id: int) -> PaymentBatch:
    """One batch with its payments, their claims and payees, in two queries (DoesNotExist otherwise)."""
    payments = Payment.objects.select_related("claim", "payee").order_by("payee__employee_no", "claim_id")
    return PaymentBatch.objects.prefetch_related(Prefetch("payments", queryset=payments)).get(pk=batch_id)


def local_day_bounds(date_from: datetime.date, date_to: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start of date_from, start of the day after date_to) in the site's time zone."""
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(date_from, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(date_to + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return start, end


def journal_lines(user: Any, *, date_from: datetime.date, date_to: datetime.date) -> QuerySet[ClaimLine]:
    """Lines of the claims approved in the date range (local days) and not voided since, ordered by claim,
    for ``exports.journal_rows``."""
    start, end = local_day_bounds(date_from, date_to)
    claims = claims_visible_to(user).filter(status__in=BOOKED_STATUSES, decided_at__gte=start, decided_at__lt=end)
    return (
        ClaimLine.objects.filter(claim__in=claims.values("pk"))
        .select_related("claim", "claim__claimant", "category")
        .order_by("claim__decided_at", "claim_id", "position", "id")
    )
