"""A fake Feishu open platform on 127.0.0.1 (port 0), following the documented endpoints, paging, error
codes and rate limits, driven by the recorded vendor-shaped JSON in tests/oa_bridge/fixtures/feishu/.

It also produces callbacks the way Feishu does (encrypted and signed with its own AES code, not ours),
so tests can hand the same request to lark-oapi's dispatcher and to our receiver.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from Crypto.Cipher import AES  # pycryptodome, as lark-oapi uses: independent of the connector's code

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feishu"
CONTACT_READ = ["contact:contact.base:readonly", "contact:contact:readonly_as_app", "contact:contact:readonly"]
SCOPES = {
    "departments": ["contact:department.base:readonly", *CONTACT_READ],
    "users": ["contact:user.base:readonly", *CONTACT_READ],
    "approval_read": ["approval:approval:readonly", "approval:approval"],
    "approval_write": ["approval:approval"],
    "im": ["im:message:send_as_bot", "im:message"],
}
ALL_SCOPES = {
    "contact:department.base:readonly",
    "contact:user.base:readonly",
    "contact:contact.base:readonly",
    "approval:approval",
    "im:message:send_as_bot",
}
PAGE_SIZE_MAX = 50
INSTANCE_STATUSES = {"PENDING", "APPROVED", "REJECTED", "CANCELED", "DELETED", "HIDDEN", "TERMINATED"}
TASK_STATUSES = {"PENDING", "APPROVED", "REJECTED", "TRANSFERRED", "DONE"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Reply(Exception):  # noqa: N818 - control flow inside the handler
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error(name: str, **fill: str) -> Reply:
    spec = copy.deepcopy(fixture("errors.json")[name])
    text = json.dumps(spec["body"], ensure_ascii=False)
    for key, value in fill.items():
        text = text.replace("{" + key + "}", value)
    return Reply(spec["status"], json.loads(text), spec.get("headers"))


class FakeFeishu:
    """The open platform for one tenant. Change ``departments``, ``users`` or ``scopes`` between calls."""

    def __init__(self, *, app_id: str = "cli_a0b1c2d3e4f5", app_secret: str = "feishu-app-secret", token_ttl=7140):  # noqa: S107
        self.app_id, self.app_secret, self.token_ttl = app_id, app_secret, token_ttl
        self.departments: list[dict[str, Any]] = fixture("departments.json")["items"]
        self.users: list[dict[str, Any]] = fixture("users.json")["items"]
        self.scopes: set[str] = set(ALL_SCOPES)
        self.tokens: dict[str, float] = {}
        self.token_requests = 0
        self.calls: list[tuple[str, str, dict[str, list[str]]]] = []
        self.per_second: int | None = None  # the server-side limit per API path, like the gateway's
        self.limited = 0  # calls the gateway limit refused
        self._window: dict[tuple[str, int], int] = defaultdict(int)
        self._faults: list[dict[str, Any]] = []
        self.definitions: dict[str, dict[str, Any]] = {}
        self.instances: dict[str, dict[str, Any]] = {}
        self.instance_log: list[tuple[str, str, int, bool]] = []  # instance, status, update_time, applied
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- test controls ---------------------------------------------------------------------------------------
    def fail(self, path_part: str, name: str = "rate_limited", *, after: int = 0, times: int = 1) -> None:
        """Answer the (after+1)-th call whose path contains ``path_part`` with a fixture error, ``times`` times."""
        self._faults.append({"part": path_part, "name": name, "skip": after, "times": times})

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def count(self, path_part: str) -> int:
        return sum(1 for _, path, _ in self.calls if path_part in path)

    # --- dispatch --------------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], headers, body: bytes):
        with self.lock:
            self.calls.append((method, path, query))
            self._fault(path)
            self._gateway_limit(path)
        q = {k: v[0] for k, v in query.items()}
        data = json.loads(body) if body else {}
        if path == "/open-apis/auth/v3/tenant_access_token/internal" and method == "POST":
            return self._token(data)
        self._authorised(headers)
        routes = [
            ("GET", r"/open-apis/contact/v3/departments/([^/]+)/children", self._children),
            ("GET", r"/open-apis/contact/v3/departments/([^/]+)", self._department),
            ("GET", r"/open-apis/contact/v3/users/find_by_department", self._find_by_department),
            ("GET", r"/open-apis/contact/v3/users/([^/]+)", self._user),
            ("POST", r"/open-apis/approval/v4/external_approvals", self._create_definition),
            ("GET", r"/open-apis/approval/v4/external_approvals/([^/]+)", self._get_definition),
            ("POST", r"/open-apis/approval/v4/external_instances", self._sync_instance),
            ("POST", r"/open-apis/approval/v4/external_instances/check", self._check_instances),
            ("POST", r"/open-apis/im/v1/messages", self._message),
        ]
        for verb, pattern, view in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return view(q, data, *match.groups())
        raise Reply(404, {"code": 404, "msg": "404 page not found"})

    def _fault(self, path: str) -> None:
        for fault in self._faults:
            if fault["times"] > 0 and fault["part"] in path:
                if fault["skip"] > 0:
                    fault["skip"] -= 1
                    continue
                fault["times"] -= 1
                raise error(fault["name"])

    def _gateway_limit(self, path: str) -> None:
        if self.per_second is None:
            return
        key = (re.sub(r"/(od|ou)[-_][^/]+", "/:id", path), int(time.time()))
        self._window[key] += 1
        if self._window[key] > self.per_second:
            self.limited += 1
            raise error("rate_limited")

    def _token(self, data: dict[str, Any]):
        self.token_requests += 1
        if data.get("app_id") != self.app_id or data.get("app_secret") != self.app_secret:
            raise error("bad_app_secret")
        token = "t-" + uuid.uuid4().hex
        self.tokens[token] = time.time() + self.token_ttl
        return {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": self.token_ttl}

    def _authorised(self, headers) -> None:
        token = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if self.tokens.get(token, 0) < time.time():
            raise error("invalid_token")

    def _need(self, scope_set: str) -> None:
        wanted = SCOPES[scope_set]
        if not self.scopes.intersection(wanted):
            raise error("missing_scope", scopes=", ".join(wanted), first=wanted[0])

    @staticmethod
    def _page(items: list[Any], q: dict[str, str]) -> dict[str, Any]:
        size = int(q.get("page_size") or 10)
        if not 1 <= size <= PAGE_SIZE_MAX:
            raise error("invalid_param")
        start = int(base64.b64decode(q["page_token"]).decode()) if q.get("page_token") else 0
        chunk = items[start : start + size]
        more = start + size < len(items)
        data = {"has_more": more, "items": copy.deepcopy(chunk)}
        if more:
            data["page_token"] = base64.b64encode(str(start + size).encode()).decode()
        return {"code": 0, "msg": "success", "data": data}

    # --- contact ---------------------------------------------------------------------------------------------
    def _children(self, q, data, parent: str):
        self._need("departments")
        if q.get("department_id_type") != "open_department_id":
            raise error("invalid_param")  # the fixtures are recorded with open_department_id
        found, frontier = [], [parent]
        while frontier:
            current = frontier.pop(0)
            kids = [d for d in self.departments if d["parent_department_id"] == current]
            found += kids
            if q.get("fetch_child") == "true":
                frontier += [d["open_department_id"] for d in kids]
        return self._page(found, q)

    def _department(self, q, data, department_id: str):
        self._need("departments")
        item = next((d for d in self.departments if d["open_department_id"] == department_id), None)
        if item is None:
            raise error("department_not_found")
        return {"code": 0, "msg": "success", "data": {"department": copy.deepcopy(item)}}

    def _find_by_department(self, q, data):
        self._need("users")
        department = q.get("department_id", "")
        members = [u for u in self.users if department in u["department_ids"] and not u["status"].get("is_resigned")]
        return self._page(members, q)

    def _user(self, q, data, open_id: str):
        self._need("users")
        item = next((u for u in self.users if u["open_id"] == open_id), None)
        if item is None:
            raise error("user_not_found")
        return {"code": 0, "msg": "success", "data": {"user": copy.deepcopy(item)}}

    # --- approval --------------------------------------------------------------------------------------------
    def _create_definition(self, q, data):
        self._need("approval_write")
        external = data.get("external") or {}
        if not str(data.get("approval_name", "")).startswith("@i18n@") or not data.get("approval_code"):
            raise error("invalid_param")
        if external.get("enable_quick_operate") and not external.get("action_callback_url"):
            raise error("invalid_param")
        self.definitions[data["approval_code"]] = data
        return {"code": 0, "msg": "success", "data": {"approval_code": data["approval_code"]}}

    def _get_definition(self, q, data, code: str):
        self._need("approval_read")
        if code not in self.definitions:
            raise error("invalid_param")
        return {"code": 0, "msg": "success", "data": {"approval_code": code, "approval_name": "x"}}

    def _sync_instance(self, q, data):
        self._need("approval_write")
        keys = {t["key"] for r in data.get("i18n_resources") or [] for t in r.get("texts") or []}
        texts = [data.get("title")] + [f[k] for f in data.get("form") or [] for k in ("name", "value")]
        texts += [t.get("title") for t in data.get("task_list") or []]
        if (
            data.get("approval_code") not in self.definitions
            or data.get("status") not in INSTANCE_STATUSES
            or not (data.get("user_id") or data.get("open_id"))
            or any(not t or t not in keys for t in texts)
            or any(t.get("status") not in TASK_STATUSES for t in data.get("task_list") or [])
        ):
            raise error("invalid_param")
        instance_id, update_time = data["instance_id"], int(data["update_time"])
        with self.lock:
            current = self.instances.get(instance_id)
            applies = data.get("update_mode") != "UPDATE" or current is None or update_time > current["update_time"]
            if applies:
                self.instances[instance_id] = data
            self.instance_log.append((instance_id, data["status"], update_time, applies))
        return {"code": 0, "msg": "success", "data": {"data": copy.deepcopy(self.instances[instance_id])}}

    def _check_instances(self, q, data):
        self._need("approval_read")
        diff = [
            i
            for i in data.get("instances") or []
            if i["instance_id"] not in self.instances
            or int(i["update_time"]) != self.instances[i["instance_id"]]["update_time"]
        ]
        return {"code": 0, "msg": "success", "data": {"diff_instances": diff}}

    def _message(self, q, data):
        self._need("im")
        if q.get("receive_id_type") not in ("open_id", "user_id", "union_id", "email", "chat_id"):
            raise error("invalid_param")
        if data.get("msg_type") != "interactive" or not isinstance(json.loads(data.get("content") or "null"), dict):
            raise error("invalid_param")
        with self.lock:
            known = next((m for m in self.messages if data.get("uuid") and m.get("uuid") == data["uuid"]), None)
            if known is None:
                known = data | {"message_id": "om_" + uuid.uuid4().hex}
                self.messages.append(known)
        return {"code": 0, "msg": "success", "data": {"message_id": known["message_id"], "msg_type": "interactive"}}

    # --- callbacks Feishu sends ----------------------------------------------------------------------------------
    @staticmethod
    def encrypt(plaintext: str, encrypt_key: str) -> str:
        key = hashlib.sha256(encrypt_key.encode()).digest()
        iv = os.urandom(16)
        raw = plaintext.encode()
        pad = 16 - len(raw) % 16
        cipher = AES.new(key, AES.MODE_CBC, iv)
        return base64.b64encode(iv + cipher.encrypt(raw + bytes([pad]) * pad)).decode()

    @classmethod
    def callback(
        cls, document: dict[str, Any], *, encrypt_key: str, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body as Feishu posts them: encrypted when a key is set, then signed."""
        body = json.dumps({"encrypt": cls.encrypt(json.dumps(document, ensure_ascii=False), encrypt_key)}).encode()
        stamp, nonce = str(timestamp if timestamp is not None else int(time.time())), uuid.uuid4().hex[:16]
        signature = hashlib.sha256((stamp + nonce + encrypt_key).encode() + body).hexdigest()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Lark-Request-Timestamp": stamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature,
            "X-Request-Id": uuid.uuid4().hex,
        }
        return headers, body

    @staticmethod
    def event(name: str, **fill: str) -> dict[str, Any]:
        text = (FIXTURES / name).read_text(encoding="utf-8")
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        return json.loads(text)


