"""Demo reference data: expense categories, policy rules and recent exchange rates. Idempotent."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reimbursement.choices import PolicyAction, PolicyKind
from reimbursement.models import ExpenseCategory, FxRate, PolicyRule

# code, English, Chinese, accounting code, receipt required above (None = optional)
CATEGORIES = [
    ("air", "Air travel", "机票", "6601.01", Decimal("0")),
    ("train", "Train", "火车票", "6601.02", Decimal("0")),
    ("taxi", "Taxi and ride-hailing", "出租车/网约车", "6601.03", Decimal("100")),
    ("hotel", "Hotel", "住宿", "6601.04", Decimal("0")),
    ("meals", "Meals", "餐饮", "6602.01", Decimal("200")),
    ("entertainment", "Client entertainment", "业务招待", "6602.02", Decimal("0")),
    ("office", "Office supplies", "办公用品", "6603.01", Decimal("500")),
    ("telecom", "Phone and internet", "通讯费", "6603.02", None),
    ("training", "Training", "培训", "6604.01", Decimal("0")),
    ("other", "Other", "其他", "6699.00", Decimal("200")),
]

# name, kind, action, category code, level range, amount, days
POLICIES = [
    (
        "Hotel up to level 5: 600 a night",
        PolicyKind.CAP_PER_EXPENSE,
        PolicyAction.WARN,
        "hotel",
        (None, 5),
        "600",
        None,
    ),
    (
        "Hotel from level 6: 1,000 a night",
        PolicyKind.CAP_PER_EXPENSE,
        PolicyAction.WARN,
        "hotel",
        (6, None),
        "1000",
        None,
    ),
    ("Meals: 300 a day", PolicyKind.CAP_PER_DAY, PolicyAction.WARN, "meals", (None, None), "300", None),
    ("Taxi: 1,500 a month", PolicyKind.CAP_PER_MONTH, PolicyAction.WARN, "taxi", (None, None), "1500", None),
    (
        "Client entertainment: 5,000 at most",
        PolicyKind.CAP_PER_EXPENSE,
        PolicyAction.BLOCK,
        "entertainment",
        (None, None),
        "5000",
        None,
    ),
    ("Receipts above 100", PolicyKind.RECEIPT_REQUIRED, PolicyAction.WARN, None, (None, None), "100", None),
    ("Claim within 180 days", PolicyKind.MAX_AGE, PolicyAction.BLOCK, None, (None, None), None, 180),
]

# Units of CNY per unit, a plausible level; the demo varies them a little by day.
FX_LEVELS = {"USD": "7.10", "EUR": "7.70", "HKD": "0.91", "JPY": "0.048", "GBP": "9.00", "SGD": "5.30"}


@transaction.atomic
def seed_reimbursement_demo(days_of_rates: int = 120) -> dict[str, int]:
    """Create the missing categories, policies and the last ``days_of_rates`` days of rates."""
    added = {"categories": 0, "policies": 0, "fx_rates": 0}
    categories = {}
    for order, (code, en, zh, account, receipt) in enumerate(CATEGORIES):
        category, created = ExpenseCategory.objects.get_or_create(
            code=code,
            defaults={
                "name_en": en,
                "name_zh": zh,
                "accounting_code": account,
                "receipt_required_above": receipt,
                "sort_order": order * 10,
            },
        )
        categories[code] = category
        added["categories"] += created
    for name, kind, action, category, (low, high), amount, days in POLICIES:
        _, created = PolicyRule.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "action": action,
                "category": categories.get(category),
                "level_min": low,
                "level_max": high,
                "amount": Decimal(amount) if amount else None,
                "days": days,
            },
        )
        added["policies"] += created
    base = settings.BAOXIAO_BASE_CURRENCY
    today = timezone.localdate()
    existing = set(
        FxRate.objects.filter(base_currency=base, date__gt=today - datetime.timedelta(days=days_of_rates)).values_list(
            "currency", "date"
        )
    )
    rows = []
    for offset in range(days_of_rates):
        day = today - datetime.timedelta(days=offset)
        for currency, level in FX_LEVELS.items():
            if currency == base or currency not in settings.BAOXIAO_CURRENCIES or (currency, day) in existing:
                continue
            wobble = Decimal(1) + Decimal((day.toordinal() * 37 + len(currency)) % 41 - 20) / Decimal(2000)
            rows.append(
                FxRate(
                    currency=currency,
                    base_currency=base,
                    date=day,
                    rate=(Decimal(level) * wobble).quantize(Decimal("0.00000001")),
                )
            )
    FxRate.objects.bulk_create(rows)
    added["fx_rates"] = len(rows)
    added["bank_accounts"] = _seed_bank_accounts()
    return added


def _seed_bank_accounts() -> int:
    """A made-up bank account for every demo employee, so finance can pay demo claims at once."""
    from org.models import Employee
    from reimbursement.models import PayeeAccount
    from reimbursement.services import payee_account_set

    added = 0
    have = set(PayeeAccount.objects.values_list("employee_id", flat=True))
    for employee in Employee.objects.select_related("user").exclude(pk__in=have).order_by("pk"):
        payee_account_set(
            employee=employee,
            actor=employee.user,
            account_name=employee.name,
            bank_name="中国工商银行 ICBC",
            branch="Demo branch",
            account_number=f"62220200{employee.pk:011d}",
        )
        added += 1
    return added
