"""What every API endpoint shares: the one error shape, ``Idempotency-Key`` and token sign-in.

Every 4xx answer is ``{"error": {"code", "message", "fields"}}`` (style.md §9): ``code`` is stable for
programs, ``message`` is for people (in the request's language), ``fields`` maps a field name (dotted for
nested input, ``lines.0.amount``) to its messages.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.core import exceptions as django_exceptions
from django.core.files.uploadedfile import UploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView, set_rollback

from config.errors import ApplicationError, ConflictError
from config.models import IdempotencyKey

# --- The error shape ------------------------------------------------------------------------------


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. not_editable.")
    message = serializers.CharField(help_text="What went wrong, for people, in the request's language.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field; nested input is dotted (lines.0.amount). Empty when none.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


_ERROR_DESCRIPTIONS = {
    400: "The input is not valid; `fields` says where.",
    401: "Not signed in: send `Authorization: Token <token>`.",
    403: "Signed in, but not allowed to do this.",
    404: "No such object, or not one you may see.",
    409: "The object is not in a state that allows this (for example a claim that is no longer editable).",
    413: "The request body is too large.",
    422: "This Idempotency-Key was already used for a different request.",
    429: "Too many requests or failed sign-ins; try again later.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error answers an operation can give, all in the one error shape."""
    return {status: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[status]) for status in statuses}


_PAGING_PARAMETERS = {"page", "page_size"}


