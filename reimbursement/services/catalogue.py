"""Reference data kept by admins and finance: exchange rates."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.errors import ApplicationError
from reimbursement.models import FxRate


@transaction.atomic
def fx_rate_set(*, currency: str, date: datetime.date, rate: Decimal, actor: Any, base_currency: str = "") -> FxRate:
    """Set the rate of one currency on one date (insert or correct), with an audit event."""
    currency = currency.upper()
    base_currency = (base_currency or settings.BAOXIAO_BASE_CURRENCY).upper()
    if currency not in settings.BAOXIAO_CURRENCIES or currency == base_currency:
        raise ApplicationError(_("Choose a foreign currency."), fields={"currency": [_("Unknown currency.")]})
    if rate <= 0:
        raise ApplicationError(_("The rate must be more than zero."), fields={"rate": [_("Must be positive.")]})
    existing = (
        FxRate.objects.select_for_update().filter(currency=currency, base_currency=base_currency, date=date).first()
    )
    previous = str(existing.rate) if existing else None
    if existing:
        existing.rate = rate
        existing.save(update_fields=["rate"])
        fx = existing
    else:
        fx = FxRate.objects.create(currency=currency, base_currency=base_currency, date=date, rate=rate)
    audit_record(
        action="fx_rate.set",
        target=fx,
        actor=actor,
        data={"currency": currency, "date": date.isoformat(), "rate": str(rate), "previous": previous},
    )
    return fx
