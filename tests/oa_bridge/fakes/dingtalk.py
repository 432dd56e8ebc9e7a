"""A fake DingTalk open platform on 127.0.0.1 (a free port), serving the documented endpoints with the
recorded shapes in tests/oa_bridge/fixtures/dingtalk/: tokens that expire, departments, users with
cursor paging, to-dos, work notifications, error codes and a per-API QPS limit. ``FakeVendorServer``
is shared with the WeCom fake."""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / name).read_text(encoding="utf-8"))


class Request:
    def __init__(self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]):
        self.method, self.path, self.query, self.body, self.headers = method, path, query, body, headers

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


class FakeVendorServer:
    """The HTTP plumbing: routes, a call log, injected failures, a per-API rate limit per second."""

    vendor = ""

    def __init__(self) -> None:
        self.calls: list[Request] = []
        self.injected: dict[str, list[Answer]] = defaultdict(list)  # api -> answers given before the real one
        self.qps: int | None = None  # the vendor's own limit per API and second; None: unlimited
        self.limited_count = 0  # how often it answered "too many requests" because of it
        self._window: dict[tuple[str, int], int] = defaultdict(int)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    self.rfile.read(length) if length else b"",
                    {k.lower(): v for k, v in self.headers.items()},
                )
                status, body, headers = fake.dispatch(request)
                payload = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _handle  # noqa: N815 - http.server's names

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- routing ---------------------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, str, Callable[..., Answer]]]:
        """(method, path prefix, api name, handler); subclasses list theirs."""
        raise NotImplementedError

    def dispatch(self, request: Request) -> Answer:
        with self.lock:
            self.calls.append(request)
        for method, prefix, api, handler in self.routes():
            if request.method == method and (request.path == prefix or request.path.startswith(prefix + "/")):
                with self.lock:
                    if self.injected[api]:
                        return self.injected[api].pop(0)
                    if self.qps is not None:
                        second = int(time.time())
                        self._window[(api, second)] += 1
                        if self._window[(api, second)] > self.qps:
                            self.limited_count += 1
                            return self.limited_answer()
                return handler(request)
        return 404, {"errcode": 404, "errmsg": f"no such API {request.method} {request.path}"}, {}

    def limited_answer(self) -> Answer:
        raise NotImplementedError

    def inject(self, api: str, *answers: Answer) -> None:
        with self.lock:
            self.injected[api].extend(answers)

    def count(self, path: str) -> int:
        return sum(1 for call in self.calls if call.path.startswith(path))