def _handler(fake: FakeFeishu):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, payload, headers = (
                    200,
                    fake.handle(method, parts.path, parse_qs(parts.query), self.headers, body),
                    {},
                )
            except Reply as reply:
                status, payload, headers = reply.status, reply.body, reply.headers
            raw = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:  # noqa: N802 - http.server's names
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


# --- pytest fixtures (import them into a test module) --------------------------------------------------------
VERIFICATION_TOKEN = "v-token-from-the-console"  # noqa: S105 - a test value
ENCRYPT_KEY = "encrypt-key-from-the-console"


def make_connector(fake: FakeFeishu, *, slug: str = "feishu", **fields: Any):
    """A Feishu connector pointed at the fake, with the console's values."""
    from oa_bridge.credentials import set_credentials
    from oa_bridge.models import Connector

    defaults = {"name": "飞书 Feishu", "kind": "feishu", "directory_enabled": True, "deliver_events": False}
    connector = Connector.objects.create(
        slug=slug,
        options={"base_url": fake.url, "app_id": fake.app_id, "approval_code": "baoxiao-expense"},
        **(defaults | fields),
    )
    set_credentials(
        connector,
        {"app_secret": fake.app_secret, "verification_token": VERIFICATION_TOKEN, "encrypt_key": ENCRYPT_KEY},
    )
    return connector