def document_shared_errors(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """SPECTACULAR_SETTINGS postprocessing hook: the answers a kind of operation gives wherever it is, so
    no view can forget them (schemathesis found three that did). With ``Idempotency-Key``: 400 for a
    malformed key. Paginated: 404 for a page past the end. With filters: 400 for a filter value out of range.
    """
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
            queries = {name for where, name in parameters if where == "query"}
            statuses = set()
            if ("header", IDEMPOTENCY_HEADER) in parameters or queries - _PAGING_PARAMETERS:
                statuses.add(400)
            if "page" in queries:
                statuses.add(404)
            for status in statuses:
                operation["responses"].setdefault(
                    str(status), {"description": _ERROR_DESCRIPTIONS[status], "content": error}
                )
    return result


def _error(status: int, code: str, message: str, fields: dict[str, list[str]] | None = None, headers=None):
    return Response({"error": {"code": code, "message": message, "fields": fields or {}}}, status, headers=headers)


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"lines.0.amount": ["..."]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{name}" if prefix else str(name)))
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, item in enumerate(detail):
            if item:
                out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        items = detail if isinstance(detail, list) else [detail]
        out[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(item) for item in items]
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every client error in the one shape; anything else is a 500."""
    if isinstance(exc, ApplicationError):
        set_rollback()
        return _error(exc.status, exc.code, exc.message, exc.fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()  # Django's message names the model; ours does not
    elif isinstance(exc, django_exceptions.PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, django_exceptions.RequestDataTooBig):
        return _error(413, "too_large", _("The request is too large."))
    elif isinstance(exc, django_exceptions.SuspiciousOperation):
        # Too many fields or files, a malformed multipart body: bad input, not a server fault.
        return _error(400, "bad_request", _("The request could not be read."))
    elif isinstance(exc, django_exceptions.ValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        return _error(400, "invalid", exc.messages[0] if exc.messages else _("Invalid input."), fields)
    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        non_field = fields.get(api_settings.NON_FIELD_ERRORS_KEY)
        if list(fields) == [api_settings.NON_FIELD_ERRORS_KEY] and non_field:
            message = non_field[0]
        else:
            message = _("Please correct the fields listed.")
        return _error(exc.status_code, "invalid", message, fields, headers)
    detail = exc.detail
    if isinstance(detail, dict | list):
        return _error(exc.status_code, exc.default_code, str(exc.default_detail), _flatten(detail), headers)
    return _error(exc.status_code, getattr(detail, "code", None) or exc.default_code, str(detail), None, headers)


# --- Idempotency-Key ------------------------------------------------------------------------------

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_TTL = timedelta(hours=24)
_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,255}")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    location=OpenApiParameter.HEADER,
    type=str,
    required=False,
    description=(
        "A unique value (a UUID) per intended operation. A retry with the same key and the same body gets the "
        "first response again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another "
        "body is refused with 422. Keys are kept for 24 hours."
    ),
)


class IdempotencyKeyReused(ApplicationError):
    status = 422
    code = "idempotency_key_reused"


def request_fingerprint(request: Request) -> str:
    """SHA-256 of the parsed body: JSON in a canonical form, form fields sorted, files by their content.

    Parsed rather than raw, so a retry that merely orders keys or draws a multipart boundary anew still
    counts as the same request.
    """
    data = request.data
    if hasattr(data, "lists"):
        fields, files = {}, {}
        for name, values in data.lists():
            uploads = [v for v in values if isinstance(v, UploadedFile)]
            if uploads:
                files[name] = [_file_digest(upload) for upload in uploads]
            else:
                fields[name] = values
        payload: Any = {"fields": fields, "files": files}
    else:
        payload = data
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(text.encode()).hexdigest()


def _file_digest(upload: UploadedFile) -> list:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return [upload.name, upload.size, digest.hexdigest()]


def _checked_key(value: str) -> str:
    if not _KEY_SHAPE.fullmatch(value):
        message = _("The Idempotency-Key header must be 1 to 255 visible ASCII characters.")
        raise ApplicationError(message, code="invalid_idempotency_key", fields={IDEMPOTENCY_HEADER: [message]})
    return value


def _replay(record: IdempotencyKey, method: str, path: str, fingerprint: str) -> Response:
    if (record.method, record.path, record.request_hash) != (method, path, fingerprint):
        raise IdempotencyKeyReused(
            _(
                "This Idempotency-Key was already used for a different request. Send a new key for a new "
                "request; reuse a key only to retry exactly the same request."
            )
        )
    if record.response_status is None:  # not reachable with a committed record; kept as a guard
        raise ConflictError(
            _("A request with this Idempotency-Key is still in progress; try again shortly."),
            code="idempotency_in_progress",
        )
    headers = {"Idempotent-Replayed": "true", **record.response_headers}
    return Response(record.response_body, status=record.response_status, headers=headers)


def idempotent(handler: Callable) -> Callable:
    """Honour ``Idempotency-Key`` on a view's POST handler (create or decide); without the header, no change.

    Insert-first: the key row is inserted in the transaction that runs the handler and stores its answer.
    A concurrent duplicate's insert waits on the unique index until that transaction ends, then finds the
    stored answer and replays it; if the first one failed and rolled back, the duplicate runs instead. So
    the effect and its stored answer commit together, and a duplicate never runs twice. Answers of 500 and
    above are not stored: the client may retry those.
    """

    @functools.wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw_key = request.headers.get(IDEMPOTENCY_HEADER)
        if raw_key is None:
            return handler(view, request, *args, **kwargs)
        key = _checked_key(raw_key)
        method, path = request.method, request.get_full_path()[:500]
        fingerprint = request_fingerprint(request)
        cutoff = timezone.now() - IDEMPOTENCY_TTL
        # Expired keys of this user go first (in their own short statement), so a key may be reused after 24 h.
        IdempotencyKey.objects.filter(user=request.user, created_at__lt=cutoff).delete()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        user=request.user, key=key, method=method, path=path, request_hash=fingerprint
                    )
            except IntegrityError:
                record = IdempotencyKey.objects.get(user=request.user, key=key)
                return _replay(record, method, path, fingerprint)
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                response = view.handle_exception(exc)  # re-raises what is not a client error
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            record.response_status = response.status_code
            # A plain HttpResponse (a file) has no data to store; its status and headers are replayed alone.
            record.response_body = json.loads(JSONRenderer().render(getattr(response, "data", None)) or b"null")
            record.response_headers = {name: response[name] for name in ("Location",) if response.has_header(name)}
            record.save(update_fields=["response_status", "response_body", "response_headers"])
        return response

    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)


# --- Token sign-in --------------------------------------------------------------------------------


class TokenCredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")


class AccountLocked(ApplicationError):
    status = 429
    code = "locked_out"


class TokenView(APIView):
    """Trade a username and password for an API token, counted by the same lockout as the sign-in page."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        summary="Get an API token",
        description=(
            "Repeated failures lock the account for a while (the same lockout as the sign-in page); a locked "
            "account gets 429 even with the right password."
        ),
        auth=[],
        request=TokenCredentialsSerializer,
        responses={200: TokenSerializer, **error_responses(400, 429)},
    )
    def post(self, request: Request) -> Response:
        form = TokenCredentialsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        # The Django request, not DRF's wrapper: axes records the failure on it and flags a lockout there.
        http_request = request._request
        user = authenticate(
            request=http_request, username=form.validated_data["username"], password=form.validated_data["password"]
        )
        if getattr(http_request, "axes_locked_out", False):
            # AxesMiddleware would swap this answer for the HTML lockout page; the API answers in its own shape.
            http_request.axes_locked_out = False
            minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60) if settings.AXES_COOLOFF_TIME else 0
            raise AccountLocked(
                _("Too many failed sign-ins: this account is locked for %(minutes)d minutes.") % {"minutes": minutes}
                if minutes
                else _("Too many failed sign-ins: this account is locked; ask an administrator.")
            )
        if user is None:
            raise ApplicationError(_("The username or password is not correct."), code="invalid_credentials")
        token, _created = Token.objects.get_or_create(user=user)
        # As a sign-in through the page: last_login is updated and axes forgets the earlier failures.
        user_logged_in.send(sender=user.__class__, request=http_request, user=user)
        return Response({"token": token.key})
