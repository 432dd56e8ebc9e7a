"""The WeCom connector (docs/connectors/wecom.md says what to set up in WeCom's admin console).

* Directory: ``department/simplelist`` + ``department/get`` (heads: ``department_leader``); people from
  ``user/list_id`` (cursor paging, contact-sync secret) or ``user/simplelist`` per department, each read
  with ``user/get``. Manager: ``direct_leader``, else the head of the main department, else up the tree.
  ``status`` 2 (disabled) and 5 (left) are inactive.
* Events in: the GET URL check (decrypt ``echostr``, answer its plaintext) and POSTed XML ``<Encrypt>``
  bodies. ``change_contact`` re-fetches the person or department; ``template_card_event`` (a click on an
  approval card) is a decision, applied through the approval services as the clicking person.
* Out: an interactive card (``button_interaction``) per approval task with "Approve" (a callback) and
  "Reject or return…" (opens the task in Baoxiao: both need a reason, which a button cannot carry);
  the card's buttons are replaced once the task is decided (``update_template_card``). The claimant gets
  a text card at submission, return, approval and payment.
"""

from __future__ import annotations

import json
import logging
import re
import time
import xml.etree.ElementTree as ET  # noqa: S405 - DOCTYPE and entities are refused before parsing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from xml.sax.saxutils import escape

import requests
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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
from oa_bridge.connectors.bizmsgcrypt import BizMsgCrypt, CryptoError
from oa_bridge.connectors.dingtalk import common
from oa_bridge.connectors.vendorkit import RateLimit, VendorError
from oa_bridge.connectors.wecom.forms import WeComSettingsForm
from oa_bridge.models import ConnectorKind, OutboxEvent

log = logging.getLogger(__name__)

API = "https://qyapi.weixin.qq.com"
DEFAULT_LIMIT = RateLimit(per_second=50, per_minute=10000)  # WeCom: 10,000 calls a minute per API and corp
RULES = common.VendorRules(invalid_token=frozenset({40014, 42001}), limited=frozenset({45009, 45033, -1}))
FETCH_WORKERS = 4
NOT_FOUND_USER = {60111}
NOT_FOUND_DEPARTMENT = {60123, 60003}
INACTIVE_STATUS = {2, 5}  # disabled, left
DECISION = "com.baoxiao.approval.decision"
USER_CHANGES = {"create_user", "update_user", "delete_user"}
PARTY_CHANGES = {"create_party", "update_party", "delete_party"}
WHAT_IS_NEEDED = {
    "department": gettext_lazy("read the departments (put them in the app's visible range or use the contact secret)"),
    "user": gettext_lazy("read the members (put them in the app's visible range or use the contact secret)"),
}


