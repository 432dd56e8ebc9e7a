"""Converting line amounts into the claim's base currency."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from config.errors import ApplicationError
from reimbursement.models import FxRate

CENT = Decimal("0.01")


def to_base(amount: Decimal, rate: Decimal) -> Decimal:
    """The amount in the base currency, rounded half-up to the cent, computed once and stored."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def rate_for(*, currency: str, base_currency: str, date: datetime.date) -> Decimal:
    """The table rate of the date, or the latest before it (weekends, holidays) within the allowed age."""
    if currency == base_currency:
        return Decimal("1")
    oldest = date - datetime.timedelta(days=settings.BAOXIAO_FX_MAX_AGE_DAYS)
    rate = (
        FxRate.objects.filter(currency=currency, base_currency=base_currency, date__lte=date, date__gte=oldest)
        .order_by("-date")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise ApplicationError(
            _(
                "No exchange rate for %(currency)s on or before %(date)s: ask finance to add one, or enter the rate "
                "with a reason."
            )
            % {"currency": currency, "date": date.isoformat()},
            code="fx_rate_missing",
            fields={"currency": [_("No exchange rate for this date.")]},
        )
    return rate
