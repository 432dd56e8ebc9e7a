"""The DingTalk connector (docs/connectors/dingtalk.md says what to set up in DingTalk's console).

* Directory: ``topapi/v2/department/listsub`` walked from the root (1) with ``department/get`` for each
  department's heads, ``topapi/v2/user/list`` per department with cursor paging. Manager: the person's
  ``manager_userid``, else the head of their department, else up the tree. DingTalk lists no departed
  people: they vanish, so a full sync deactivates them, and ``user_leave_org`` re-fetches them at once
  (``user/get`` then says 60121, not found: deactivated).
* Events in: the HTTP callback (``msg_signature``, ``timestamp`` in ms, ``nonce``; body ``{"encrypt"}``),
  answered with the encrypted "success". Contact events re-fetch the people and departments they name.
* Out: a to-do (``/v1.0/todo/users/{unionId}/tasks``) for each approval task, linking to the task's page
  in Baoxiao (decisions are taken there), marked done once the task is decided; work notifications to the
  claimant at submission, return, approval and payment.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import requests
from django.core.cache import cache
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
from oa_bridge.connectors.dingtalk.forms import DingTalkSettingsForm
from oa_bridge.connectors.vendorkit import RateLimit, VendorError
from oa_bridge.models import ConnectorKind, OutboxEvent

log = logging.getLogger(__name__)

OAPI = "https://oapi.dingtalk.com"
NEW_API = "https://api.dingtalk.com"
ROOT_DEPARTMENT = "1"
PAGE_SIZE = 100  # the most topapi/v2/user/list gives
DEFAULT_LIMIT = RateLimit(per_second=20)  # DingTalk's default per app and API
RULES = common.VendorRules(
    invalid_token=frozenset({40014, 42001, 40001, "InvalidAuthentication"}),
    limited=frozenset({88, 90018, 90002, 90006, "Forbidden.AccessDenied.QpsLimitForApi"}),
)
NOT_FOUND_USER = {60121, 33012}
NO_PERMISSION = {60011, 60020, 88001, "Forbidden.AccessDenied.AccessTokenPermissionDenied"}
# The permission each call needs, as DingTalk's console names it.
SCOPES = {
    "department": gettext_lazy("Contact: department information read (qyapi_get_department_list)"),
    "user": gettext_lazy("Contact: member information read (qyapi_get_member, qyapi_get_department_member)"),
    "todo": gettext_lazy("To-do: write to-dos (Todo.Todo.Write)"),
}
USER_EVENTS = {"user_add_org", "user_modify_org", "user_leave_org", "user_active_org", "org_admin_add"}
DEPARTMENT_EVENTS = {"org_dept_create", "org_dept_modify", "org_dept_remove"}
USER_CHANGED = "com.baoxiao.directory.user.changed"
DEPARTMENT_CHANGED = "com.baoxiao.directory.department.changed"


@register(ConnectorKind.DINGTALK)
class DingTalkConnector(BaseConnector):
    settings_form = DingTalkSettingsForm
    inbound_methods = ("POST",)
    directory_keeps = frozenset({"level"})  # DingTalk has no job levels we could use

    def __init__(self, connector):
        super().__init__(connector)
        self._api: common.VendorApi | None = None
        self._departments: dict[str, dict[str, Any]] | None = None

    # --- plumbing ------------------------------------------------------------------------------------------
    @property
    def oapi(self) -> str:
        return str(common.option(self.connector, "api_base_url", OAPI)).rstrip("/")

    @property
    def new_api(self) -> str:
        return str(common.option(self.connector, "api_base_url", NEW_API)).rstrip("/")

    @property
    def api(self) -> common.VendorApi:
        if self._api is None:
            limit = common.limit_from(self.connector, "rate_limit", DEFAULT_LIMIT)
            self._api = common.VendorApi(self.connector, RULES, self._fetch_token, {"default": limit})
        return self._api

    def _fetch_token(self) -> tuple[str, int]:
        options = self.connector.options or {}
        response = common.get(
            f"{self.oapi}/gettoken",
            params={"appkey": options.get("app_key", ""), "appsecret": self.credentials.get("app_secret", "")},
        )
        body = common.decode(response)
        if common.errcode(body) not in (0, None) or not body.get("access_token"):
            raise VendorError(
                f"DingTalk refused the app key and secret ({common.errcode(body)}: "
                f"{common.errmsg(body) or response.status_code})",
                code=common.errcode(body),
                status=response.status_code,
            )
        return body["access_token"], int(body.get("expires_in") or 7200)

    def _topapi(self, api: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.oapi}{path}"
        return self.api.call(api, lambda token: common.send("POST", url, params={"access_token": token}, body=payload))

    def _v1(self, api: str, method: str, path: str, payload: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.new_api}{path}"
        return self.api.call(
            api,
            lambda token: common.send(
                method, url, params=params, body=payload, headers={"x-acs-dingtalk-access-token": token}
            ),
        )

    # --- directory -----------------------------------------------------------------------------------------
    def _department(self, dept_id: str) -> dict[str, Any] | None:
        try:
            return self._topapi("department.get", "/topapi/v2/department/get", {"dept_id": int(dept_id)})["result"]
        except VendorError as exc:
            if exc.code in (60003, 60123):  # the department does not exist
                return None
            raise

    def _all_departments(self) -> dict[str, dict[str, Any]]:
        if self._departments is None:
            found: dict[str, dict[str, Any]] = {}
            root = self._department(ROOT_DEPARTMENT) or {"dept_id": 1, "name": "", "parent_id": None}
            found[ROOT_DEPARTMENT] = root
            queue = [ROOT_DEPARTMENT]
            while queue:
                parent = queue.pop(0)
                children = self._topapi("department.listsub", "/topapi/v2/department/listsub", {"dept_id": int(parent)})
                for child in children.get("result") or []:
                    key = str(child["dept_id"])
                    if key in found:
                        continue
                    found[key] = self._department(key) or child
                    queue.append(key)
            self._departments = found
        return self._departments

    def _tree(self) -> tuple[dict[str, list[str]], dict[str, str | None]]:
        departments = self._all_departments()
        heads = {key: [str(u) for u in d.get("dept_manager_userid_list") or []] for key, d in departments.items()}
        parents = {key: _parent(d) for key, d in departments.items()}
        return heads, parents

    def iter_departments(self) -> Iterator[DirectoryDepartment]:
        for key, item in self._all_departments().items():
            heads = item.get("dept_manager_userid_list") or []
            yield DirectoryDepartment(
                external_id=key,
                name=str(item.get("name") or key),
                parent_external_id=_parent(item),
                head_external_id=str(heads[0]) if heads else None,
            )

    def fetch_department(self, external_id: str) -> DirectoryDepartment | None:
        item = self._department(external_id)
        if item is None:
            return None
        heads = item.get("dept_manager_userid_list") or []
        return DirectoryDepartment(
            external_id=str(item["dept_id"]),
            name=str(item.get("name") or external_id),
            parent_external_id=_parent(item),
            head_external_id=str(heads[0]) if heads else None,
        )

    def iter_users(self, *, updated_since: str | None = None) -> Iterator[DirectoryUser]:
        # DingTalk has no "changed since" query: every run reads everyone (events keep it fresh between runs).
        heads, parents = self._tree()
        seen: set[str] = set()
        for dept_id in self._all_departments():
            cursor: int | None = 0
            while cursor is not None:
                payload = {"dept_id": int(dept_id), "cursor": cursor, "size": PAGE_SIZE, "contain_access_limit": False}
                result = self._topapi("user.list", "/topapi/v2/user/list", payload).get("result") or {}
                for item in result.get("list") or []:
                    userid = str(item.get("userid"))
                    if userid in seen:
                        continue
                    seen.add(userid)
                    yield self._user(item, heads, parents, dept_id)
                cursor = result.get("next_cursor") if result.get("has_more") else None

    def fetch_user(self, external_id: str) -> DirectoryUser | None:
        item = self._get_user(external_id)
        if item is None:
            return None
        heads: dict[str, list[str]] = {}
        parents: dict[str, str | None] = {}
        node = str((item.get("dept_id_list") or [ROOT_DEPARTMENT])[0])
        while node and node not in parents:  # only the chain above this person
            dept = self._department(node)
            if dept is None:
                break
            heads[node] = [str(u) for u in dept.get("dept_manager_userid_list") or []]
            parents[node] = _parent(dept)
            node = parents[node]
        return self._user(item, heads, parents, None)

    def _get_user(self, userid: str) -> dict[str, Any] | None:
        try:
            item = self._topapi("user.get", "/topapi/v2/user/get", {"userid": userid}).get("result")
        except VendorError as exc:
            if exc.code in NOT_FOUND_USER:
                return None
            raise
        if item and item.get("unionid"):
            cache.set(self._union_key(userid), item["unionid"], timeout=7 * 24 * 3600)
        return item

    def _user(self, item, heads, parents, listed_in: str | None) -> DirectoryUser:
        userid = str(item.get("userid"))
        departments = [str(d) for d in item.get("dept_id_list") or []]
        department = departments[0] if departments else listed_in
        return DirectoryUser(
            external_id=userid,
            name=str(item.get("name") or userid),
            email=str(item.get("org_email") or item.get("email") or ""),
            employee_no=str(item.get("job_number") or ""),
            department_external_id=department,
            manager_external_id=common.manager_of(
                userid, str(item.get("manager_userid") or "") or None, department, heads, parents
            ),
            title=str(item.get("title") or ""),
            active=True,  # DingTalk lists only people in the company; who left is absent
        )

    # --- inbound -------------------------------------------------------------------------------------------
    def _crypto(self) -> BizMsgCrypt:
        token, aes_key = self.credentials.get("callback_token"), self.credentials.get("aes_key")
        if not token or not aes_key:
            raise InboundRejected("the DingTalk connector has no callback token or aes_key configured", 401)
        try:
            return BizMsgCrypt(token, aes_key, str((self.connector.options or {}).get("app_key", "")))
        except CryptoError as exc:
            raise InboundRejected(f"the configured aes_key is unusable: {exc}", 401) from None

    def receive(self, request: InboundRequest) -> InboundMessage:
        if request.method != "POST":
            raise InboundRejected("DingTalk callbacks are POSTs", 405)
        query = request.query
        signature = query.get("msg_signature") or query.get("signature") or ""
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            encrypted = json.loads(request.body).get("encrypt")
        except (ValueError, UnicodeDecodeError, AttributeError):
            encrypted = None
        if not signature or not nonce or not isinstance(encrypted, str):
            raise InboundRejected("not a DingTalk callback: msg_signature, timestamp, nonce and encrypt are needed")
        crypto = self._crypto()
        if common.stale(timestamp, milliseconds=True):
            raise InboundRejected("the callback's timestamp is more than 5 minutes off: refused as a replay")
        try:
            plain = crypto.open(signature, timestamp, nonce, encrypted, also=(self._corp_id(),))
            event = json.loads(plain)
        except CryptoError as exc:
            raise InboundRejected(f"callback refused: {exc}", 401) from None
        except ValueError:
            raise InboundRejected("the decrypted callback is not JSON") from None
        if not isinstance(event, dict):
            raise InboundRejected("the decrypted callback is not a JSON object")
        kind = str(event.get("EventType") or "")
        if kind == "check_url":
            raise InboundHandshake(self._success())
        return _message(kind, event)

    def _corp_id(self) -> str:
        return str((self.connector.options or {}).get("corp_id", ""))

    def _success(self) -> InboundReply:
        sealed = self._crypto().seal("success", timestamp=str(int(time.time() * 1000)))
        body = {
            "msg_signature": sealed["msg_signature"],
            "encrypt": sealed["encrypt"],
            "timeStamp": sealed["timestamp"],
            "nonce": sealed["nonce"],
        }
        return InboundReply(200, json.dumps(body))

    def reply(self, outcome, message: InboundMessage) -> InboundReply:
        # Recorded (applied, ignored or refused for good): "success", or DingTalk retries the same event.
        if outcome.status >= 500:
            return super().reply(outcome, message)
        return self._success()

    # --- outbound ------------------------------------------------------------------------------------------
    def deliver(self, event: OutboxEvent) -> DeliveryResult:
        started = time.perf_counter()
        try:
            if event.type == common.TASK_CREATED:
                return self._todo(event, started)
            if event.type in common.TASK_CLOSED:
                return self._close(event, started)
            if event.type in common.APPLICANT_NOTICES:
                return self._notify(event, started)
        except (VendorError, requests.RequestException) as exc:
            return common.failed(exc, started)
        return common.skipped(f"{event.type} is not sent to DingTalk")

    def _union_key(self, userid: str) -> str:
        return f"oa-dingtalk-union:{self.connector.pk}:{userid}"

    def _union_id(self, userid: str) -> str | None:
        union = cache.get(self._union_key(userid))
        if union:
            return union
        item = self._get_user(userid)
        return str(item.get("unionid") or "") or None if item else None

    def _todo(self, event: OutboxEvent, started: float) -> DeliveryResult:
        change = common.change(event)
        task_id = change.get("task")
        userid = common.external_id(self.connector, change.get("assignee_id"))
        if not userid:
            return common.skipped(f"the approver (employee {change.get('assignee_id')}) has no DingTalk id")
        known = common.recall(self.connector, task_id)
        if known and known.get("todo_id"):  # a redelivery: the to-do exists already
            return common.delivered(started, known)
        union = self._union_id(userid)
        if not union:
            return common.skipped(f"DingTalk does not know {userid} (left the company?)")
        url = common.task_url(task_id)
        payload: dict[str, Any] = {
            "sourceId": f"baoxiao-task-{task_id}",
            "subject": common.task_title(event)[:1024],
            "description": str(common.claim(event).get("purpose", ""))[:4096],
            "executorIds": [union],
            "detailUrl": {"appUrl": url, "pcUrl": url},
            "isOnlyShowExecutor": True,
            "priority": 20,
        }
        due = _ms(change.get("due_at"))
        if due:
            payload["dueTime"] = due
        body = self._v1("todo", "POST", f"/v1.0/todo/users/{union}/tasks", payload, {"operatorId": union})
        ref = {"todo_id": str(body.get("id") or ""), "union_id": union}
        common.remember(self.connector, task_id, ref)
        return common.delivered(started, ref)

    def _close(self, event: OutboxEvent, started: float) -> DeliveryResult:
        task_id = common.change(event).get("task")
        ref = common.recall(self.connector, task_id)
        if not ref or not ref.get("todo_id"):
            return common.skipped(f"no DingTalk to-do is known for task {task_id}")
        union, todo = ref["union_id"], ref["todo_id"]
        try:
            self._v1("todo", "PUT", f"/v1.0/todo/users/{union}/tasks/{todo}", {"done": True}, {"operatorId": union})
        except VendorError as exc:
            if exc.status == 404:  # deleted in DingTalk meanwhile: nothing left to close
                return common.skipped(f"to-do {todo} no longer exists in DingTalk")
            raise
        return common.delivered(started, {"closed": todo})

    def _notify(self, event: OutboxEvent, started: float) -> DeliveryResult:
        userid = common.external_id(self.connector, common.claimant_id(event))
        if not userid:
            return common.skipped("the claimant has no DingTalk id")
        title, text = common.applicant_text(event)
        url = common.claim_url(common.claim(event).get("id"))
        payload = {
            "agent_id": int(common.option(self.connector, "agent_id", 0) or 0),
            "userid_list": userid,
            "msg": {
                "msgtype": "action_card",
                "action_card": {
                    "title": title,
                    "markdown": f"### {title}\n\n{text}",
                    "single_title": _("Open the claim"),
                    "single_url": url,
                },
            },
        }
        body = self._topapi("message", "/topapi/message/corpconversation/asyncsend_v2", payload)
        return common.delivered(started, {"message_task": body.get("task_id")})

    # --- health --------------------------------------------------------------------------------------------
    def health(self) -> HealthResult:
        options = self.connector.options or {}
        missing = [name for name in ("app_key",) if not options.get(name)]
        missing += [name for name in ("app_secret",) if not self.credentials.get(name)]
        if missing:
            return HealthResult(False, _("Missing settings: %(names)s.") % {"names": ", ".join(missing)})
        try:
            self.api.tokens.invalidate()
            self.api.tokens.get()
        except VendorError as exc:
            return HealthResult(False, _("Bad credentials: %(error)s") % {"error": _short(exc)})
        except requests.RequestException as exc:
            return HealthResult(False, _("DingTalk is unreachable: %(error)s") % {"error": _short(exc)})
        checks = (
            ("department", lambda: self._topapi("department.listsub", "/topapi/v2/department/listsub", {"dept_id": 1})),
            (
                "user",
                lambda: self._topapi("user.list", "/topapi/v2/user/list", {"dept_id": 1, "cursor": 0, "size": 1}),
            ),
        )
        for scope, check in checks:
            try:
                check()
            except VendorError as exc:
                return HealthResult(False, _permission_problem(scope, exc), details={"code": exc.code})
            except requests.RequestException as exc:
                return HealthResult(False, _("DingTalk is unreachable: %(error)s") % {"error": _short(exc)})
        return HealthResult(True, details={"checked": [scope for scope, _check in checks]})


def _permission_problem(scope: str, exc: VendorError) -> str:
    text = str(exc)
    if exc.code in NO_PERMISSION or "permission" in text.lower() or "权限" in text:
        return _(
            "Missing permission: in the DingTalk developer console, grant the app “%(scope)s” "
            "(DingTalk said: %(code)s %(error)s)."
        ) % {"scope": SCOPES[scope], "code": exc.code, "error": _short(exc)}
    return _("DingTalk answered an error: %(code)s %(error)s") % {"code": exc.code, "error": _short(exc)}


def _parent(item: dict[str, Any]) -> str | None:
    parent = item.get("parent_id")
    if parent in (None, "", 0) or str(item.get("dept_id")) == ROOT_DEPARTMENT:
        return None
    return str(parent)


def _ms(value: Any) -> int | None:
    if not value:
        return None
    try:
        return int(datetime.datetime.fromisoformat(str(value)).timestamp() * 1000)
    except ValueError:
        return None


def _message(kind: str, event: dict[str, Any]) -> InboundMessage:
    """A DingTalk event in our terms; deduplicated on its id, else its type, time and the ids it names."""
    if kind in USER_EVENTS:
        ids = [str(u) for u in _as_list(event.get("UserId") or event.get("userId"))]
        our_type, data = USER_CHANGED, {"ids": ids, "id": ids[0] if ids else "", "event": kind}
    elif kind in DEPARTMENT_EVENTS:
        ids = [str(d) for d in _as_list(event.get("DeptId") or event.get("deptId"))]
        our_type, data = DEPARTMENT_CHANGED, {"ids": ids, "id": ids[0] if ids else "", "event": kind}
    else:
        ids, our_type, data = [], f"dingtalk.{kind or 'unknown'}", {"event": kind}
    stamp = event.get("eventId") or event.get("EventId") or event.get("TimeStamp") or event.get("timeStamp") or ""
    external_id = f"{kind}:{stamp}:{','.join(sorted(ids))}"
    return InboundMessage(external_id[:200], our_type, data, event)


def _as_list(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]
