"""One FilterSet for claim lists, used by the HTML pages and the API alike (style.md §8)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim


class ClaimFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ClaimStatus.choices, label=_("Status"))
    created_from = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label=_("From"))
    created_to = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label=_("To"))
    amount_min = django_filters.NumberFilter(field_name="total_amount", lookup_expr="gte", label=_("Amount from"))
    amount_max = django_filters.NumberFilter(field_name="total_amount", lookup_expr="lte", label=_("Amount to"))
    q = django_filters.CharFilter(method="search", label=_("Search"))
    # Drill-down from the finance dashboards (reimbursement/dashboards): the claims behind one figure.
    currency = django_filters.CharFilter(field_name="base_currency", lookup_expr="iexact", label=_("Currency"))
    department = django_filters.NumberFilter(field_name="department_id", label=_("Department"))
    category = django_filters.NumberFilter(method="with_category", label=_("Category"))
    decided_from = django_filters.DateFilter(field_name="decided_at", lookup_expr="date__gte", label=_("Decided from"))
    decided_to = django_filters.DateFilter(field_name="decided_at", lookup_expr="date__lte", label=_("Decided to"))
    pending_approver = django_filters.NumberFilter(method="pending_with", label=_("Waiting for approver"))
    ordering = django_filters.OrderingFilter(
        fields=(
            ("created_at", "created"),
            ("submitted_at", "submitted"),
            ("total_amount", "amount"),
            ("number", "number"),
            ("status", "status"),
        ),
        label=_("Sort"),
    )

    class Meta:
        model = Claim
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(number__icontains=value) | queryset.filter(purpose__icontains=value) if value else queryset
        )

    def with_category(self, queryset, name, value):
        # A sub-select, not a join: a claim with two lines in the category must stay one row.
        return queryset.filter(pk__in=Claim.objects.filter(lines__category_id=value).values("pk"))

    def pending_with(self, queryset, name, value):
        # Through the reverse relation named by approvals, so this app does not import it.
        pending = Claim.objects.filter(approval_tasks__assignee_id=value, approval_tasks__status="pending")
        return queryset.filter(pk__in=pending.values("pk"))
