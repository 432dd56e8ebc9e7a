"""The generic connector: CloudEvents over Standard Webhooks out and in, a paged REST directory whose
field names come from the connector's mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from oa_bridge import signing
from oa_bridge.cloudevents import CONTENT_TYPE, body
from oa_bridge.connectors import register
from oa_bridge.connectors.base import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    BaseConnector,
    DeliveryResult,
    DirectoryDepartment,
    DirectoryUser,
    HealthResult,
    InboundMessage,
    InboundRejected,
    _short,
    http_session,
)
from oa_bridge.models import ConnectorKind, OutboxEvent

DEFAULT_MAPPING = {
    "departments_path": "departments",
    "users_path": "users",
    "items": "results",  # the list inside a page
    "next": "next",  # the next page's URL (absolute or relative), null at the end
    "department_id": "id",
    "department_name": "name",
    "department_parent": "parent_id",
    "department_head": "head_id",
    "department_active": "active",
    "user_id": "id",
    "user_name": "name",
    "user_email": "email",
    "user_employee_no": "employee_no",
    "user_department": "department_id",
    "user_manager": "manager_id",
    "user_title": "title",
    "user_level": "level",
    "user_active": "active",
    "updated_since_param": "updated_since",
}


def _get(item: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """A value by dotted path ("profile.email"), so nested OA payloads can be mapped too."""
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


@register(ConnectorKind.GENERIC)
class GenericConnector(BaseConnector):
    """Any OA that takes signed webhooks and serves its directory as paged JSON."""

    @property
    def events_url(self) -> str:
        return self.connector.events_url

    @property
    def directory_url(self) -> str:
        return self.connector.directory_url.rstrip("/")

    @property
    def mapping(self) -> dict[str, str]:
        return DEFAULT_MAPPING | (self.connector.field_mapping or {})

    def deliver(self, event: OutboxEvent) -> DeliveryResult:
        if not self.events_url:
            return DeliveryResult(None, 0, error="the connector has no webhook URL")
        payload = body(event)
        headers = signing.sign_headers(self.credentials.get("webhook_secrets", []), str(event.id), payload)
        headers["Content-Type"] = CONTENT_TYPE
        return self._post(self.events_url, payload, headers)

    def verify_and_parse(self, headers: Mapping[str, str], raw: bytes) -> InboundMessage:
        secrets = self.credentials.get("inbound_secrets", [])
        if not secrets:
            raise InboundRejected("the connector has no inbound secret configured", 401)
        try:
            msg_id = signing.verify(secrets, headers, raw)
        except signing.SignatureError as exc:
            raise InboundRejected(f"signature refused: {exc}", 401) from None
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise InboundRejected("the body is not JSON", 400) from None
        if not isinstance(document, dict) or not isinstance(document.get("type"), str):
            raise InboundRejected("the body is not a CloudEvent (no type)", 400)
        if not isinstance(document.get("data", {}), dict):
            raise InboundRejected("the event's data is not an object", 400)
        return InboundMessage(msg_id, document["type"], document.get("data") or {}, document)

    # --- directory -----------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        token = self.credentials.get("api_token")
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"} if token else {}

    def _pages(self, path: str, params: dict[str, str] | None = None) -> Iterator[dict]:
        url: str | None = f"{self.directory_url}/{path.strip('/')}/"
        mapping = self.mapping
        while url:
            response = http_session().get(
                url, headers=self._headers(), params=params, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT * 3)
            )
            response.raise_for_status()
            page = response.json()
            yield from _get(page, mapping["items"], []) or []
            following = _get(page, mapping["next"])
            url = requests.compat.urljoin(url, following) if following else None
            params = None  # the next link carries its own query

    def iter_departments(self) -> Iterator[DirectoryDepartment]:
        m = self.mapping
        for item in self._pages(m["departments_path"]):
            parent = _get(item, m["department_parent"])
            head = _get(item, m["department_head"])
            yield DirectoryDepartment(
                external_id=str(_get(item, m["department_id"])),
                name=str(_get(item, m["department_name"], "")),
                parent_external_id=str(parent) if parent not in (None, "") else None,
                head_external_id=str(head) if head not in (None, "") else None,
                active=bool(_get(item, m["department_active"], True)),
            )

    def _user(self, item: Mapping[str, Any]) -> DirectoryUser:
        m = self.mapping
        department, manager = _get(item, m["user_department"]), _get(item, m["user_manager"])
        try:
            level = int(_get(item, m["user_level"], 1) or 1)
        except (TypeError, ValueError):
            level = 1
        return DirectoryUser(
            external_id=str(_get(item, m["user_id"])),
            name=str(_get(item, m["user_name"], "")),
            email=str(_get(item, m["user_email"], "") or ""),
            employee_no=str(_get(item, m["user_employee_no"], "") or ""),
            department_external_id=str(department) if department not in (None, "") else None,
            manager_external_id=str(manager) if manager not in (None, "") else None,
            title=str(_get(item, m["user_title"], "") or ""),
            level=level,
            active=bool(_get(item, m["user_active"], True)),
        )

    def iter_users(self, *, updated_since: str | None = None) -> Iterator[DirectoryUser]:
        m = self.mapping
        params = {m["updated_since_param"]: updated_since} if updated_since else None
        for item in self._pages(m["users_path"], params):
            yield self._user(item)

    def fetch_user(self, external_id: str) -> DirectoryUser | None:
        url = f"{self.directory_url}/{self.mapping['users_path'].strip('/')}/{external_id}/"
        response = http_session().get(url, headers=self._headers(), timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return self._user(response.json())

    def health(self) -> HealthResult:
        """Try the directory (or the webhook URL) and say in plain words what is wrong."""
        target = (
            f"{self.directory_url}/{self.mapping['users_path'].strip('/')}/" if self.directory_url else self.events_url
        )
        if not target:
            return HealthResult(False, "No directory or webhook URL is configured.")
        try:
            response = http_session().get(target, headers=self._headers(), timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as exc:
            return HealthResult(False, f"Unreachable: {_short(exc)}")
        if response.status_code == 401:
            return HealthResult(False, "Bad credentials: the OA refused the API token (401).")
        if response.status_code == 403:
            return HealthResult(False, "Missing permission: the token may not read the directory (403).")
        if response.status_code >= 400 and self.directory_url:
            return HealthResult(False, f"The OA answered {response.status_code}.")
        return HealthResult(True, details={"status": response.status_code})
