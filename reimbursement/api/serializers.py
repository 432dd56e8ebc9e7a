"""Shapes of the claims API: input serializers only parse (the services judge the values), output
serializers only render. Amounts are decimal strings, each inside a Money object with its currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reimbursement.choices import ClaimStatus, FxRateSource, InvoiceKind
from reimbursement.models import Attachment, Claim, ClaimLine, ExpenseCategory, PolicyWarning

# --- Output ---------------------------------------------------------------------------------------


class MoneySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=13, decimal_places=2, help_text="Decimal string, e.g. 128.50.")
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. CNY.")


def money(amount: Decimal | None, currency: str) -> dict[str, Any] | None:
    return None if amount is None else MoneySerializer({"amount": amount, "currency": currency}).data


class CategorySerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text="In the request's language.")

    class Meta:
        model = ExpenseCategory
        fields = ["id", "code", "name", "name_en", "name_zh", "accounting_code"]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "original_name", "content_type", "size", "sha256", "uploaded_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, attachment: Attachment) -> str:
        line = attachment.line
        return reverse(
            "api-attachment-download",
            kwargs={"claim_id": line.claim_id, "line_id": line.pk, "attachment_id": attachment.pk},
        )


class LineSerializer(serializers.ModelSerializer):
    category_code = serializers.CharField(source="category.code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    amount = serializers.SerializerMethodField()
    tax_amount = serializers.SerializerMethodField()
    base_amount = serializers.SerializerMethodField(help_text="The amount in the claim's base currency.")
    fx_rate = serializers.DecimalField(max_digits=18, decimal_places=8, read_only=True)
    fx_rate_source = serializers.ChoiceField(choices=FxRateSource.choices, read_only=True)
    invoice_kind = serializers.ChoiceField(choices=InvoiceKind.choices, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = ClaimLine
        fields = [
            "id",
            "position",
            "expense_date",
            "category",
            "category_code",
            "category_name",
            "description",
            "merchant",
            "amount",
            "tax_amount",
            "base_amount",
            "fx_rate",
            "fx_rate_source",
            "fx_override_reason",
            "invoice_kind",
            "invoice_code",
            "invoice_number",
            "invoice_date",
            "seller_name",
            "seller_tax_id",
            "attachments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneySerializer)
    def get_amount(self, line: ClaimLine) -> dict:
        return money(line.amount, line.currency)

    @extend_schema_field(MoneySerializer)
    def get_tax_amount(self, line: ClaimLine) -> dict:
        return money(line.tax_amount, line.currency)

    @extend_schema_field(MoneySerializer)
    def get_base_amount(self, line: ClaimLine) -> dict:
        return money(line.base_amount, line.claim.base_currency)


class ClaimantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    employee_no = serializers.CharField()


class ClaimSerializer(serializers.ModelSerializer):
    """A claim as lists show it."""

    status = serializers.ChoiceField(choices=ClaimStatus.choices, read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    claimant = ClaimantSerializer(read_only=True)
    total = serializers.SerializerMethodField()
    approved_total = serializers.SerializerMethodField()
    is_editable = serializers.BooleanField(read_only=True)
    line_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "number",
            "status",
            "status_display",
            "claimant",
            "department_name",
            "purpose",
            "cost_centre",
            "project",
            "base_currency",
            "total",
            "approved_total",
            "is_editable",
            "line_count",
            "submission_count",
            "created_at",
            "updated_at",
            "submitted_at",
            "decided_at",
            "paid_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneySerializer)
    def get_total(self, claim: Claim) -> dict:
        return money(claim.total_amount, claim.base_currency)

    @extend_schema_field(MoneySerializer(allow_null=True))
    def get_approved_total(self, claim: Claim) -> dict | None:
        return money(claim.approved_amount, claim.base_currency)


class PolicyWarningSerializer(serializers.ModelSerializer):
    line = serializers.IntegerField(source="line_id", allow_null=True, read_only=True)

    class Meta:
        model = PolicyWarning
        fields = ["submission", "code", "message", "justification", "line", "created_at"]
        read_only_fields = fields


class ClaimDetailSerializer(ClaimSerializer):
    """One claim with its lines, their files and the warnings it was submitted with."""

    lines = LineSerializer(many=True, read_only=True)
    policy_warnings = PolicyWarningSerializer(many=True, read_only=True)

    # The detail is read without the list's annotation; its lines are prefetched, so count those.
    line_count = serializers.SerializerMethodField()

    class Meta(ClaimSerializer.Meta):
        fields = [*ClaimSerializer.Meta.fields, "lines", "policy_warnings"]
        read_only_fields = fields

    def get_line_count(self, claim: Claim) -> int:
        return len(claim.lines.all())


class PolicyHitSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='"policy:<rule id>" for admin rules, a built-in name otherwise.')
    severity = serializers.ChoiceField(choices=[("block", "block"), ("warn", "warn")])
    message = serializers.CharField()
    line = serializers.IntegerField(source="line_id", allow_null=True, help_text="The line's id, if any.")
    line_position = serializers.IntegerField(allow_null=True, help_text="1-based, as in the message.")
    key = serializers.CharField(help_text="Use as the key of this warning's justification when submitting.")


class PreflightSerializer(serializers.Serializer):
    can_submit = serializers.BooleanField(help_text="Editable and without blocking hits.")
    hits = PolicyHitSerializer(many=True)


# --- Input ----------------------------------------------------------------------------------------


class LineInputSerializer(serializers.Serializer):
    """One expense line; amounts as decimal strings (numbers are accepted too)."""

    expense_date = serializers.DateField()
    category = serializers.IntegerField(help_text="An id from /api/v1/categories/.")
    amount = serializers.DecimalField(max_digits=13, decimal_places=2)
    currency = serializers.CharField(max_length=8)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    merchant = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    tax_amount = serializers.DecimalField(max_digits=13, decimal_places=2, required=False, allow_null=True)
    invoice_kind = serializers.ChoiceField(choices=InvoiceKind.choices, required=False, default=InvoiceKind.NONE)
    invoice_code = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    invoice_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    invoice_date = serializers.DateField(required=False, allow_null=True)
    seller_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    seller_tax_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    fx_rate = serializers.DecimalField(
        max_digits=18,
        decimal_places=8,
        required=False,
        allow_null=True,
        help_text="A rate you enter yourself (units of the base currency per unit); needs fx_override_reason.",
    )
    fx_override_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ClaimCreateSerializer(serializers.Serializer):
    purpose = serializers.CharField(allow_blank=True, max_length=2000)
    cost_centre = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    project = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    base_currency = serializers.CharField(required=False, allow_blank=True, default="", max_length=8)
    lines = LineInputSerializer(
        many=True,
        required=False,
        max_length=200,
        help_text="Lines created with the claim: all of them or, on any error, none.",
    )


class ClaimHeaderSerializer(serializers.Serializer):
    """What a PATCH may change on a claim; fields not sent keep their values."""

    purpose = serializers.CharField(allow_blank=True, max_length=2000)
    cost_centre = serializers.CharField(allow_blank=True, max_length=2000)
    project = serializers.CharField(allow_blank=True, max_length=2000)


class SubmitSerializer(serializers.Serializer):
    justifications = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2000),
        required=False,
        default=dict,
        help_text="A text per policy warning, keyed by the hit's key from the preflight.",
    )


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="JPEG, PNG, WebP, PDF, OFD or XML; checked by content.")
