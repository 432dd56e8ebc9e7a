from django.contrib import admin

from reimbursement.models import (
    Attachment,
    Claim,
    ClaimLine,
    ExpenseCategory,
    FxRate,
    InvoiceRegistration,
    PayeeAccount,
    PolicyRule,
)


@admin.register(ExpenseCategory)
class ExpenseCategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_zh", "accounting_code", "receipt_required_above", "active", "sort_order"]
    list_editable = ["active", "sort_order"]
    search_fields = ["code", "name_en", "name_zh", "accounting_code"]


@admin.register(PolicyRule)
class PolicyRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "action",
        "category",
        "department",
        "level_min",
        "level_max",
        "amount",
        "days",
        "active",
    ]
    list_filter = ["kind", "action", "active", "category"]
    list_select_related = ["category", "department"]
    autocomplete_fields = ["department"]
    search_fields = ["name"]


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    """Rates are kept here; a change is recorded by django-auditlog."""

    list_display = ["currency", "base_currency", "date", "rate"]
    list_filter = ["currency"]
    date_hierarchy = "date"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Claims change only through their services: the admin shows them, it does not edit them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ClaimLineInline(admin.TabularInline):
    model = ClaimLine
    fields = [
        "position",
        "expense_date",
        "category",
        "amount",
        "currency",
        "base_amount",
        "invoice_kind",
        "invoice_number",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    list_display = ["number", "claimant", "status", "total_amount", "base_currency", "created_at", "submitted_at"]
    list_filter = ["status"]
    search_fields = ["number", "purpose", "claimant__name"]
    list_select_related = ["claimant"]
    inlines = [ClaimLineInline]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "content_type", "size", "sha256", "uploaded_at"]


@admin.register(InvoiceRegistration)
class InvoiceRegistrationAdmin(ReadOnlyAdmin):
    list_display = ["invoice_key", "claim", "created_at"]
    search_fields = ["invoice_key"]


@admin.register(PayeeAccount)
class PayeeAccountAdmin(ReadOnlyAdmin):
    list_display = ["employee", "bank_name", "masked_account_number"]
    fields = ["employee", "account_name", "bank_name", "branch", "masked_account_number", "masked_id_number"]
    readonly_fields = fields
