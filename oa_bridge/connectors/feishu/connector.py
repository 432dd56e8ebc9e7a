"""The Feishu / Lark connector (kind ``feishu``)."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from oa_bridge.connectors import register
from oa_bridge.connectors.base import (
    BaseConnector,
    DeliveryResult,
    DirectoryDepartment,
    DirectoryUser,
    HealthResult,
    InboundHandshake,
    InboundMessage,
    InboundRejected,
    InboundReply,
    InboundRequest,
    _short,
)
from oa_bridge.connectors.feishu import approval, crypto
from oa_bridge.connectors.feishu import directory as fdir
from oa_bridge.connectors.feishu.api import (
    BAD_APP_CREDENTIALS,
    FEISHU_BASE_URL,
    INVALID_TOKEN_CODES,
    PERMISSION_CODES,
    FeishuApi,
    FeishuError,
)
from oa_bridge.connectors.feishu.forms import FeishuSettingsForm
from oa_bridge.connectors.vendorkit import VendorError, VendorRateLimited
from oa_bridge.models import ConnectorKind, OutboxEvent, OutboxStatus
from oa_bridge.services.inbound import DECISION

REPLAY_WINDOW_SECONDS = 300
USER_GONE_CODES = {40010, 41050, 41012}
DEPARTMENT_GONE_CODES = {40003, 40004, 40014}
TOO_SOON = 1390014  # "Do not synchronize the same approval instance for a short period of time"
DIRECTORY_EVENTS = {
    "contact.user.created_v3": "com.baoxiao.directory.user.changed",
    "contact.user.updated_v3": "com.baoxiao.directory.user.changed",
    "contact.user.deleted_v3": "com.baoxiao.directory.user.changed",
    "contact.department.created_v3": "com.baoxiao.directory.department.changed",
    "contact.department.updated_v3": "com.baoxiao.directory.department.changed",
    "contact.department.deleted_v3": "com.baoxiao.directory.department.changed",
}
QUICK_ACTIONS = {"APPROVE": "approve", "REJECT": "reject"}


@register(ConnectorKind.FEISHU)
class FeishuConnector(BaseConnector):
    settings_form = FeishuSettingsForm
    directory_keeps = frozenset({"level"})  # Feishu has no numeric job level

    def __init__(self, connector):
        super().__init__(connector)
        self._api: FeishuApi | None = None
        self._departments: list[DirectoryDepartment] | None = None

    # --- plumbing ----------------------------------------------------------------------------------------
    def option(self, name: str, default: str = "") -> str:
        return str((self.connector.options or {}).get(name) or default)

    @property
    def api(self) -> FeishuApi:
        if self._api is None:
            self._api = FeishuApi(
                key=str(self.connector.pk),
                base_url=self.option("base_url", FEISHU_BASE_URL),
                app_id=self.option("app_id"),
                app_secret=str(self.credentials.get("app_secret") or ""),
            )
        return self._api

    # --- inbound: events and quick-approval callbacks -----------------------------------------------------
    def receive(self, request: InboundRequest) -> InboundMessage:
        if request.method != "POST":
            raise InboundRejected("Feishu posts its callbacks", status=405)
        token = str(self.credentials.get("verification_token") or "")
        key = str(self.credentials.get("encrypt_key") or "")
        if not token:
            raise InboundRejected("the connector has no Verification Token configured", 401)
        document = self._open(request.body, key)
        if document.get("type") == "url_verification":
            self._check_token(token, document.get("token"))
            challenge = json.dumps({"challenge": str(document.get("challenge", ""))})
            raise InboundHandshake(InboundReply(200, challenge))
        if document.get("schema") == "2.0":
            self._check_signed(request, key)
            header = document.get("header") if isinstance(document.get("header"), dict) else {}
            self._check_token(token, header.get("token"))
            return self._event(header, document.get("event") or {}, document)
        if "action_type" in document and "task_id" in document:
            self._check_token(token, document.get("token"))
            return self._quick_action(document)
        raise InboundRejected("not a Feishu v2 event or approval callback (subscribe with the 2.0 schema)", 400)

    def _open(self, body: bytes, key: str) -> dict[str, Any]:
        try:
            outer = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InboundRejected("the body is not JSON", 400) from None
        if not isinstance(outer, dict):
            raise InboundRejected("the body is not a JSON object", 400)
        if "encrypt" not in outer:
            if key:
                raise InboundRejected("an Encrypt Key is configured but the body is not encrypted", 400)
            return outer
        if not key:
            raise InboundRejected("the body is encrypted but no Encrypt Key is configured", 400)
        try:
            document = json.loads(crypto.decrypt(str(outer["encrypt"]), key))
        except (crypto.DecryptError, ValueError):
            raise InboundRejected("the body does not decrypt with the configured Encrypt Key", 400) from None
        if not isinstance(document, dict):
            raise InboundRejected("the decrypted body is not a JSON object", 400)
        return document

    @staticmethod
    def _check_token(expected: str, offered: Any) -> None:
        if not crypto.token_matches(expected, offered):
            raise InboundRejected("the verification token does not match", 401)

    @staticmethod
    def _check_signed(request: InboundRequest, key: str) -> None:
        """X-Lark-Signature over timestamp, nonce, key and raw body; the timestamp within ±5 minutes."""
        stamp = request.headers.get("x-lark-request-timestamp", "")
        if key:
            nonce = request.headers.get("x-lark-request-nonce", "")
            offered = request.headers.get("x-lark-signature", "")
            if not stamp or not offered or not crypto.signature_matches(stamp, nonce, key, request.body, offered):
                raise InboundRejected("the X-Lark-Signature does not match", 401)
        if stamp:
            try:
                age = abs(time.time() - int(stamp))
            except ValueError:
                raise InboundRejected("the X-Lark-Request-Timestamp is not a number", 400) from None
            if age > REPLAY_WINDOW_SECONDS:
                raise InboundRejected("the X-Lark-Request-Timestamp is more than 5 minutes off", 401)

    def _event(self, header: dict[str, Any], event: dict[str, Any], document: dict[str, Any]) -> InboundMessage:
        event_id = str(header.get("event_id") or "")
        if not event_id:
            raise InboundRejected("the event has no header.event_id", 400)
        event_type = str(header.get("event_type") or "")
        raw = document | {"header": {k: v for k, v in header.items() if k != "token"}}
        ours = DIRECTORY_EVENTS.get(event_type)
        if ours is None:
            return InboundMessage(event_id, f"feishu.{event_type}"[:100], {}, raw)
        item = event.get("object") or event.get("old_object") or {}
        if ours.endswith("user.changed"):
            external = item.get("open_id")
        else:
            external = item.get("open_department_id") or item.get("department_id")
        return InboundMessage(event_id, ours, {"id": str(external or "")}, raw)

    def _quick_action(self, document: dict[str, Any]) -> InboundMessage:
        action = str(document.get("action_type") or "")
        approver = str(document.get("open_id") or document.get("user_id") or "")
        # Once per instance, task, action and person: a refused click by someone else does not block the approver.
        key = f"approval-action:{document.get('instance_id')}:{document.get('task_id')}:{action}:{approver}"
        raw = {k: v for k, v in document.items() if k != "token"}
        decision = QUICK_ACTIONS.get(action)
        if decision is None:
            return InboundMessage(key, f"feishu.approval_action.{action}"[:100], {}, raw)
        data = {
            "decision": decision,
            "approver": approver,
            "task_id": document.get("task_id"),
            "comment": str(document.get("reason") or ""),
            "instance_id": document.get("instance_id"),
        }
        return InboundMessage(key, DECISION, data, raw)

    def reply(self, outcome: Any, message: InboundMessage) -> InboundReply:
        """Feishu retries anything but a 200 within 3 s; a refusal it would only send again is logged
        (the inbound event records it) and acknowledged. A quick approval gets ``code`` 0, or the reason
        the approver sees in Feishu."""
        if message.type == DECISION:
            ok = outcome.status < 400
            body = {"code": 0 if ok else 1, "msg": "success" if ok else outcome.detail, "data": {}}
            return InboundReply(200, json.dumps(body, ensure_ascii=False))
        if outcome.status >= 500:
            return InboundReply(outcome.status, json.dumps({"msg": outcome.detail}))
        return InboundReply(200, json.dumps({"msg": "success", "result": outcome.result}))

    # --- outbound: the approval centre and messages -----------------------------------------------------------
    @property
    def callback_url(self) -> str:
        return settings.BAOXIAO_BASE_URL + reverse("oa_inbound", args=[self.connector.slug])

    def _ensure_definition(self) -> None:
        """Create (or update) the third-party approval definition once per configuration."""
        body = approval.definition_body(
            approval_code=self.option("approval_code", "baoxiao-expense"),
            name=self.connector.name,
            callback_url=self.callback_url,
            token=str(self.credentials.get("verification_token") or ""),
            key=str(self.credentials.get("encrypt_key") or ""),
        )
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
        marker = f"feishu-definition:{self.connector.pk}:{digest}"
        if cache.get(marker):
            return
        self.api.call("approval", "POST", "/open-apis/approval/v4/external_approvals", params=fdir.ID_PARAMS, json=body)
        cache.set(marker, True, timeout=24 * 3600)

    def deliver(self, event: OutboxEvent) -> DeliveryResult:
        from reimbursement.models import Claim

        started = time.perf_counter()

        def result(code: int | None, excerpt: str = "", error: str = "", retry_after: str | None = None):
            return DeliveryResult(code, int((time.perf_counter() - started) * 1000), excerpt, error, retry_after)

        if event.type in approval.NOT_MIRRORED:
            return result(200, "skipped: Feishu shows nothing for this event")
        claim = Claim.objects.select_related("claimant").filter(pk=event.subject).first()
        if claim is None:
            return result(200, "skipped: the claim no longer exists")
        sent = []
        try:
            # A newer event of this claim still waiting pushes the same (or a newer) state: one push saved.
            newer = OutboxEvent.objects.filter(
                connector_id=event.connector_id, subject=event.subject, seq__gt=event.seq, status=OutboxStatus.PENDING
            ).exists()
            if not newer:
                self._ensure_definition()
                body = approval.instance_body(
                    claim=claim, slug=self.connector.slug, approval_code=self.option("approval_code", "baoxiao-expense")
                )
                if body is None:
                    return result(200, "skipped: the applicant has no Feishu account linked (directory sync)")
                self.api.call("approval", "POST", "/open-apis/approval/v4/external_instances", json=body)
                sent.append(f"instance {body['status']} at {body['update_time']}")
            if event.type in approval.APPLICANT_MESSAGES:
                open_id = approval.open_ids(self.connector.slug, {claim.claimant_id}).get(claim.claimant_id)
                if open_id:
                    message = approval.message_body(
                        event_type=event.type, claim=claim, open_id=open_id, uuid=str(event.id)
                    )
                    self.api.call(
                        "im", "POST", "/open-apis/im/v1/messages", params={"receive_id_type": "open_id"}, json=message
                    )
                    sent.append("message to the applicant")
        except VendorRateLimited as exc:
            wait = str(math.ceil(exc.retry_after)) if exc.retry_after else None
            return result(429, error=_short(exc), retry_after=wait)
        except VendorError as exc:
            return result(_status_for(exc), error=_short(exc))
        except requests.RequestException as exc:
            return result(None, error=_short(exc))
        return result(200, "sent: " + ", ".join(sent) if sent else "skipped: a newer event of this claim follows")

    # --- directory ------------------------------------------------------------------------------------------
    def iter_departments(self) -> Iterator[DirectoryDepartment]:
        if self._departments is None:
            found = [fdir.root_department(self.connector.name)]
            params = {"fetch_child": "true", **fdir.ID_PARAMS}
            for item in self.api.pages("contact", "/open-apis/contact/v3/departments/0/children", params):
                found.append(fdir.to_department(item))
            self._departments = found
        yield from self._departments

    def iter_users(self, *, updated_since: str | None = None) -> Iterator[DirectoryUser]:
        """Everyone, department by department (Feishu has no "changed since" query: events and this
        sweep keep us current; an incremental run reads all and deactivates nobody for being absent)."""
        departments = list(self.iter_departments())
        resolver = fdir.ManagerResolver(departments)

        def listed() -> Iterator[dict[str, Any]]:
            for department in departments:
                params = {"department_id": department.external_id, **fdir.ID_PARAMS}
                yield from self.api.pages("contact", "/open-apis/contact/v3/users/find_by_department", params)

        for item in fdir.unique_users(listed()):
            yield fdir.to_user(item, resolver)

    def fetch_user(self, external_id: str) -> DirectoryUser | None:
        try:
            data = self.api.call("contact", "GET", f"/open-apis/contact/v3/users/{external_id}", params=fdir.ID_PARAMS)
        except FeishuError as exc:
            if exc.code in USER_GONE_CODES:
                return None
            raise
        item = data.get("user") or {}
        if not item:
            return None
        return fdir.to_user(item, fdir.ManagerResolver(list(self.iter_departments())))

    def fetch_department(self, external_id: str) -> DirectoryDepartment | None:
        if external_id == fdir.ROOT:
            return fdir.root_department(self.connector.name)
        path = f"/open-apis/contact/v3/departments/{external_id}"
        try:
            data = self.api.call("contact", "GET", path, params=fdir.ID_PARAMS)
        except FeishuError as exc:
            if exc.code in DEPARTMENT_GONE_CODES:
                return None
            raise
        item = data.get("department")
        return fdir.to_department(item) if item else None

    # --- health ---------------------------------------------------------------------------------------------
    def health(self) -> HealthResult:
        """Token, contact (departments and users) and approval scopes, named in plain words."""
        missing = [
            label
            for name, label in (("app_id", "App ID"), ("base_url", "open platform address"))
            if not self.option(name)
        ]
        missing += [
            label
            for name, label in (
                ("app_secret", "App Secret"),
                ("verification_token", "Verification Token"),
                ("encrypt_key", "Encrypt Key"),
            )
            if not self.credentials.get(name)
        ]
        if missing:
            return HealthResult(False, "Not configured yet: " + ", ".join(missing) + ".")
        checks = [
            ("departments", "GET", "/open-apis/contact/v3/departments/0/children", {"page_size": 1, **fdir.ID_PARAMS}),
            (
                "users",
                "GET",
                "/open-apis/contact/v3/users/find_by_department",
                {"department_id": "0", "page_size": 1, **fdir.ID_PARAMS},
            ),
            (
                "approval",
                "GET",
                f"/open-apis/approval/v4/external_approvals/{self.option('approval_code', 'baoxiao-expense')}",
                None,
            ),
        ]
        details: dict[str, Any] = {}
        try:
            for name, method, path, params in checks:
                api = "approval" if name == "approval" else "contact"
                try:
                    self.api.call(api, method, path, params=params)
                    details[name] = "ok"
                except FeishuError as exc:
                    if (
                        exc.code in PERMISSION_CODES
                        or exc.code in INVALID_TOKEN_CODES
                        or exc.code in BAD_APP_CREDENTIALS
                    ):
                        return HealthResult(False, str(exc), details | {name: exc.code})
                    if name != "approval":
                        return HealthResult(False, str(exc), details | {name: exc.code})
                    details[name] = "definition not created yet (done at the first claim)"
        except VendorRateLimited:
            return HealthResult(False, "Feishu says too many requests right now; test again in a minute.", details)
        except requests.RequestException as exc:
            return HealthResult(False, f"Unreachable: {_short(exc)}", details)
        details["im:message"] = "not checked: Feishu has no dry run for sending messages"
        return HealthResult(True, details=details)


def _status_for(exc: VendorError) -> int:
    """Our outbox's terms: 401/403/400 hold the event for an admin, 429/503 retry it."""
    if exc.code in PERMISSION_CODES:
        return 403
    if exc.code in INVALID_TOKEN_CODES or exc.code in BAD_APP_CREDENTIALS:
        return 401
    if exc.code == TOO_SOON:
        return 429
    if exc.status is None or exc.status >= 500 or exc.code in (1395001, None):
        return 503
    return 400