@register(ConnectorKind.WECOM)
class WeComConnector(BaseConnector):
    settings_form = WeComSettingsForm
    inbound_methods = ("GET", "POST")
    directory_keeps = frozenset({"level"})

    def __init__(self, connector):
        super().__init__(connector)
        self._apis: dict[str, common.VendorApi] = {}
        self._departments: dict[str, dict[str, Any]] | None = None

    # --- plumbing ------------------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return str(common.option(self.connector, "api_base_url", API)).rstrip("/")

    @property
    def corp_id(self) -> str:
        return str((self.connector.options or {}).get("corp_id", ""))

    def _api(self, which: str) -> common.VendorApi:
        """ "app" (messages, cards) or "contact" (the directory: the contact-sync secret when set)."""
        secret_name = (
            "contact_secret" if which == "contact" and self.credentials.get("contact_secret") else "app_secret"
        )
        if secret_name not in self._apis:
            limit = common.limit_from(self.connector, "rate_limit", DEFAULT_LIMIT)

            def fetch() -> tuple[str, int]:
                return self._fetch_token(self.credentials.get(secret_name, ""))

            self._apis[secret_name] = common.VendorApi(
                self.connector, RULES, fetch, {"default": limit}, token_name=secret_name
            )
        return self._apis[secret_name]

    def _fetch_token(self, secret: str) -> tuple[str, int]:
        response = common.get(f"{self.base}/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": secret})
        body = common.decode(response)
        if common.errcode(body) not in (0, None) or not body.get("access_token"):
            raise VendorError(
                f"WeCom refused the corp id and secret ({common.errcode(body)}: "
                f"{common.errmsg(body) or response.status_code})",
                code=common.errcode(body),
                status=response.status_code,
            )
        return body["access_token"], int(body.get("expires_in") or 7200)

    def _get(self, which: str, api: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base}/cgi-bin/{path}"
        return self._api(which).call(
            api, lambda token: common.get(url, params={"access_token": token} | (params or {}))
        )

    def _post(self, which: str, api: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base}/cgi-bin/{path}"
        return self._api(which).call(
            api, lambda token: common.send("POST", url, params={"access_token": token}, body=payload)
        )

    # --- directory -----------------------------------------------------------------------------------------
    def _department(self, dept_id: str) -> dict[str, Any] | None:
        try:
            return self._get("contact", "department.get", "department/get", {"id": dept_id}).get("department")
        except VendorError as exc:
            if exc.code in NOT_FOUND_DEPARTMENT:
                return None
            raise

    def _all_departments(self) -> dict[str, dict[str, Any]]:
        if self._departments is None:
            listed = self._get("contact", "department.simplelist", "department/simplelist").get("department_id") or []
            found: dict[str, dict[str, Any]] = {}
            for item in listed:
                key = str(item["id"])
                found[key] = self._department(key) or {"id": item["id"], "parentid": item.get("parentid"), "name": key}
            self._departments = found
        return self._departments

    def _tree(self) -> tuple[dict[str, list[str]], dict[str, str | None]]:
        departments = self._all_departments()
        heads = {key: [str(u) for u in d.get("department_leader") or []] for key, d in departments.items()}
        return heads, {key: _parent(d, departments) for key, d in departments.items()}

    def _as_department(self, item: dict[str, Any], known: dict[str, dict[str, Any]] | None) -> DirectoryDepartment:
        heads = item.get("department_leader") or []
        return DirectoryDepartment(
            external_id=str(item["id"]),
            name=str(item.get("name") or item["id"]),
            parent_external_id=_parent(item, known),
            head_external_id=str(heads[0]) if heads else None,
        )

    def iter_departments(self) -> Iterator[DirectoryDepartment]:
        departments = self._all_departments()
        for item in departments.values():
            yield self._as_department(item, departments)

    def fetch_department(self, external_id: str) -> DirectoryDepartment | None:
        item = self._department(external_id)
        return self._as_department(item, None) if item else None

    def _user_ids(self) -> list[str]:
        ids: list[str] = []
        if self.credentials.get("contact_secret"):
            cursor = ""
            while True:
                body = self._post("contact", "user.list_id", "user/list_id", {"cursor": cursor, "limit": 1000})
                ids += [str(row["userid"]) for row in body.get("dept_user") or []]
                cursor = body.get("next_cursor") or ""
                if not cursor:
                    break
        else:
            for dept_id in self._all_departments():
                body = self._get("contact", "user.simplelist", "user/simplelist", {"department_id": dept_id})
                ids += [str(row["userid"]) for row in body.get("userlist") or []]
        return list(dict.fromkeys(ids))  # someone in several departments is listed once per department

    def iter_users(self, *, updated_since: str | None = None) -> Iterator[DirectoryUser]:
        # WeCom has no "changed since" query either: every run reads everyone.
        heads, parents = self._tree()
        ids = self._user_ids()
        # One user/get per person: a few at a time (the client-side limit still counts every call).
        workers = max(1, min(16, int(common.option(self.connector, "fetch_workers", FETCH_WORKERS))))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for item in pool.map(self._get_user, ids):
                if item is not None:
                    yield self._user(item, heads, parents)

    def fetch_user(self, external_id: str) -> DirectoryUser | None:
        item = self._get_user(external_id)
        if item is None:
            return None
        heads: dict[str, list[str]] = {}
        parents: dict[str, str | None] = {}
        node: str | None = str(item.get("main_department") or (item.get("department") or [""])[0])
        while node and node not in parents:
            dept = self._department(node)
            if dept is None:
                break
            heads[node] = [str(u) for u in dept.get("department_leader") or []]
            parents[node] = _parent(dept, None)
            node = parents[node]
        return self._user(item, heads, parents)

    def _get_user(self, userid: str) -> dict[str, Any] | None:
        try:
            return self._get("contact", "user.get", "user/get", {"userid": userid})
        except VendorError as exc:
            if exc.code in NOT_FOUND_USER:
                return None
            raise

    def _user(self, item, heads, parents) -> DirectoryUser:
        userid = str(item.get("userid"))
        department = item.get("main_department") or (item.get("department") or [None])[0]
        department = str(department) if department not in (None, "") else None
        leaders = [str(u) for u in item.get("direct_leader") or []]
        try:
            status = int(item.get("status") or 1)
        except (TypeError, ValueError):
            status = 1
        return DirectoryUser(
            external_id=userid,
            name=str(item.get("name") or userid),
            email=str(item.get("biz_mail") or item.get("email") or ""),
            employee_no=_extattr(item, ("工号", "Employee No", "employee_no")),
            department_external_id=department,
            manager_external_id=common.manager_of(userid, leaders[0] if leaders else None, department, heads, parents),
            title=str(item.get("position") or ""),
            active=status not in INACTIVE_STATUS,
        )

    # --- inbound -------------------------------------------------------------------------------------------
    def _crypto(self) -> BizMsgCrypt:
        token, aes_key = self.credentials.get("callback_token"), self.credentials.get("aes_key")
        if not token or not aes_key or not self.corp_id:
            raise InboundRejected(
                "the WeCom connector has no corp id, callback Token or EncodingAESKey configured", 401
            )
        try:
            return BizMsgCrypt(token, aes_key, self.corp_id)
        except CryptoError as exc:
            raise InboundRejected(f"the configured EncodingAESKey is unusable: {exc}", 401) from None

    def receive(self, request: InboundRequest) -> InboundMessage:
        query = request.query
        signature, timestamp, nonce = (query.get(k, "") for k in ("msg_signature", "timestamp", "nonce"))
        if not signature or not nonce:
            raise InboundRejected("not a WeCom callback: msg_signature, timestamp and nonce are needed")
        crypto = self._crypto()
        if common.stale(timestamp, milliseconds=False):
            raise InboundRejected("the callback's timestamp is more than 5 minutes off: refused as a replay")
        if request.method == "GET":
            echostr = query.get("echostr", "").replace(" ", "+")  # a "+" the sender forgot to encode
            plain = self._open(crypto, signature, timestamp, nonce, echostr)
            raise InboundHandshake(InboundReply(200, plain, "text/plain; charset=utf-8"))
        outer = _xml(request.body)
        encrypted = outer.get("Encrypt")
        if not encrypted:
            raise InboundRejected("not a WeCom callback: the XML body has no Encrypt")
        event = _xml(self._open(crypto, signature, timestamp, nonce, encrypted))
        return _message(event)

    def _open(self, crypto: BizMsgCrypt, signature: str, timestamp: str, nonce: str, encrypted: str) -> bytes:
        try:
            return crypto.open(signature, timestamp, nonce, encrypted)
        except CryptoError as exc:
            raise InboundRejected(f"callback refused: {exc}", 401) from None

    def reply(self, outcome, message: InboundMessage) -> InboundReply:
        if outcome.status >= 500:
            return super().reply(outcome, message)
        if message.type == DECISION and outcome.result in ("applied", "already_decided"):
            # Passive reply to the click: the card's buttons become one grey label.
            label = _("Approved") if outcome.result == "applied" else _("Already decided")
            return self._encrypted_reply(message.raw, label)
        return InboundReply(200, "success", "text/plain; charset=utf-8")

    def _encrypted_reply(self, event: dict[str, Any], label: str) -> InboundReply:
        inner = (
            f"<xml><ToUserName><![CDATA[{_cdata(event.get('FromUserName', ''))}]]></ToUserName>"
            f"<FromUserName><![CDATA[{_cdata(self.corp_id)}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[update_button]]></MsgType>"
            f"<Button><ReplaceName><![CDATA[{_cdata(label)}]]></ReplaceName></Button></xml>"
        )
        sealed = self._crypto().seal(inner)
        body = (
            f"<xml><Encrypt><![CDATA[{sealed['encrypt']}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sealed['msg_signature']}]]></MsgSignature>"
            f"<TimeStamp>{escape(sealed['timestamp'])}</TimeStamp><Nonce><![CDATA[{sealed['nonce']}]]></Nonce></xml>"
        )
        return InboundReply(200, body, "application/xml; charset=utf-8")

    # --- outbound ------------------------------------------------------------------------------------------
    def deliver(self, event: OutboxEvent) -> DeliveryResult:
        started = time.perf_counter()
        try:
            if event.type == common.TASK_CREATED:
                return self._card(event, started)
            if event.type in common.TASK_CLOSED:
                return self._close(event, started)
            if event.type in common.APPLICANT_NOTICES:
                return self._notify(event, started)
        except (VendorError, requests.RequestException) as exc:
            return common.failed(exc, started)
        return common.skipped(f"{event.type} is not sent to WeCom")

    @property
    def agent_id(self) -> int:
        try:
            return int(common.option(self.connector, "agent_id", 0))
        except (TypeError, ValueError):
            return 0

    def _card(self, event: OutboxEvent, started: float) -> DeliveryResult:
        change, claim = common.change(event), common.claim(event)
        task_id = change.get("task")
        userid = common.external_id(self.connector, change.get("assignee_id"))
        if not userid:
            return common.skipped(f"the approver (employee {change.get('assignee_id')}) has no WeCom id")
        known = common.recall(self.connector, task_id)
        if known and known.get("response_code"):  # a redelivery: the card is out already
            return common.delivered(started, known)
        url = common.task_url(task_id)
        card = {
            "card_type": "button_interaction",
            "source": {"desc": "Baoxiao 报销"},
            "main_title": {"title": common.task_title(event)[:36], "desc": str(claim.get("purpose", ""))[:44]},
            "horizontal_content_list": [
                {"keyname": _("Claimant"), "value": str((claim.get("claimant") or {}).get("name", ""))},
                {"keyname": _("Amount"), "value": f"{claim.get('total_amount', '')} {claim.get('currency', '')}"},
                {"keyname": _("Claim"), "value": str(claim.get("number", "")), "type": 1, "url": url},
            ],
            "card_action": {"type": 1, "url": url},
            "task_id": f"baoxiao-task-{task_id}",
            "button_list": [
                {"text": _("Approve"), "style": 1, "key": f"approve:{task_id}"},
                {"text": _("Reject or return…"), "style": 2, "type": 1, "url": url},
            ],
        }
        body = self._post(
            "app",
            "message.send",
            "message/send",
            {"touser": userid, "msgtype": "template_card", "agentid": self.agent_id, "template_card": card},
        )
        ref = {"response_code": body.get("response_code", ""), "userid": userid, "card_task": card["task_id"]}
        common.remember(self.connector, task_id, ref)
        return common.delivered(started, ref)

    def _close(self, event: OutboxEvent, started: float) -> DeliveryResult:
        change = common.change(event)
        task_id = change.get("task")
        ref = common.recall(self.connector, task_id)
        if not ref or not ref.get("response_code"):
            return common.skipped(f"no WeCom card is known for task {task_id}")
        decision = str(change.get("decision") or "")
        label = {"approved": _("Approved"), "rejected": _("Rejected"), "returned": _("Returned")}.get(
            decision, _("Handled")
        )
        payload = {
            "userids": [ref["userid"]],
            "agentid": self.agent_id,
            "response_code": ref["response_code"],
            "button": {"replace_name": label},
        }
        try:
            self._post("app", "message.update_template_card", "message/update_template_card", payload)
        except VendorError as exc:
            if exc.code in (40091, 40092, 40093, 40094, 40095):  # the code was used (by the click) or expired
                return common.skipped(f"the card of task {task_id} cannot be updated any more ({exc.code})")
            raise
        return common.delivered(started, {"closed": ref["card_task"]})

    def _notify(self, event: OutboxEvent, started: float) -> DeliveryResult:
        userid = common.external_id(self.connector, common.claimant_id(event))
        if not userid:
            return common.skipped("the claimant has no WeCom id")
        title, text = common.applicant_text(event)
        payload = {
            "touser": userid,
            "msgtype": "textcard",
            "agentid": self.agent_id,
            "textcard": {
                "title": title,
                "description": text,
                "url": common.claim_url(common.claim(event).get("id")),
                "btntxt": _("Open"),
            },
        }
        body = self._post("app", "message.send", "message/send", payload)
        return common.delivered(started, {"msgid": body.get("msgid", "")})

    # --- health --------------------------------------------------------------------------------------------
    def health(self) -> HealthResult:
        missing = [] if self.corp_id else ["corp_id"]
        missing += [] if self.credentials.get("app_secret") else ["app_secret"]
        if missing:
            return HealthResult(False, _("Missing settings: %(names)s.") % {"names": ", ".join(missing)})
        checks = (
            ("token", lambda: self._api("app").tokens.get()),
            ("department", lambda: self._get("contact", "department.simplelist", "department/simplelist")),
            ("user", lambda: self._user_ids_probe()),
        )
        for which in ("app", "contact"):  # a token cached from before must not hide a changed secret
            self._api(which).tokens.invalidate()
        for what, check in checks:
            try:
                check()
            except VendorError as exc:
                return HealthResult(False, _problem(what, exc), details={"code": exc.code})
            except requests.RequestException as exc:
                return HealthResult(False, _("WeCom is unreachable: %(error)s") % {"error": _short(exc)})
        return HealthResult(True, details={"checked": [what for what, _check in checks]})

    def _user_ids_probe(self) -> None:
        if self.credentials.get("contact_secret"):
            self._post("contact", "user.list_id", "user/list_id", {"cursor": "", "limit": 1})
        else:
            root = next(iter(self._all_departments()), "1")
            self._get("contact", "user.simplelist", "user/simplelist", {"department_id": root})


