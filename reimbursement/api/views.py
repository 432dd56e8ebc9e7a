"""Claims API: claims, their preflight and transitions, and the category list (lines and files are in
``line_views``). Reads start from ``claims_visible_to``; every write is one service call."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_responses, idempotent
from config.errors import ApplicationError, NotFoundError
from reimbursement import services
from reimbursement.api import serializers as s
from reimbursement.filtersets import ClaimFilterSet
from reimbursement.models import Claim
from reimbursement.policy import BLOCK, evaluate_claim
from reimbursement.selectors import active_categories, claim_detail, claim_list, claims_visible_to
from reimbursement.services import LineInput

TAG = ["claims"]


def visible_claim(user: Any, claim_id: int) -> Claim:
    """The claim with lines, files and warnings, or 404 when it is not one the user may see."""
    try:
        return claim_detail(user, claim_id)
    except Claim.DoesNotExist:
        raise NotFoundError(_("This claim does not exist.")) from None


def ensure_visible(user: Any, claim_id: int) -> None:
    """404 before anything else when the user may not see the claim, whatever the request body says."""
    if not claims_visible_to(user).filter(pk=claim_id).exists():
        raise NotFoundError(_("This claim does not exist."))


def line_input(values: dict[str, Any]) -> LineInput:
    """The service's input from a validated line (LineInputSerializer field names)."""
    return LineInput(
        expense_date=values.get("expense_date"),
        category_id=values.get("category"),
        amount=values.get("amount"),
        currency=values.get("currency") or "",
        description=values.get("description") or "",
        merchant=values.get("merchant") or "",
        tax_amount=values.get("tax_amount"),
        invoice_kind=values.get("invoice_kind") or "",
        invoice_code=values.get("invoice_code") or "",
        invoice_number=values.get("invoice_number") or "",
        invoice_date=values.get("invoice_date"),
        seller_name=values.get("seller_name") or "",
        seller_tax_id=values.get("seller_tax_id") or "",
        fx_rate=values.get("fx_rate"),
        fx_override_reason=values.get("fx_override_reason") or "",
    )


def claim_response(user: Any, claim_id: int, status: int = 200) -> Response:
    data = s.ClaimDetailSerializer(visible_claim(user, claim_id)).data
    headers = {"Location": reverse("api-claim-detail", kwargs={"claim_id": claim_id})} if status == 201 else None
    return Response(data, status=status, headers=headers)


class ClaimListView(GenericAPIView):
    """The caller's visible claims, filtered like the HTML list, newest first."""

    filterset_class = ClaimFilterSet
    serializer_class = s.ClaimSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Claim.objects.none()
        # Explicit: Meta.ordering does not apply to the grouped (line count) query. ?ordering= replaces it.
        return claim_list(self.request.user).order_by("-created_at", "-id")

    @extend_schema(
        operation_id="claims_list",
        tags=TAG,
        summary="List claims",
        responses={200: s.ClaimSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.ClaimSerializer(page, many=True).data)

    @extend_schema(
        operation_id="claims_create",
        tags=TAG,
        summary="Create a draft claim, optionally with its lines",
        description="All in one transaction: when any line is invalid, nothing is saved and `fields` names "
        "each bad field as `lines.<index>.<field>`.",
        request=s.ClaimCreateSerializer,
        responses={201: s.ClaimDetailSerializer, **error_responses(400, 401, 403, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        form = s.ClaimCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        employee = getattr(request.user, "employee", None)
        if employee is None:
            raise exceptions.PermissionDenied(_("Only employees can create claims."))
        with transaction.atomic():
            claim = services.claim_create(
                claimant=employee,
                actor=request.user,
                purpose=data["purpose"],
                cost_centre=data["cost_centre"],
                project=data["project"],
                base_currency=data["base_currency"] or None,
            )
            if data.get("lines"):
                try:
                    services.lines_add(
                        claim_id=claim.pk, actor=request.user, lines=[line_input(line) for line in data["lines"]]
                    )
                except ApplicationError as exc:
                    # Every bad line is named in one answer, as lines.<index>.<field>.
                    fields = {f"lines.{key}": messages for key, messages in exc.fields.items()}
                    raise ApplicationError(exc.message, code="invalid", fields=fields) from None
        return claim_response(request.user, claim.pk, status=201)


class ClaimDetailView(APIView):
    @extend_schema(
        operation_id="claims_retrieve",
        tags=TAG,
        summary="A claim with its lines and files",
        responses={200: s.ClaimDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, claim_id: int) -> Response:
        return claim_response(request.user, claim_id)

    @extend_schema(
        operation_id="claims_partial_update",
        tags=TAG,
        summary="Change purpose, cost centre or project",
        description="Only while the claim is editable (draft, returned, withdrawn); 409 otherwise.",
        request=s.ClaimHeaderSerializer,
        responses={200: s.ClaimDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, claim_id: int) -> Response:
        ensure_visible(request.user, claim_id)
        form = s.ClaimHeaderSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        current = Claim.objects.values("purpose", "cost_centre", "project").get(pk=claim_id)
        services.claim_update(claim_id=claim_id, actor=request.user, **(current | form.validated_data))
        return claim_response(request.user, claim_id)

    @extend_schema(
        operation_id="claims_destroy",
        tags=TAG,
        summary="Delete a draft that was never submitted",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request: Request, claim_id: int) -> Response:
        ensure_visible(request.user, claim_id)
        services.claim_delete(claim_id=claim_id, actor=request.user)
        return Response(status=204)


class ClaimPreflightView(APIView):
    @extend_schema(
        operation_id="claims_preflight",
        tags=TAG,
        summary="Policy check before submitting",
        description="Blocks must be fixed; each warning needs a justification keyed by its `key` at submit.",
        responses={200: s.PreflightSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, claim_id: int) -> Response:
        ensure_visible(request.user, claim_id)
        claim = Claim.objects.select_related("claimant", "claimant__department").get(pk=claim_id)
        hits = evaluate_claim(claim)
        can_submit = claim.is_editable and not any(hit.severity == BLOCK for hit in hits)
        return Response(s.PreflightSerializer({"can_submit": can_submit, "hits": hits}).data)


class ClaimSubmitView(APIView):
    @extend_schema(
        operation_id="claims_submit",
        tags=TAG,
        summary="Submit the claim",
        description="400 `policy_blocked` names the blocking rules; 400 `justification_required` lists the "
        "warnings without a justification as `justification:<key>` in `fields`. Submitting a submitted "
        "claim again changes nothing.",
        request=s.SubmitSerializer,
        responses={200: s.ClaimDetailSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, claim_id: int) -> Response:
        ensure_visible(request.user, claim_id)
        form = s.SubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.claim_submit(
            claim_id=claim_id, actor=request.user, justifications=form.validated_data["justifications"]
        )
        return claim_response(request.user, claim_id)


class ClaimWithdrawView(APIView):
    @extend_schema(
        operation_id="claims_withdraw",
        tags=TAG,
        summary="Withdraw a submitted claim",
        description="Only before the first approval decision; the claim becomes editable again.",
        request=s.WithdrawSerializer,
        responses={200: s.ClaimDetailSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, claim_id: int) -> Response:
        ensure_visible(request.user, claim_id)
        form = s.WithdrawSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.claim_withdraw(claim_id=claim_id, actor=request.user, reason=form.validated_data["reason"])
        return claim_response(request.user, claim_id)


class CategoryListView(APIView):
    pagination_class = None

    @extend_schema(
        operation_id="categories_list",
        tags=["categories"],
        summary="Active expense categories",
        responses={200: s.CategorySerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(s.CategorySerializer(active_categories(), many=True).data)
