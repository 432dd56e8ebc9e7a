"""``POST /oa/<connector>/events/``: where OAs send decisions and directory changes."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from oa_bridge.connectors import for_connector
from oa_bridge.connectors.base import InboundRejected
from oa_bridge.models import Connector
from oa_bridge.services.inbound import inbound_apply

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


@csrf_exempt  # authenticated by the signature over the raw body instead
@require_POST
def inbound_events(request: HttpRequest, slug: str) -> JsonResponse:
    connector = Connector.objects.filter(slug=slug, enabled=True).first()
    if connector is None:
        log.warning("inbound event for unknown connector %r refused", slug)
        return JsonResponse({"error": {"code": "unknown_connector", "message": f"no connector {slug!r}"}}, status=404)
    raw = request.body
    if len(raw) > MAX_BODY:
        return JsonResponse({"error": {"code": "too_large", "message": "the body is larger than 1 MB"}}, status=413)
    headers = {key.lower(): value for key, value in request.headers.items()}
    try:
        message = for_connector(connector).verify_and_parse(headers, raw)
    except InboundRejected as exc:
        log.warning("inbound event to %s refused: %s", slug, exc)
        return JsonResponse({"error": {"code": "rejected", "message": str(exc)}}, status=exc.status)
    outcome = inbound_apply(connector=connector, message=message)
    body = {"result": outcome.result, "detail": outcome.detail}
    if outcome.status >= 400:
        body = {"error": {"code": outcome.result, "message": outcome.detail}}
    return JsonResponse(body, status=outcome.status)