def _problem(what: str, exc: VendorError) -> str:
    code, text = exc.code, _short(exc)
    if what == "token":
        return _("Bad credentials: %(error)s") % {"error": text}
    if code == 60020:
        found = re.search(r"from ip:?\s*([0-9a-fA-F.:]+)", str(exc))
        return _(
            "WeCom refuses calls from this server's IP address %(ip)s: add it to the app's trusted IPs "
            "(企业可信IP) in the admin console."
        ) % {"ip": found.group(1) if found else _("(WeCom did not say which)")}
    if code == 48002:
        return _(
            "Missing permission: WeCom says “api forbidden”: this secret may not %(what)s. Use the contact-sync "
            "secret, or give the app the API permission in the admin console (48002)."
        ) % {"what": WHAT_IS_NEEDED.get(what, what)}
    if code == 60011:
        return _(
            "Missing permission: WeCom says “no privilege to access/modify contact/party/agent”: the app may not "
            "%(what)s. Widen the app's visible range (可见范围) to the whole company (60011)."
        ) % {"what": WHAT_IS_NEEDED.get(what, what)}
    return _("WeCom answered an error: %(code)s %(error)s") % {"code": code, "error": text}


def _parent(item: dict[str, Any], known: dict[str, dict[str, Any]] | None) -> str | None:
    parent = item.get("parentid")
    if parent in (None, "", 0, "0") or (known is not None and str(parent) not in known):
        return None
    return str(parent)


