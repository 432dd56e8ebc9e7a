"""Demo routing rules: a published rule set new claims are routed with. Idempotent."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from approvals.choices import ReturnPolicy, RuleSetStatus, StepKind, StepMode
from approvals.models import RuleSet
from approvals.services.rules import rule_add
from org.models import Employee


@transaction.atomic
def seed_approvals_demo() -> dict[str, int]:
    """Publish rule set v1 unless some rule set exists already."""
    if RuleSet.objects.exists():
        return {"rule_sets": 0}
    cfo = Employee.objects.filter(user__username="sunli").first()
    rule_set = RuleSet.objects.create(version=1, status=RuleSetStatus.DRAFT, fallback_approver=cfo, note="Demo rules")
    rule_add(
        rule_set=rule_set,
        name="Large claims: manager, head of division, finance",
        amount_min=Decimal("5000"),
        return_policy=ReturnPolicy.RESUME,
        steps=[
            {"name": "Manager", "kind": StepKind.DIRECT_MANAGER},
            {"name": "Head of division", "kind": StepKind.DEPARTMENT_HEAD, "levels": 1},
            {"name": "Finance review", "kind": StepKind.ROLE, "role": "finance", "mode": StepMode.ANY},
        ],
    )
    rule_add(
        rule_set=rule_set,
        name="Everyday claims: manager",
        return_policy=ReturnPolicy.RESTART,
        steps=[{"name": "Manager", "kind": StepKind.DIRECT_MANAGER, "sla_hours": 48}],
    )
    from approvals.services.rules import validate_rule_set

    assert not validate_rule_set(rule_set), validate_rule_set(rule_set)
    from django.utils import timezone

    rule_set.status, rule_set.published_at = RuleSetStatus.PUBLISHED, timezone.now()
    rule_set.save(update_fields=["status", "published_at"])
    return {"rule_sets": 1}
