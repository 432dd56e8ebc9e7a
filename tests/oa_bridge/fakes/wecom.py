"""A fake WeCom server API (qyapi) on 127.0.0.1 (a free port), serving the documented endpoints with the
recorded shapes in tests/oa_bridge/fixtures/wecom/: two secrets (app and contact sync), tokens that
expire, departments, users with cursor paging, template cards, error codes and a per-API limit."""

from __future__ import annotations

import copy
import itertools
import uuid
from typing import Any

from tests.oa_bridge.fakes.dingtalk import Answer, FakeVendorServer, Request, fixture


class FakeWeCom(FakeVendorServer):
    vendor = "wecom"
    CORP_ID, APP_SECRET, CONTACT_SECRET = "ww0123456789abcdef", "wecom-app-secret", "wecom-contact-secret"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, str] = {}  # token -> which secret ("app" / "contact")
        self.departments: dict[int, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, dict[str, Any]] = {}  # response_code -> the message
        self.updates: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.denied: dict[str, str] = {}  # api -> error name in errors.json
        self.errors = fixture("wecom", "errors.json")
        self._dept_template = fixture("wecom", "department_get.json")["department"]
        self._user_template = {
            k: v for k, v in fixture("wecom", "user_get.json").items() if k not in ("errcode", "errmsg")
        }
        self._codes = itertools.count(1)
        self.add_department(1, "示例公司 Example Co", 0)

    def routes(self):
        return [
            ("GET", "/cgi-bin/gettoken", "gettoken", self.gettoken),
            ("GET", "/cgi-bin/department/simplelist", "department.simplelist", self.simplelist),
            ("GET", "/cgi-bin/department/get", "department.get", self.department_get),
            ("POST", "/cgi-bin/user/list_id", "user.list_id", self.list_id),
            ("GET", "/cgi-bin/user/simplelist", "user.simplelist", self.user_simplelist),
            ("GET", "/cgi-bin/user/get", "user.get", self.user_get),
            ("POST", "/cgi-bin/message/send", "message.send", self.message_send),
            ("POST", "/cgi-bin/message/update_template_card", "message.update_template_card", self.update_card),
        ]

    def limited_answer(self) -> Answer:
        return 200, self.errors["freq_limit"], {}

    # --- the directory ---------------------------------------------------------------------------------
    def add_department(self, dept_id: int, name: str, parent: int, leaders: list[str] = ()) -> None:
        record = copy.deepcopy(self._dept_template)
        record.update(
            id=dept_id, name=name, name_en="", parentid=parent, department_leader=list(leaders), order=dept_id
        )
        self.departments[dept_id] = record

    def add_user(self, userid: str, name: str, dept: int, *, leader: str = "", number: str = "", status: int = 1):
        record = copy.deepcopy(self._user_template)
        record.update(
            userid=userid,
            name=name,
            department=[dept],
            order=[0],
            main_department=dept,
            is_leader_in_dept=[1 if userid in self.departments[dept]["department_leader"] else 0],
            direct_leader=[leader] if leader else [],
            email=f"{userid}@corp.example",
            biz_mail=f"{userid}@corp.example",
            position="",
            status=status,
            open_userid=f"open-{userid}",
        )
        record["extattr"] = {"attrs": [{"type": 0, "name": "工号", "text": {"value": number or userid}}]}
        self.users[userid] = record
        return record

    def populate(self, people: int, departments: int = 20) -> None:
        self.departments[1]["department_leader"] = ["u00000"]
        self.add_user("u00000", "总经理 CEO", 1, number="E00000")
        for d in range(departments):
            dept_id = 100 + d
            parent = 1 if d < 5 else 100 + d % 5
            head = f"u{d + 1:05d}"
            self.add_department(dept_id, f"部门 Department {d}", parent, [head])
            self.add_user(head, f"主管 Head {d}", dept_id, number=f"E{d + 1:05d}")
        for n in range(departments + 1, people):
            dept_id = 100 + n % departments
            leader = f"u{(n % departments) + 1:05d}" if n % 10 == 0 else ""
            self.add_user(f"u{n:05d}", f"员工 Person {n}", dept_id, leader=leader, number=f"E{n:05d}")

    # --- handlers --------------------------------------------------------------------------------------
    def _guard(self, request: Request, api: str, *, contact_only: bool = False) -> Answer | None:
        which = self.tokens.get(request.query.get("access_token", ""))
        if which is None:
            return 200, self.errors["invalid_token"], {}
        if api in self.denied:
            return 200, self.errors[self.denied[api]], {}
        if contact_only and which != "contact":
            return 200, self.errors["api_forbidden"], {}
        return None

    def gettoken(self, request: Request) -> Answer:
        if request.query.get("corpid") != self.CORP_ID:
            return 200, {"errcode": 40013, "errmsg": "invalid corpid"}, {}
        which = {self.APP_SECRET: "app", self.CONTACT_SECRET: "contact"}.get(request.query.get("corpsecret", ""))
        if which is None:
            return 200, self.errors["bad_secret"], {}
        token = uuid.uuid4().hex
        self.tokens[token] = which
        return 200, fixture("wecom", "gettoken.json") | {"access_token": token}, {}

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def simplelist(self, request: Request) -> Answer:
        if problem := self._guard(request, "department.simplelist"):
            return problem
        rows = [{"id": d["id"], "parentid": d["parentid"], "order": d["order"]} for d in self.departments.values()]
        return 200, {"errcode": 0, "errmsg": "ok", "department_id": rows}, {}

    def department_get(self, request: Request) -> Answer:
        if problem := self._guard(request, "department.get"):
            return problem
        record = self.departments.get(int(request.query.get("id") or 0))
        if record is None:
            return 200, self.errors["dept_not_found"], {}
        return 200, {"errcode": 0, "errmsg": "ok", "department": record}, {}

    def list_id(self, request: Request) -> Answer:
        if problem := self._guard(request, "user.list_id", contact_only=True):
            return problem
        body = request.json()
        limit = int(body.get("limit") or 1000)
        if not 1 <= limit <= 10000:
            return 200, {"errcode": 40058, "errmsg": "limit is invalid"}, {}
        start = int(body.get("cursor") or 0)
        ids = list(self.users)
        rows = [{"userid": u, "department": self.users[u]["main_department"]} for u in ids[start : start + limit]]
        more = start + limit < len(ids)
        return (
            200,
            {"errcode": 0, "errmsg": "ok", "next_cursor": str(start + limit) if more else "", "dept_user": rows},
            {},
        )

    def user_simplelist(self, request: Request) -> Answer:
        if problem := self._guard(request, "user.simplelist"):
            return problem
        dept = int(request.query.get("department_id") or 0)
        if dept not in self.departments:
            return 200, self.errors["dept_not_found"], {}
        rows = [
            {"userid": u["userid"], "name": u["name"], "department": u["department"], "open_userid": u["open_userid"]}
            for u in self.users.values()
            if dept in u["department"]
        ]
        return 200, {"errcode": 0, "errmsg": "ok", "userlist": rows}, {}

    def user_get(self, request: Request) -> Answer:
        if problem := self._guard(request, "user.get"):
            return problem
        record = self.users.get(request.query.get("userid", ""))
        if record is None:
            return 200, self.errors["user_not_found"], {}
        return 200, {"errcode": 0, "errmsg": "ok"} | record, {}

    def message_send(self, request: Request) -> Answer:
        if problem := self._guard(request, "message.send"):
            return problem
        body = request.json()
        answer = fixture("wecom", "message_send.json") | {"msgid": uuid.uuid4().hex}
        if body.get("touser") not in self.users:
            answer["invaliduser"] = body.get("touser")
        if body.get("msgtype") == "template_card":
            code = f"rc{next(self._codes)}"
            answer["response_code"] = code
            self.cards[code] = body
        else:
            answer.pop("response_code")
            self.messages.append(body)
        return 200, answer, {}

    def update_card(self, request: Request) -> Answer:
        if problem := self._guard(request, "message.update_template_card"):
            return problem
        body = request.json()
        card = self.cards.pop(body.get("response_code", ""), None)  # a response code works once
        if card is None:
            return 200, self.errors["response_code_used"], {}
        self.updates.append(body | {"card": card})
        return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": []}, {}
