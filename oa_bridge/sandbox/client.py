"""The sandbox acting as an OA towards Baoxiao: signed decision and directory events over HTTP."""

from __future__ import annotations

import json
import uuid

import requests
from django.conf import settings

from oa_bridge import signing
from oa_bridge.cloudevents import CONTENT_TYPE
from oa_bridge.credentials import get_credentials
from oa_bridge.models import Connector


def send_to_baoxiao(connector: Connector, event_type: str, data: dict) -> tuple[int | None, str]:
    """POST one signed CloudEvent to Baoxiao's inbound endpoint; returns (status, answer text)."""
    event_id = f"sandbox-{uuid.uuid4()}"
    body = json.dumps(
        {"specversion": "1.0", "id": event_id, "source": "baoxiao-oa-sandbox", "type": event_type, "data": data}
    ).encode()
    headers = signing.sign_headers(get_credentials(connector).get("inbound_secrets", [])[:1], event_id, body)
    headers["Content-Type"] = CONTENT_TYPE
    url = f"{settings.BAOXIAO_BASE_URL}/oa/{connector.slug}/events/"
    try:
        response = requests.post(url, data=body, headers=headers, timeout=(5, 10))
    except requests.RequestException as exc:
        return None, f"Baoxiao is unreachable at {url}: {exc}"
    text = response.text
    try:
        answer = json.loads(text)
        text = answer.get("detail") or answer.get("error", {}).get("message") or text
    except (ValueError, AttributeError):
        pass
    return response.status_code, str(text)[:300]
