"""The interface every OA connector implements: deliver events, verify inbound requests, pull the
directory, report health. Vendor connectors (Feishu, DingTalk, WeCom) subclass it too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from oa_bridge.credentials import get_credentials
from oa_bridge.models import Connector, OutboxEvent

# Below the Celery soft time limit (240 s) by far: one slow OA must not hold a worker for long.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
_session = requests.Session()  # keep-alive per process


def http_session() -> requests.Session:
    return _session


def delivery_timeout() -> tuple[float, float]:
    """(connect, read) for one event POST: BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS, which the lease outlasts."""
    read = settings.BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS
    return min(CONNECT_TIMEOUT, read), read


@dataclass
class DeliveryResult:
    status_code: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""
    retry_after: str | None = None


@dataclass
class HealthResult:
    ok: bool
    problem: str = ""  # in plain words: unreachable, bad credentials, missing permission
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class InboundMessage:
    """A verified inbound event in our terms."""

    external_id: str
    type: str
    data: dict[str, Any]
    raw: dict[str, Any]


@dataclass
class DirectoryDepartment:
    external_id: str
    name: str
    parent_external_id: str | None
    head_external_id: str | None = None
    active: bool = True


@dataclass
class DirectoryUser:
    external_id: str
    name: str
    email: str = ""
    employee_no: str = ""
    department_external_id: str | None = None
    manager_external_id: str | None = None
    title: str = ""
    level: int = 1
    active: bool = True


@dataclass
class InboundRequest:
    """What the inbound view hands a connector: vendors sign the query string (DingTalk, WeCom), answer a
    GET check (WeCom's echostr) or a challenge (Feishu), so the connector sees the whole request."""

    method: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes


@dataclass
class InboundReply:
    """A finished HTTP answer in the vendor's terms (an encrypted "success", an echoed plaintext...)."""

    status: int = 200
    content: bytes | str = b""
    content_type: str = "application/json"


class InboundHandshake(Exception):  # noqa: N818 - not an error: a complete answer that applies nothing
    """Raised by ``receive`` for URL checks (Feishu challenge, WeCom echostr, DingTalk check_url): the
    reply goes back as is and nothing is recorded or applied."""

    def __init__(self, reply: InboundReply):
        super().__init__("handshake")
        self.reply = reply


class InboundRejected(Exception):
    """An inbound request refused; ``status`` is the HTTP answer, the message is logged. Vendors that
    retry on any non-2xx and want a 200 to stop (some do, for events they will never accept) set
    ``status=200`` in their connector's ``rejected_reply``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class BaseConnector:
    """Defaults shared by connectors; subclasses override what their OA does differently.

    ``settings_form`` is the admin form for this kind (oa_bridge.forms.ConnectorSettingsForm or a
    subclass declaring the vendor console's fields); ``inbound_methods`` the HTTP methods the vendor
    uses on our callback URL."""

    settings_form: type | None = None
    inbound_methods: tuple[str, ...] = ("POST",)

    def __init__(self, connector: Connector):
        self.connector = connector
        self._credentials: dict[str, Any] | None = None

    @property
    def credentials(self) -> dict[str, Any]:
        if self._credentials is None:
            self._credentials = get_credentials(self.connector)
        return self._credentials

    # --- outbound ------------------------------------------------------------------------------------
    def deliver(self, event: OutboxEvent) -> DeliveryResult:
        raise NotImplementedError

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        started = time.perf_counter()
        try:
            response = http_session().post(url, data=body, headers=headers, timeout=delivery_timeout())
        except requests.RequestException as exc:
            return DeliveryResult(None, int((time.perf_counter() - started) * 1000), error=_short(exc))
        latency = int((time.perf_counter() - started) * 1000)
        return DeliveryResult(
            response.status_code, latency, excerpt=response.text[:500], retry_after=response.headers.get("Retry-After")
        )

    # --- inbound -------------------------------------------------------------------------------------
    def receive(self, request: InboundRequest) -> InboundMessage:
        """Verify (and decrypt) an inbound request into our terms; raise InboundRejected to refuse it
        or InboundHandshake to answer a URL check. The default is the generic contract's POST."""
        if request.method != "POST":
            raise InboundRejected("this endpoint only accepts POST", status=405)
        return self.verify_and_parse(request.headers, request.body)

    def verify_and_parse(self, headers: Mapping[str, str], body: bytes) -> InboundMessage:
        raise NotImplementedError

    def reply(self, outcome: Any, message: InboundMessage) -> InboundReply:
        """The answer once an event was recorded and applied (``outcome``: services.inbound.InboundOutcome).
        Vendors with their own acknowledgement (an encrypted "success") override it."""
        body: dict[str, Any] = {"result": outcome.result, "detail": outcome.detail}
        if outcome.status >= 400:
            body = {"error": {"code": outcome.result, "message": outcome.detail}}
        return InboundReply(outcome.status, json.dumps(body))

    def rejected_reply(self, exc: InboundRejected) -> InboundReply:
        """The answer to a refused request (logged by the view before)."""
        return InboundReply(exc.status, json.dumps({"error": {"code": "rejected", "message": str(exc)}}))

    # --- directory -----------------------------------------------------------------------------------
    def iter_departments(self) -> Iterator[DirectoryDepartment]:
        raise NotImplementedError

    def iter_users(self, *, updated_since: str | None = None) -> Iterator[DirectoryUser]:
        raise NotImplementedError

    def fetch_user(self, external_id: str) -> DirectoryUser | None:
        raise NotImplementedError

    # --- health --------------------------------------------------------------------------------------
    def health(self) -> HealthResult:
        return HealthResult(True)


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