class FakeDingTalk(FakeVendorServer):
    """DingTalk's oapi (topapi) and api (v1.0) hosts on one port."""

    vendor = "dingtalk"
    APP_KEY, APP_SECRET = "dingappkey123", "dingappsecret456"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self.token_lifetime = 7200
        self.departments: dict[int, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.todos: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.denied: set[str] = set()  # api names answered "no permission"
        self.errors = fixture("dingtalk", "errors.json")
        self._dept_template = fixture("dingtalk", "department_get.json")["result"]
        self._user_template = fixture("dingtalk", "user_get.json")["result"]
        self.add_department(1, "示例公司 Example Co", None)

    def routes(self):
        return [
            ("GET", "/gettoken", "gettoken", self.gettoken),
            ("POST", "/topapi/v2/department/listsub", "department.listsub", self.listsub),
            ("POST", "/topapi/v2/department/get", "department.get", self.department_get),
            ("POST", "/topapi/v2/user/list", "user.list", self.user_list),
            ("POST", "/topapi/v2/user/get", "user.get", self.user_get),
            ("POST", "/topapi/message/corpconversation/asyncsend_v2", "message", self.asyncsend),
            ("POST", "/v1.0/todo/users", "todo.create", self.todo_create),
            ("PUT", "/v1.0/todo/users", "todo.update", self.todo_update),
        ]

    def limited_answer(self) -> Answer:
        return 200, self.errors["qps_limit"], {}

    # --- the directory ---------------------------------------------------------------------------------
    def add_department(self, dept_id: int, name: str, parent: int | None, heads: list[str] = ()) -> None:
        record = copy.deepcopy(self._dept_template)
        record.update(dept_id=dept_id, name=name, parent_id=parent, dept_manager_userid_list=list(heads))
        if parent is None:
            record.pop("parent_id")
        self.departments[dept_id] = record

    def add_user(self, userid: str, name: str, dept: int, *, manager: str = "", number: str = "", title: str = ""):
        record = copy.deepcopy(self._user_template)
        record.update(
            userid=userid,
            unionid=f"union-{userid}",
            name=name,
            dept_id_list=[dept],
            manager_userid=manager,
            job_number=number or userid,
            title=title,
            org_email=f"{userid}@corp.example",
            leader_in_dept=[{"dept_id": dept, "leader": userid in self.departments[dept]["dept_manager_userid_list"]}],
        )
        if not manager:
            record.pop("manager_userid")
        self.users[userid] = record
        return record

    def populate(self, people: int, departments: int = 20) -> None:
        """An org of ``people``: departments under the root, each with a head; everyone else reports to
        their department's head through the tree (no explicit manager), every tenth one explicitly."""
        self.departments[1]["dept_manager_userid_list"] = ["u00000"]
        self.add_user("u00000", "总经理 CEO", 1, number="E00000")
        for d in range(departments):
            dept_id = 100 + d
            parent = 1 if d < 5 else 100 + d % 5
            head = f"u{d + 1:05d}"
            self.add_department(dept_id, f"部门 Department {d}", parent, [head])
            self.add_user(head, f"主管 Head {d}", dept_id, number=f"E{d + 1:05d}")
        for n in range(departments + 1, people):
            dept_id = 100 + n % departments
            manager = f"u{(n % departments) + 1:05d}" if n % 10 == 0 else ""
            self.add_user(f"u{n:05d}", f"员工 Person {n}", dept_id, manager=manager, number=f"E{n:05d}")

    # --- handlers --------------------------------------------------------------------------------------
    def _token_ok(self, request: Request, header: bool = False) -> bool:
        token = request.headers.get("x-acs-dingtalk-access-token") if header else request.query.get("access_token")
        return token in self.tokens

    def _guard(self, request: Request, api: str) -> Answer | None:
        if not self._token_ok(request):
            return 200, self.errors["invalid_token"], {}
        if api in self.denied:
            return 200, self.errors["no_permission"], {}
        return None

    def gettoken(self, request: Request) -> Answer:
        if request.query.get("appkey") != self.APP_KEY or request.query.get("appsecret") != self.APP_SECRET:
            return 200, self.errors["bad_secret"], {}
        token = uuid.uuid4().hex
        self.tokens.add(token)
        answer = fixture("dingtalk", "gettoken.json") | {"access_token": token, "expires_in": self.token_lifetime}
        return 200, answer, {}

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def listsub(self, request: Request) -> Answer:
        if problem := self._guard(request, "department.listsub"):
            return problem
        parent = int(request.json().get("dept_id") or 1)
        children = [
            {k: d[k] for k in ("auto_add_user", "create_dept_group", "dept_id", "name", "parent_id")}
            for d in self.departments.values()
            if d.get("parent_id") == parent
        ]
        return 200, {"errcode": 0, "errmsg": "ok", "result": children, "request_id": uuid.uuid4().hex[:12]}, {}

    def department_get(self, request: Request) -> Answer:
        if problem := self._guard(request, "department.get"):
            return problem
        record = self.departments.get(int(request.json().get("dept_id") or 0))
        if record is None:
            return 200, self.errors["dept_not_found"], {}
        return 200, {"errcode": 0, "errmsg": "ok", "result": record, "request_id": uuid.uuid4().hex[:12]}, {}

    def user_list(self, request: Request) -> Answer:
        if problem := self._guard(request, "user.list"):
            return problem
        body = request.json()
        size = int(body.get("size") or 10)
        if size > 100:
            return 200, {"errcode": 400002, "errmsg": "size参数不合法"}, {}
        dept, cursor = int(body.get("dept_id") or 1), int(body.get("cursor") or 0)
        members = [u for u in self.users.values() if dept in u["dept_id_list"]]
        page = [dict(u, leader=dept in u["dept_id_list"] and u["userid"] in self._heads(dept)) for u in members]
        page = page[cursor : cursor + size]
        more = cursor + size < len(members)
        result = {"has_more": more, "list": page} | ({"next_cursor": cursor + size} if more else {})
        return 200, {"errcode": 0, "errmsg": "ok", "result": result, "request_id": uuid.uuid4().hex[:12]}, {}

    def _heads(self, dept: int) -> list[str]:
        return self.departments.get(dept, {}).get("dept_manager_userid_list", [])

    def user_get(self, request: Request) -> Answer:
        if problem := self._guard(request, "user.get"):
            return problem
        record = self.users.get(str(request.json().get("userid")))
        if record is None:
            return 200, self.errors["user_not_found"], {}
        return 200, {"errcode": 0, "errmsg": "ok", "result": record, "request_id": uuid.uuid4().hex[:12]}, {}

    def asyncsend(self, request: Request) -> Answer:
        if problem := self._guard(request, "message"):
            return problem
        body = request.json()
        self.messages.append(body)
        return 200, {"errcode": 0, "errmsg": "ok", "task_id": 256271667526, "request_id": "4jzllmte0wau"}, {}

    _ids = itertools.count(1)

    def todo_create(self, request: Request) -> Answer:
        if not self._token_ok(request, header=True):
            return 401, self.errors["new_api_invalid_token"], {}
        if "todo" in self.denied:
            return 403, self.errors["new_api_no_permission"], {}
        union = request.path.split("/")[4]
        if union not in {u["unionid"] for u in self.users.values()}:
            return 400, {"code": "invalidParameter.unionId", "message": "unionId不合法"}, {}
        body = request.json()
        todo = fixture("dingtalk", "todo_create.json") | body
        todo.update(id=f"todo{next(self._ids)}", done=False, creatorId=union)
        self.todos[todo["id"]] = todo
        return 200, todo, {}

    def todo_update(self, request: Request) -> Answer:
        if not self._token_ok(request, header=True):
            return 401, self.errors["new_api_invalid_token"], {}
        todo = self.todos.get(request.path.rsplit("/", 1)[-1])
        if todo is None:
            return 404, self.errors["new_api_todo_not_found"], {}
        todo.update(request.json())
        return 200, {"result": True}, {}
