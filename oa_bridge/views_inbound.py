"""``/oa/<connector>/events/``: where OAs send decisions and directory changes.

The connector of the URL verifies the request in its vendor's terms (``BaseConnector.receive``) and
shapes the answer (``reply``, ``rejected_reply``); URL checks (Feishu challenge, WeCom echostr) are
answered by the connector without recording anything.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from oa_bridge.connectors import for_connector
from oa_bridge.connectors.base import InboundHandshake, InboundRejected, InboundReply, InboundRequest
from oa_bridge.models import Connector
from oa_bridge.services.inbound import inbound_apply

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


@csrf_exempt  # authenticated by the signature over the raw body instead
def inbound_events(request: HttpRequest, slug: str) -> HttpResponse:
    connector = Connector.objects.filter(slug=slug, enabled=True).first()
    if connector is None:
        log.warning("inbound event for unknown connector %r refused", slug)
        return JsonResponse({"error": {"code": "unknown_connector", "message": f"no connector {slug!r}"}}, status=404)
    implementation = for_connector(connector)
    if request.method not in implementation.inbound_methods:
        return JsonResponse(
            {"error": {"code": "method_not_allowed", "message": f"use {', '.join(implementation.inbound_methods)}"}},
            status=405,
            headers={"Allow": ", ".join(implementation.inbound_methods)},
        )
    raw = request.body
    if len(raw) > MAX_BODY:
        return JsonResponse({"error": {"code": "too_large", "message": "the body is larger than 1 MB"}}, status=413)
    inbound = InboundRequest(
        method=request.method,
        headers={key.lower(): value for key, value in request.headers.items()},
        query={key: request.GET.get(key, "") for key in request.GET},
        body=raw,
    )
    try:
        message = implementation.receive(inbound)
    except InboundHandshake as handshake:
        return _response(handshake.reply)
    except InboundRejected as exc:
        log.warning("inbound event to %s refused: %s", slug, exc)
        return _response(implementation.rejected_reply(exc))
    outcome = inbound_apply(connector=connector, message=message)
    return _response(implementation.reply(outcome, message))


def _response(reply: InboundReply) -> HttpResponse:
    return HttpResponse(reply.content, status=reply.status, content_type=reply.content_type)
