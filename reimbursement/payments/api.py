"""Finance API, /api/v1/finance/: the payment queue, batches (create, bank file, mark paid), a failed
payment, voiding a claim and the accounting journal. Anyone without the finance role gets 404 on all of it.

POSTs that create or decide honour ``Idempotency-Key``. The bank-file export does not: it changes no
state, a retry simply exports (and audits) again, and a stored replay could not carry the file.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_responses, idempotent
from config.errors import ApplicationError, NotFoundError
from reimbursement.models import Claim, Payment, PaymentBatch, PaymentBatchStatus
from reimbursement.payments import selectors, services
from reimbursement.payments.views import journal_response

TAG = ["finance"]


class FileNegotiation(BaseContentNegotiation):
    """For the file endpoints: the answer is the file (a plain response, whatever the Accept header) or an
    error in the JSON shape. ``?format=`` is the file's format there, not DRF's renderer override."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> Any:
        return JSONRenderer(), JSONRenderer.media_type


# --- Serializers ----------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "description": "`open` (awaiting payment), `paid`, or `failed` (every payment failed).",
        "example": PaymentBatchStatus.OPEN.value,
    }
)
class BatchStatusField(serializers.CharField):
    """The batch's status, described without an enum component: the batch appears in three components
    (Batch, BatchDetail, MarkPaidResult), and drf-spectacular could not name one enum for all three."""


class PayeeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    employee_no = serializers.CharField()


class QueueClaimSerializer(serializers.ModelSerializer):
    claimant = PayeeSerializer()
    amount = serializers.SerializerMethodField(help_text="The approved amount, a decimal string.")
    currency = serializers.CharField(source="base_currency")
    approved_at = serializers.DateTimeField(source="decided_at")
    payee_account = serializers.SerializerMethodField(help_text="Bank and masked number; null when none on file.")
    last_failure = serializers.CharField(allow_null=True, help_text="Reason of the claim's last failed payment.")

    class Meta:
        model = Claim
        fields = [
            "id",
            "number",
            "claimant",
            "purpose",
            "amount",
            "currency",
            "approved_at",
            "payee_account",
            "last_failure",
        ]

    def get_amount(self, claim: Claim) -> str:
        return str(claim.approved_amount if claim.approved_amount is not None else claim.total_amount)

    def get_payee_account(self, claim: Claim) -> dict[str, str] | None:
        account = getattr(claim.claimant, "payee_account", None)
        if account is None:
            return None
        return {"bank": account.bank_name, "account_number": account.masked_account_number}


class PaymentSerializer(serializers.ModelSerializer):
    claim = serializers.SerializerMethodField()
    payee = PayeeSerializer()
    amount = serializers.DecimalField(max_digits=13, decimal_places=2)
    account_number = serializers.CharField(source="masked_account_number")

    class Meta:
        model = Payment
        fields = [
            "id",
            "claim",
            "payee",
            "amount",
            "currency",
            "status",
            "account_bank",
            "account_number",
            "failure_reason",
            "failed_at",
            "paid_at",
        ]

    def get_claim(self, payment: Payment) -> dict[str, Any]:
        return {"id": payment.claim_id, "number": payment.claim.number}


class BatchSerializer(serializers.ModelSerializer):
    status = BatchStatusField(read_only=True)
    total_amount = serializers.DecimalField(max_digits=13, decimal_places=2)

    class Meta:
        model = PaymentBatch
        fields = [
            "id",
            "number",
            "status",
            "currency",
            "total_amount",
            "payment_count",
            "note",
            "created_by_name",
            "created_at",
            "export_count",
            "exported_at",
            "paid_reference",
            "paid_on",
            "paid_at",
            "paid_by_name",
        ]


class BatchDetailSerializer(BatchSerializer):
    payments = PaymentSerializer(many=True)

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "payments"]


class BatchCreateSerializer(serializers.Serializer):
    claims = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=True, max_length=1000)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class MarkPaidSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100, help_text="The bank's reference for the payment run.")
    paid_on = serializers.DateField(help_text="The date the bank paid; not in the future.")