def _extattr(item: dict[str, Any], names: tuple[str, ...]) -> str:
    for attr in ((item.get("extattr") or {}).get("attrs")) or []:
        if attr.get("name") in names:
            return str(attr.get("value") or (attr.get("text") or {}).get("value") or "")
    return ""


def _cdata(value: Any) -> str:
    return str(value).replace("]]>", "]]]]><![CDATA[>")


def _xml(raw: bytes | str) -> dict[str, Any]:
    """A flat WeCom XML message as a dict (nested elements become dicts); refuses DTDs and entities."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise InboundRejected("XML with a DTD or entities is refused")
    try:
        root = ET.fromstring(text)  # noqa: S314  # nosec B314 - no DTD (refused above), so no entity expansion
    except ET.ParseError:
        raise InboundRejected("the body is not the XML WeCom sends") from None
    return _element(root) if len(root) else {}


def _element(node: ET.Element) -> dict[str, Any]:
    return {child.tag: (_element(child) if len(child) else (child.text or "").strip()) for child in node}


def _message(event: dict[str, Any]) -> InboundMessage:
    """A WeCom event in our terms, deduplicated on MsgId, else on who sent it when (and what it is)."""
    kind = str(event.get("Event") or event.get("MsgType") or "")
    change_type = str(event.get("ChangeType") or "")
    data: dict[str, Any] = {"event": kind}
    if kind == "change_contact" and change_type in USER_CHANGES:
        our_type = "com.baoxiao.directory.user.changed"
        data |= {"id": str(event.get("UserID") or ""), "change": change_type}
    elif kind == "change_contact" and change_type in PARTY_CHANGES:
        our_type = "com.baoxiao.directory.department.changed"
        data |= {"id": str(event.get("Id") or ""), "change": change_type}
    elif kind == "template_card_event":
        verb, _sep, task = str(event.get("EventKey") or "").partition(":")
        our_type = DECISION
        data = {
            "decision": verb,
            "task_id": task,
            "approver": str(event.get("FromUserName") or ""),
            "comment": _("Decided on the WeCom card."),
            "response_code": event.get("ResponseCode", ""),
        }
    else:
        our_type = f"wecom.{kind or 'unknown'}" + (f".{change_type}" if change_type else "")
    external_id = str(event.get("MsgId") or "") or ":".join(
        str(event.get(k) or "")
        for k in ("FromUserName", "CreateTime", "Event", "ChangeType", "UserID", "Id", "EventKey", "TaskId")
    )
    return InboundMessage(external_id[:200], our_type, data, json.loads(json.dumps(event)))
