"""Claims API: the lines of a claim and their receipt files. A line or file is found only under the claim
(and line) in its URL, and only on a claim the caller may see; anything else is 404."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_responses, idempotent
from config.errors import NotFoundError
from reimbursement import services
from reimbursement.api import serializers as s
from reimbursement.api.views import ensure_visible, line_input
from reimbursement.choices import FxRateSource
from reimbursement.models import Attachment, ClaimLine
from reimbursement.selectors import claims_visible_to

TAG = ["claims"]


def visible_lines(user: Any, claim_id: int) -> QuerySet[ClaimLine]:
    """The lines of one visible claim with what the output shows, in a fixed number of queries."""
    return (
        ClaimLine.objects.filter(claim_id=claim_id, claim__in=claims_visible_to(user).values("pk"))
        .select_related("claim", "category")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("uploaded_at", "id")))
        .order_by("position", "id")
    )


def visible_line(user: Any, claim_id: int, line_id: int) -> ClaimLine:
    line = visible_lines(user, claim_id).filter(pk=line_id).first()
    if line is None:
        raise NotFoundError(_("This line does not exist."))
    return line


def visible_attachment(user: Any, claim_id: int, line_id: int, attachment_id: int) -> Attachment:
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id,
            line_id=line_id,
            line__claim_id=claim_id,
            line__claim__in=claims_visible_to(user).values("pk"),
        )
        .select_related("line", "line__claim")
        .first()
    )
    if attachment is None:
        raise NotFoundError(_("This file does not exist."))
    return attachment


def current_values(line: ClaimLine) -> dict[str, Any]:
    """The line as LineInputSerializer fields, so a PATCH changes only what it sends."""
    manual = line.fx_rate_source == FxRateSource.MANUAL
    return {
        "expense_date": line.expense_date,
        "category": line.category_id,
        "amount": line.amount,
        "currency": line.currency,
        "description": line.description,
        "merchant": line.merchant,
        "tax_amount": line.tax_amount,
        "invoice_kind": line.invoice_kind,
        "invoice_code": line.invoice_code,
        "invoice_number": line.invoice_number,
        "invoice_date": line.invoice_date,
        "seller_name": line.seller_name,
        "seller_tax_id": line.seller_tax_id,
        "fx_rate": line.fx_rate if manual else None,
        "fx_override_reason": line.fx_override_reason if manual else "",
    }


def line_response(user: Any, claim_id: int, line_id: int, status: int = 200) -> Response:
    data = s.LineSerializer(visible_line(user, claim_id, line_id)).data
    url = reverse("api-line-detail", kwargs={"claim_id": claim_id, "line_id": line_id})
    return Response(data, status=status, headers={"Location": url} if status == 201 else None)


class LineListView(APIView):
    pagination_class = None

    @extend_schema(
        operation_id="claims_lines_list",
        tags=TAG,
        summary="The lines of a claim",
        responses={200: s.LineSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, claim_id: int) -> Response:
        ensure_visible(request.user, claim_id)
        return Response(s.LineSerializer(visible_lines(request.user, claim_id), many=True).data)

    @extend_schema(
        operation_id="claims_lines_create",
        tags=TAG,
        summary="Add a line",
        description="The FX rate is looked up for the date and currency unless you give one with a reason.",
        request=s.LineInputSerializer,
        responses={201: s.LineSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    @idempotent
    def post(self, request: Request, claim_id: int) -> Response:
        ensure_visible(request.user, claim_id)
        form = s.LineInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        line = services.line_add(claim_id=claim_id, actor=request.user, data=line_input(form.validated_data))
        return line_response(request.user, claim_id, line.pk, status=201)


class LineDetailView(APIView):
    @extend_schema(
        operation_id="claims_lines_retrieve",
        tags=TAG,
        summary="One line",
        responses={200: s.LineSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, claim_id: int, line_id: int) -> Response:
        return line_response(request.user, claim_id, line_id)

    @extend_schema(
        operation_id="claims_lines_partial_update",
        tags=TAG,
        summary="Change a line",
        description="Fields not sent keep their values. Only while the claim is editable; 409 otherwise.",
        request=s.LineInputSerializer,
        responses={200: s.LineSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, claim_id: int, line_id: int) -> Response:
        line = visible_line(request.user, claim_id, line_id)
        form = s.LineInputSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        values = current_values(line) | form.validated_data
        services.line_update(line_id=line.pk, actor=request.user, data=line_input(values))
        return line_response(request.user, claim_id, line_id)

    @extend_schema(
        operation_id="claims_lines_destroy",
        tags=TAG,
        summary="Remove a line and its files",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request: Request, claim_id: int, line_id: int) -> Response:
        line = visible_line(request.user, claim_id, line_id)
        services.line_remove(line_id=line.pk, actor=request.user)
        return Response(status=204)


class AttachmentListView(APIView):
    pagination_class = None
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="claims_lines_attachments_list",
        tags=TAG,
        summary="The files of a line",
        responses={200: s.AttachmentSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, claim_id: int, line_id: int) -> Response:
        line = visible_line(request.user, claim_id, line_id)
        return Response(s.AttachmentSerializer(line.attachments.all(), many=True).data)

    @extend_schema(
        operation_id="claims_lines_attachments_create",
        tags=TAG,
        summary="Upload a receipt file",
        description="multipart/form-data with the file in `file`. The content must match the extension; SVG, "
        "HTML, scripts and archives are refused, as are files above the size limit.",
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        responses={201: s.AttachmentSerializer, **error_responses(400, 401, 403, 404, 409, 413, 422)},
    )
    @idempotent
    def post(self, request: Request, claim_id: int, line_id: int) -> Response:
        line = visible_line(request.user, claim_id, line_id)
        form = s.AttachmentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        attachment = services.attachment_add(line_id=line.pk, actor=request.user, upload=form.validated_data["file"])
        attachment = visible_attachment(request.user, claim_id, line_id, attachment.pk)
        url = reverse(
            "api-attachment-detail", kwargs={"claim_id": claim_id, "line_id": line_id, "attachment_id": attachment.pk}
        )
        return Response(s.AttachmentSerializer(attachment).data, status=201, headers={"Location": url})


class AttachmentDetailView(APIView):
    @extend_schema(
        operation_id="claims_lines_attachments_retrieve",
        tags=TAG,
        summary="A file's details",
        responses={200: s.AttachmentSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, claim_id: int, line_id: int, attachment_id: int) -> Response:
        attachment = visible_attachment(request.user, claim_id, line_id, attachment_id)
        return Response(s.AttachmentSerializer(attachment).data)

    @extend_schema(
        operation_id="claims_lines_attachments_destroy",
        tags=TAG,
        summary="Remove a file",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request: Request, claim_id: int, line_id: int, attachment_id: int) -> Response:
        attachment = visible_attachment(request.user, claim_id, line_id, attachment_id)
        services.attachment_remove(attachment_id=attachment.pk, actor=request.user)
        return Response(status=204)


class AttachmentDownloadView(APIView):
    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The file answers whatever the client accepts; errors are JSON in the one shape.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        operation_id="claims_lines_attachments_download",
        tags=TAG,
        summary="Download the file",
        description="Served as an attachment under a generated name, with its checked content type.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            **error_responses(401, 404),
        },
    )
    def get(self, request: Request, claim_id: int, line_id: int, attachment_id: int) -> FileResponse:
        attachment = visible_attachment(request.user, claim_id, line_id, attachment_id)
        claim = attachment.line.claim
        # Never the uploaded name: it is the uploader's text and could carry anything.
        name = f"{claim.number or claim.pk}-line{attachment.line.position}-{attachment.pk}{attachment.extension}"
        response = FileResponse(
            attachment.file.open("rb"), as_attachment=True, filename=name, content_type=attachment.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response