class MarkPaidResultSerializer(BatchDetailSerializer):
    newly_paid = serializers.IntegerField(help_text="Payments paid by this request; 0 when it was already paid.")

    class Meta(BatchDetailSerializer.Meta):
        fields = [*BatchDetailSerializer.Meta.fields, "newly_paid"]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class VoidedClaimSerializer(serializers.ModelSerializer):
    class Meta:
        model = Claim
        fields = ["id", "number", "status"]


class JournalQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["date_from"] > data["date_to"]:
            raise serializers.ValidationError({"date_to": [_("The end date is before the start date.")]})
        return data


# --- Views ----------------------------------------------------------------------------------------


class FinanceView(APIView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not getattr(self, "swagger_fake_view", False):
            services.ensure_finance(request.user)


def batch_response(user: Any, batch_id: int, status: int = 200, **extra: Any) -> Response:
    try:
        batch = selectors.batch_detail(user, batch_id)
    except PaymentBatch.DoesNotExist:
        raise NotFoundError(_("This payment batch does not exist.")) from None
    data = BatchDetailSerializer(batch).data | extra
    headers = {"Location": reverse("api-finance-batch", kwargs={"batch_id": batch_id})} if status == 201 else None
    return Response(data, status=status, headers=headers)


class QueueView(FinanceView, GenericAPIView):
    serializer_class = QueueClaimSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Claim.objects.none()
        return selectors.payment_queue(self.request.user)

    @extend_schema(
        operation_id="finance_queue_list",
        tags=TAG,
        summary="Approved claims waiting for payment",
        parameters=[OpenApiParameter("currency", str, description="Only claims in this base currency.")],
        responses={200: QueueClaimSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request) -> Response:
        claims = self.get_queryset()
        currency = (request.query_params.get("currency") or "").upper()
        if currency:
            claims = claims.filter(base_currency=currency)
        page = self.paginate_queryset(claims)
        return self.get_paginated_response(QueueClaimSerializer(page, many=True).data)


class BatchListView(FinanceView, GenericAPIView):
    serializer_class = BatchSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PaymentBatch.objects.none()
        return selectors.batch_list(self.request.user)

    @extend_schema(
        operation_id="finance_batches_list",
        tags=TAG,
        summary="Payment batches, newest first",
        responses={200: BatchSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(BatchSerializer(page, many=True).data)

    @extend_schema(
        operation_id="finance_batches_create",
        tags=TAG,
        summary="Put approved claims into a new payment batch",
        description="All or nothing. 400 `empty_selection`, `mixed_currencies` (one currency per batch), "
        "`no_payee_account` (names the employees), `nothing_to_pay`; 409 `not_payable` / `already_in_batch` "
        "when a claim is no longer approved (another batch took it; the message names the claim).",
        request=BatchCreateSerializer,
        responses={201: BatchDetailSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        form = BatchCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        batch = services.batch_create(
            actor=request.user, claim_ids=form.validated_data["claims"], note=form.validated_data["note"]
        )
        return batch_response(request.user, batch.pk, status=201)


class BatchDetailView(FinanceView):
    @extend_schema(
        operation_id="finance_batches_retrieve",
        tags=TAG,
        summary="A batch with its payments",
        responses={200: BatchDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, batch_id: int) -> Response:
        return batch_response(request.user, batch_id)


class BatchExportView(FinanceView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        operation_id="finance_batches_export",
        tags=TAG,
        summary="The bank payment file of an open batch (CSV)",
        description="One row per payee (docs/bank-file.md), account numbers in clear; every export is "
        "audited. 409 when the batch is paid or failed, or a payee's account changed since the batch was made.",
        request=None,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file."),
            **error_responses(401, 404, 409),
        },
    )
    def post(self, request: Request, batch_id: int) -> HttpResponse:
        result = services.batch_export_bank_file(batch_id=batch_id, actor=request.user)
        response = HttpResponse(result.content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        response["Cache-Control"] = "no-store"
        return response


class BatchMarkPaidView(FinanceView):
    @extend_schema(
        operation_id="finance_batches_mark_paid",
        tags=TAG,
        summary="Mark the batch paid with the bank's reference and date",
        description="Its pending payments are paid and their claims move to paid. Again with the same "
        "reference: 200 and nothing changes (`newly_paid` 0); with another reference: 409 `already_paid`. "
        "409 `not_exported` before the bank file was exported.",
        request=MarkPaidSerializer,
        responses={200: MarkPaidResultSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, batch_id: int) -> Response:
        form = MarkPaidSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        done = services.batch_mark_paid(batch_id=batch_id, actor=request.user, **form.validated_data)
        return batch_response(request.user, batch_id, newly_paid=done.newly_paid)


class PaymentFailView(FinanceView):
    @extend_schema(
        operation_id="finance_payments_fail",
        tags=TAG,
        summary="The bank refused one payment",
        description="The payment is failed with the reason; its claim is approved again and back in the queue. "
        "Failing it again changes nothing; 409 when it was already paid.",
        request=ReasonSerializer,
        responses={200: PaymentSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, payment_id: int) -> Response:
        form = ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.payment_mark_failed(payment_id=payment_id, actor=request.user, reason=form.validated_data["reason"])
        payment = Payment.objects.select_related("claim", "payee").get(pk=payment_id)
        return Response(PaymentSerializer(payment).data)


class ClaimVoidView(FinanceView):
    @extend_schema(
        operation_id="finance_claims_void",
        tags=TAG,
        summary="Void a claim with a reason",
        description="Final. From submitted, in approval, returned, withdrawn or approved; 409 otherwise "
        "(a claim being paid needs its payment failed first). Voiding a voided claim changes nothing.",
        request=ReasonSerializer,
        responses={200: VoidedClaimSerializer, **error_responses(400, 401, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, claim_id: int) -> Response:
        form = ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        claim = services.claim_void(claim_id=claim_id, actor=request.user, reason=form.validated_data["reason"])
        return Response(VoidedClaimSerializer(claim).data)


class JournalView(FinanceView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        operation_id="finance_journal",
        tags=TAG,
        summary="Journal entries of the claims approved in a date range (CSV or XLSX)",
        description="A debit per line and a balancing credit per claim (docs/bank-file.md). 400 `no_data` "
        "when no claim was approved in the range.",
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, required=True),
            OpenApiParameter("date_to", OpenApiTypes.DATE, required=True),
            OpenApiParameter("format", str, enum=["csv", "xlsx"], description="csv by default"),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The journal."),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        form = JournalQuerySerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        lines = selectors.journal_lines(request.user, date_from=data["date_from"], date_to=data["date_to"])
        if not lines.exists():
            raise ApplicationError(
                _("No claims were approved between %(start)s and %(end)s: there is nothing to export.")
                % {"start": data["date_from"], "end": data["date_to"]},
                code="no_data",
            )
        return journal_response(lines, data["date_from"], data["date_to"], data["format"])


urlpatterns = [
    path("finance/queue/", QueueView.as_view(), name="api-finance-queue"),
    path("finance/batches/", BatchListView.as_view(), name="api-finance-batches"),
    path("finance/batches/<int:batch_id>/", BatchDetailView.as_view(), name="api-finance-batch"),
    path("finance/batches/<int:batch_id>/export/", BatchExportView.as_view(), name="api-finance-batch-export"),
    path("finance/batches/<int:batch_id>/mark-paid/", BatchMarkPaidView.as_view(), name="api-finance-batch-paid"),
    path("finance/payments/<int:payment_id>/fail/", PaymentFailView.as_view(), name="api-finance-payment-fail"),
    path("finance/claims/<int:claim_id>/void/", ClaimVoidView.as_view(), name="api-finance-claim-void"),
    path("finance/journal/", JournalView.as_view(), name="api-finance-journal"),
]
