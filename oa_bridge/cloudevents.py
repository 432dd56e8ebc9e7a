"""CloudEvents 1.0 structured-mode envelopes for outbox events."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from oa_bridge.models import OutboxEvent

CONTENT_TYPE = "application/cloudevents+json"


def envelope(event: OutboxEvent) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(event.id),
        "source": f"{settings.BAOXIAO_BASE_URL}/",
        "type": event.type,
        "subject": event.subject,
        "time": event.created_at.isoformat(),
        "datacontenttype": "application/json",
        "data": event.data,
    }


def body(event: OutboxEvent) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(envelope(event), cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()
