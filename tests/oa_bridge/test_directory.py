"""Directory pull: full and incremental runs against an OA's generic directory API served on 127.0.0.1,
the safety threshold, failures half-way, the beat, re-fetches, the reassignment of departed approvers'
tasks, and the sync screen."""

from __future__ import annotations

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from audit.models import AuditEvent
from config.errors import ConflictError
from oa_bridge.credentials import get_credentials, set_credentials
from oa_bridge.models import Connector, ConnectorKind, SandboxDepartment, SandboxUser, SyncRun
from oa_bridge.services.directory import (
    directory_refetch,
    directory_sync,
    directory_sync_confirm,
    directory_sync_due,
    directory_sync_start,
)
from org.models import Department, Employee, EmployeeExternalId
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db

User = get_user_model()
TOKEN = "directory-test-token"
LONG_AGO = "2020-01-01T00:00:00+00:00"


class DirectoryServer:
    """An OA's directory in the generic contract: paged JSON from mutable lists, a bearer token, an
    ``updated_since`` filter, and pages that can be made to fail."""

    def __init__(self, page_size: int = 2):
        self.page_size = page_size
        self.departments: list[dict] = []
        self.users: list[dict] = []
        self.failures: dict[tuple[str, int], int] = {}  # (path, page) -> HTTP status to answer
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def user(self, external_id: str) -> dict:
        return next(u for u in self.users if u["id"] == external_id)

    def department(self, external_id: str) -> dict:
        return next(d for d in self.departments if d["id"] == external_id)

    def touch(self, record: dict, **changes) -> dict:
        record.update(changes, updated_at=timezone.now().isoformat())
        return record

    def _answer(self, path: str, query: dict) -> tuple[int, dict]:
        page = int(query.get("page", ["1"])[0])
        if (path, page) in self.failures:
            return self.failures[(path, page)], {"detail": "the directory is having a bad day"}
        if path.startswith("/api/users/") and path != "/api/users/":
            external_id = path.removeprefix("/api/users/").strip("/")
            found = [u for u in self.users if u["id"] == external_id]
            return (200, found[0]) if found else (404, {"detail": "not found"})
        items = {"/api/departments/": self.departments, "/api/users/": self.users}.get(path)
        if items is None:
            return 404, {"detail": "no such list"}
        since = query.get("updated_since", [None])[0]
        if since:
            moment = datetime.datetime.fromisoformat(since)
            items = [i for i in items if datetime.datetime.fromisoformat(i.get("updated_at", LONG_AGO)) > moment]
        start = (page - 1) * self.page_size
        following = None
        if start + self.page_size < len(items):
            following = f"?page={page + 1}" + (f"&updated_since={since.replace('+', '%2B')}" if since else "")
        return 200, {"count": len(items), "next": following, "results": items[start : start + self.page_size]}

    def _handler(self):
        directory = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                split = urlsplit(self.path)
                directory.requests.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    status, body = 401, {"detail": "invalid token"}
                else:
                    status, body = directory._answer(split.path, parse_qs(split.query))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def department(external_id, name, parent=None, head=None, active=True):
    return {"id": external_id, "name": name, "parent_id": parent, "head_id": head, "active": active}


def person(external_id, name, department, manager=None, *, email=None, number=None, title="", level=1, active=True):
    return {
        "id": external_id,
        "name": name,
        "email": email if email is not None else f"{external_id.removeprefix('u-')}@example.com",
        "employee_no": number or f"N-{external_id}",
        "department_id": department,
        "manager_id": manager,
        "title": title,
        "level": level,
        "active": active,
    }


@pytest.fixture
def directory():
    server = DirectoryServer()
    server.departments = [
        department("d-hq", "Head office", head="u-ceo"),
        department("d-eng", "Engineering", "d-hq", head="u-ada"),
        department("d-sales", "Sales", "d-hq", head="u-bob"),
        department("d-web", "Web", "d-eng"),
    ]
    server.users = [
        person("u-ceo", "Cleo Chief", "d-hq", title="CEO", level=9),
        person("u-ada", "Ada Lead", "d-eng", "u-ceo", title="Head of engineering", level=7),
        person("u-bob", "Bob Seller", "d-sales", "u-ceo", level=7),
        person("u-cat", "Cat Coder", "d-web", "u-ada", level=3),
        person("u-dan", "Dan Dealer", "d-sales", "u-bob", level=2),
        person("u-eve", "Eve Engineer", "d-web", "u-ada", level=2),
    ]
    yield server
    server.close()


@pytest.fixture
def hr(directory, db):
    """A generic connector on the local directory, nothing linked yet."""
    connector = Connector.objects.create(
        slug="hr",
        name="HR system",
        kind=ConnectorKind.GENERIC,
        directory_url=directory.url,
        directory_enabled=True,
        deactivation_threshold_percent=50,
    )
    set_credentials(connector, {"api_token": TOKEN})
    return connector


def linked(slug: str = "hr") -> dict[str, Employee]:
    links = EmployeeExternalId.objects.filter(connector=slug).select_related("employee__user", "employee__manager")
    return {link.external_id: link.employee for link in links}


def departments_by_name() -> dict[str, Department]:
    return {d.name: d for d in Department.objects.all()}


def org_snapshot() -> list[tuple]:
    people = Employee.objects.order_by("pk").values_list(
        "pk", "name", "employee_no", "department", "manager", "title", "level", "active"
    )
    departments = Department.objects.order_by("pk").values_list("pk", "name", "parent", "path", "head", "active")
    return [*people, *departments, *User.objects.order_by("pk").values_list("pk", "email", "is_active")]


# --- full sync ----------------------------------------------------------------------------------------------
def test_a_full_sync_builds_the_org_chart_by_external_id(hr, directory):
    run = directory_sync(connector_id=hr.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert (run.departments_seen, run.users_seen, run.added, run.changed, run.deactivated, run.errors) == (
        4,
        6,
        10,
        0,
        0,
        0,
    )
    assert run.duration_s is not None and run.finished_at >= run.started_at
    by_name = departments_by_name()
    hq, eng, web = by_name["Head office"], by_name["Engineering"], by_name["Web"]
    assert hq.path == f"/{hq.pk}/" and eng.path == f"/{hq.pk}/{eng.pk}/" and web.path == f"{eng.path}{web.pk}/"
    assert (hq.depth, eng.depth, web.depth) == (0, 1, 2)
    people = linked()
    assert eng.head == people["u-ada"] and hq.head == people["u-ceo"] and web.head is None
    cat = people["u-cat"]
    assert cat.department == web and cat.manager == people["u-ada"] and people["u-ada"].manager == people["u-ceo"]
    assert (cat.name, cat.employee_no, cat.level, cat.title) == ("Cat Coder", "N-u-cat", 3, "")
    assert cat.user.username == "cat" and cat.user.email == "cat@example.com"
    assert not cat.user.has_usable_password()
    assert list(cat.user.groups.values_list("name", flat=True)) == ["employee"]
    assert people["u-ceo"].title == "CEO" and people["u-ceo"].level == 9
    assert AuditEvent.objects.filter(action="directory.synced", target_id=str(hr.pk)).count() == 1


def test_a_second_identical_sync_changes_nothing(hr, directory):
    directory_sync(connector_id=hr.pk)
    before = org_snapshot()
    run = directory_sync(connector_id=hr.pk)
    assert (run.status, run.added, run.changed, run.deactivated, run.errors) == ("succeeded", 0, 0, 0, 0)
    assert org_snapshot() == before


def test_usernames_come_from_the_email_or_the_external_id_and_stay_unique(hr, directory):
    User.objects.create_user(username="cat")  # somebody local already has it
    directory.user("u-eve")["email"] = ""
    run = directory_sync(connector_id=hr.pk)
    assert run.status == "succeeded"
    people = linked()
    assert people["u-cat"].user.username == "cat-2"
    assert people["u-eve"].user.username == "u-eve"


def test_mapping_by_external_id_survives_renames_and_moves(hr, directory):
    directory_sync(connector_id=hr.pk)
    people, by_name = linked(), departments_by_name()
    sales, eng, web = by_name["Sales"], by_name["Engineering"], by_name["Web"]
    # Sales is renamed to the name Engineering had, Engineering is renamed and moved under Sales.
    directory.department("d-sales")["name"] = "Engineering"
    directory.department("d-eng").update(name="Platform", parent_id="d-sales")
    directory.user("u-cat").update(name="Catherine Coder", email="catherine@example.com", title="Senior engineer")
    run = directory_sync(connector_id=hr.pk)
    assert run.status == "succeeded" and run.added == 0 and run.changed == 3, run.message
    sales.refresh_from_db(), eng.refresh_from_db(), web.refresh_from_db()
    assert (sales.name, eng.name) == ("Engineering", "Platform")
    assert eng.parent == sales and eng.path == f"{sales.path}{eng.pk}/" and eng.depth == 2
    assert web.path == f"{eng.path}{web.pk}/" and web.depth == 3  # the subtree moved along
    cat = Employee.objects.select_related("user").get(pk=people["u-cat"].pk)
    assert (cat.name, cat.title, cat.user.email) == ("Catherine Coder", "Senior engineer", "catherine@example.com")
    assert cat.user.username == "cat"  # the account keeps its sign-in name


def test_people_missing_from_a_full_sync_become_inactive_and_are_never_deleted(hr, directory):
    directory_sync(connector_id=hr.pk)
    directory.users = [u for u in directory.users if u["id"] != "u-dan"]
    directory.user("u-eve")["active"] = False
    run = directory_sync(connector_id=hr.pk)
    assert run.status == "succeeded" and run.deactivated == 2, run.message
    people = linked()
    assert not people["u-dan"].active and not people["u-eve"].active
    assert not people["u-dan"].user.is_active  # nor can they sign in
    assert people["u-cat"].active
    # Coming back switches them on again, as a change.
    directory.user("u-eve")["active"] = True
    run = directory_sync(connector_id=hr.pk)
    assert run.changed == 1 and run.deactivated == 0
    assert linked()["u-eve"].active and linked()["u-eve"].user.is_active


def test_a_failing_page_leaves_everything_as_it_was_and_fails_the_run(hr, directory):
    directory_sync(connector_id=hr.pk)
    before = org_snapshot()
    directory.users = directory.users[:1]  # the full sync would deactivate five people ...
    directory.user("u-ceo")["title"] = "Chair"
    directory.users += [person(f"u-new{i}", f"New {i}", "d-hq") for i in range(6)]
    directory.failures[("/api/users/", 3)] = 500  # ... but page 3 of the users fails
    run = directory_sync(connector_id=hr.pk)
    assert run.status == SyncRun.Status.FAILED
    assert "500" in run.message and "nothing was changed" in run.message
    assert (run.added, run.changed, run.deactivated) == (0, 0, 0)
    assert org_snapshot() == before
    assert "/api/users/?page=3" in directory.requests


def test_the_threshold_stops_a_mass_deactivation_until_an_admin_confirms_it(
    hr, directory, demo_company, django_capture_on_commit_callbacks
):
    directory_sync(connector_id=hr.pk)
    before = org_snapshot()
    directory.users = directory.users[:2]  # four of six would go: 66% > 50%
    run = directory_sync(connector_id=hr.pk)
    assert run.status == SyncRun.Status.NEEDS_CONFIRMATION
    assert run.deactivated == 4 and "4 of 6" in run.message and "50%" in run.message
    assert org_snapshot() == before

    admin = demo_company["admin"].user
    with pytest.raises(ConflictError):
        directory_sync_confirm(run_id=SyncRun.objects.filter(status="succeeded").first().pk, actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        directory_sync_confirm(run_id=run.pk, actor=admin)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and run.deactivated == 4, run.message
    assert "Confirmed by" in run.message
    assert sum(e.active for e in linked().values()) == 2
    assert AuditEvent.objects.filter(action="directory.sync.confirmed", actor=admin).exists()


def test_a_confirmation_covers_only_the_deactivations_it_showed(
    hr, directory, demo_company, django_capture_on_commit_callbacks
):
    directory_sync(connector_id=hr.pk)
    directory.users = directory.users[:2]
    run = directory_sync(connector_id=hr.pk)
    directory.users = directory.users[:1]  # by the time the admin confirms, even more would go
    with django_capture_on_commit_callbacks(execute=True):
        directory_sync_confirm(run_id=run.pk, actor=demo_company["admin"].user)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.NEEDS_CONFIRMATION and run.deactivated == 5
    assert sum(e.active for e in linked().values()) == 6


def test_records_that_cannot_be_applied_are_named_and_the_rest_applies(hr, directory):
    directory.users += [
        person("u-lost", "Lost Soul", "d-nowhere"),
        person("u-x", "Xavier", "d-hq", "u-y"),
        person("u-y", "Yolanda", "d-hq", "u-x"),  # the two would manage each other
        person("u-self", "Selma", "d-hq", "u-self"),
        person("u-twin", "Twin", "d-hq", number="N-u-cat"),  # Cat's employee number
    ]
    directory.departments.append(department("d-orphan", "Orphan", "d-missing"))
    run = directory_sync(connector_id=hr.pk)
    assert run.status == "succeeded"
    assert run.errors == 6, run.message
    for named in ("u-lost", "d-nowhere", "d-orphan", "d-missing", "u-self", "u-twin", "loop"):
        assert named in run.message
    people = linked()
    assert "u-lost" not in people and "u-twin" not in people and len(people) == 9
    x, y = people["u-x"], people["u-y"]
    assert x.manager is None and y.manager is None  # which of the two is right cannot be told
    assert people["u-self"].manager is None
    assert not Department.objects.filter(name="Orphan").exists()


# --- incremental sync ----------------------------------------------------------------------------------------
def test_an_incremental_sync_reads_changed_users_and_deactivates_nobody_for_being_absent(hr, directory):
    first = directory_sync(connector_id=hr.pk)
    assert first.status == "succeeded"
    directory.touch(directory.user("u-dan"), manager_id="u-ada", department_id="d-eng", title="Engineer")
    directory.touch(directory.user("u-eve"), active=False)
    directory.users = [u for u in directory.users if u["id"] != "u-cat"]  # absent but not changed
    directory.requests.clear()
    run = directory_sync(connector_id=hr.pk, incremental=True)
    assert run.status == "succeeded" and run.incremental, run.message
    assert (run.users_seen, run.changed, run.deactivated) == (2, 1, 1)
    assert any("updated_since=" in r for r in directory.requests)
    people = linked()
    assert people["u-dan"].manager == people["u-ada"] and people["u-dan"].department.name == "Engineering"
    assert not people["u-eve"].active
    assert people["u-cat"].active


def test_an_incremental_sync_without_a_previous_success_reads_everything(hr, directory):
    run = directory_sync(connector_id=hr.pk, incremental=True)
    assert run.status == "succeeded" and not run.incremental and run.users_seen == 6


# --- re-fetch of one record ----------------------------------------------------------------------------------
def test_a_refetch_applies_one_user_and_a_vanished_one_leaves(hr, directory):
    directory_sync(connector_id=hr.pk)
    directory.user("u-cat")["title"] = "Staff engineer"
    directory.user("u-dan")["title"] = "Not read"
    outcome = directory_refetch(connector_id=hr.pk, kind="user", external_id="u-cat")
    assert "1 changed" in outcome
    people = linked()
    assert people["u-cat"].title == "Staff engineer" and people["u-dan"].title == ""
    directory.users = [u for u in directory.users if u["id"] != "u-dan"]
    assert "deactivated" in directory_refetch(connector_id=hr.pk, kind="user", external_id="u-dan")
    assert not linked()["u-dan"].active


def test_a_refetch_of_a_department_moves_it(hr, directory):
    directory_sync(connector_id=hr.pk)
    directory.department("d-web")["parent_id"] = "d-sales"
    directory_refetch(connector_id=hr.pk, kind="department", external_id="d-web")
    web, sales = departments_by_name()["Web"], departments_by_name()["Sales"]
    assert web.parent == sales and web.path == f"{sales.path}{web.pk}/"


def test_an_inbound_directory_event_refetches_the_user(hr, directory, client, django_capture_on_commit_callbacks):
    """The OA's "user changed" event, through the inbound endpoint and the queued task."""
    from oa_bridge import signing
    from oa_bridge.credentials import new_webhook_secret

    directory_sync(connector_id=hr.pk)
    secret = new_webhook_secret()
    set_credentials(hr, get_credentials(hr) | {"inbound_secrets": [secret]})
    directory.user("u-bob")["title"] = "Head of sales"
    body = json.dumps({"id": "evt-1", "type": "com.baoxiao.directory.user.changed", "data": {"id": "u-bob"}}).encode()
    headers = signing.sign_headers([secret], "evt-1", body)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/oa/{hr.slug}/events/", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 202, response.content
    assert linked()["u-bob"].title == "Head of sales"


# --- the beat -----------------------------------------------------------------------------------------------
def test_the_beat_runs_only_due_connectors_and_is_safe_to_run_twice(hr, directory, django_capture_on_commit_callbacks):
    recent = Connector.objects.create(
        slug="recent",
        name="Synced a minute ago",
        kind=ConnectorKind.GENERIC,
        directory_url=directory.url,
        directory_enabled=True,
        sync_interval_minutes=60,
        last_sync_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    Connector.objects.create(slug="off", name="No directory", kind=ConnectorKind.GENERIC, directory_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        started = directory_sync_due()
        again = directory_sync_due()
    assert again == [] and len(started) == 1
    run = SyncRun.objects.get(pk=started[0])
    assert run.connector == hr and run.status == "succeeded" and not run.incremental
    assert not SyncRun.objects.filter(connector=recent).exists()
    # An hour later both are due; the one with a recent full run goes incremental.
    later = timezone.now() + datetime.timedelta(minutes=61)
    with django_capture_on_commit_callbacks(execute=True):
        started = directory_sync_due(now=later)
        assert directory_sync_due(now=later) == []
    runs = {r.connector.slug: r for r in SyncRun.objects.filter(pk__in=started)}
    assert set(runs) == {"hr", "recent"} and runs["hr"].incremental and not runs["recent"].incremental


def test_a_run_lost_with_its_worker_is_given_up_and_the_connector_synced_again(hr, directory):
    lost = SyncRun.objects.create(connector=hr)
    SyncRun.objects.filter(pk=lost.pk).update(started_at=timezone.now() - datetime.timedelta(hours=1))
    assert directory_sync_due() != []  # not held back by the lost run
    lost.refresh_from_db()
    assert lost.status == "failed" and "given up" in lost.message


def test_sync_now_returns_the_run_already_going(hr):
    first = directory_sync_start(connector_id=hr.pk)
    assert directory_sync_start(connector_id=hr.pk) == first
    assert first.status == "running" and first.message == "Queued."


# --- the demo company: departed approvers ---------------------------------------------------------------------
@pytest.fixture
def sandbox_directory(demo_company, directory):
    """The demo connector reading the demo org chart (as the sandbox serves it) from the local server."""
    from oa_bridge.sandbox.views import _department_json, _user_json

    connector = Connector.objects.get(slug="sandbox")
    connector.directory_url = directory.url
    connector.save(update_fields=["directory_url"])
    set_credentials(connector, get_credentials(connector) | {"api_token": TOKEN})
    directory.departments = [_department_json(d) for d in SandboxDepartment.objects.all()]
    directory.users = [_user_json(u) for u in SandboxUser.objects.all()]
    directory.page_size = 10
    return connector


def test_the_demo_directory_matches_the_demo_org_chart(sandbox_directory, demo_company):
    before = org_snapshot()
    run = directory_sync(connector_id=sandbox_directory.pk)
    assert (run.status, run.added, run.changed, run.deactivated, run.errors) == ("succeeded", 0, 0, 0, 0), run.message
    assert run.users_seen == 32
    assert org_snapshot() == before


def test_a_departed_approver_s_open_tasks_are_reassigned(sandbox_directory, directory, demo_company):
    claim = submit(make_claim(demo_company["zhangwei"]))
    [task] = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING)
    assert task.assignee == demo_company["liuyang"]
    directory.user("u-liuyang")["active"] = False
    run = directory_sync(connector_id=sandbox_directory.pk)
    assert run.status == "succeeded" and run.deactivated == 1, run.message
    assert "1 open approval task reassigned" in run.message
    task.refresh_from_db()
    assert task.status == TaskStatus.TRANSFERRED
    [new] = ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING)
    assert new.assignee != demo_company["liuyang"] and new.assignee.active


def test_a_moved_approver_s_open_tasks_are_re_resolved(sandbox_directory, directory, demo_company):
    claim = submit(make_claim(demo_company["zhangwei"]))
    directory.user("u-liuyang")["department_id"] = directory.departments[0]["id"]
    run = directory_sync(connector_id=sandbox_directory.pk)
    assert run.status == "succeeded" and run.changed == 1, run.message
    assert not ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING, assignee__user__username="liuyang")


# --- the screen ----------------------------------------------------------------------------------------------
def test_the_sync_screen_is_for_admins_only(hr, demo_company, client):
    run = directory_sync(connector_id=hr.pk)
    urls = ["/oa/admin/sync/", "/oa/admin/sync/hr/", f"/oa/admin/sync/runs/{run.pk}/"]
    assert client.get(urls[0]).status_code == 302  # to the sign-in page
    client.force_login(demo_company["zhangwei"].user)
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post("/oa/admin/sync/hr/sync/").status_code == 404
    assert client.post(f"/oa/admin/sync/runs/{run.pk}/confirm/").status_code == 404
    assert SyncRun.objects.count() == 1


def test_the_sync_screen_lists_runs_per_connector_with_their_counts(
    hr, directory, demo_company, client, django_assert_max_num_queries
):
    directory_sync(connector_id=hr.pk)
    directory.users = directory.users[:1]
    directory_sync(connector_id=hr.pk)
    client.force_login(demo_company["admin"].user)
    with django_assert_max_num_queries(12):
        page = client.get("/oa/admin/sync/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "HR system" in text and "OA sandbox" in text and "Needs confirmation" in text and "Succeeded" in text
    history = client.get("/oa/admin/sync/hr/")
    assert history.status_code == 200 and history.content.decode().count('href="/oa/admin/sync/runs/') == 2


def test_sync_now_queues_the_task_and_the_run_page_polls_until_it_is_done(
    hr, directory, demo_company, client, django_capture_on_commit_callbacks
):
    client.force_login(demo_company["admin"].user)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post("/oa/admin/sync/hr/sync/", {"mode": "full"})
    run = SyncRun.objects.get(connector=hr)
    assert response.status_code == 302 and response["Location"] == f"/oa/admin/sync/runs/{run.pk}/"
    assert run.status == "running" and len(queued) == 1
    page = client.get(f"/oa/admin/sync/runs/{run.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page and "<script" not in page.split("</head>")[1]
    # Pressing again while it runs shows the same run.
    with django_capture_on_commit_callbacks():
        again = client.post("/oa/admin/sync/hr/sync/")
    assert again["Location"] == response["Location"]
    queued[0]()  # the worker picks the task up
    partial = client.get(f"/oa/admin/sync/runs/{run.pk}/", headers={"HX-Request": "true"})
    text = partial.content.decode()
    assert "<html" not in text and "hx-trigger" not in text and "Succeeded" in text
    assert AuditEvent.objects.filter(action="directory.sync.requested").count() == 1


def test_an_admin_confirms_a_stopped_run_on_the_screen(
    hr, directory, demo_company, client, django_capture_on_commit_callbacks
):
    directory_sync(connector_id=hr.pk)
    directory.users = directory.users[:1]
    run = directory_sync(connector_id=hr.pk)
    client.force_login(demo_company["admin"].user)
    page = client.get(f"/oa/admin/sync/runs/{run.pk}/").content.decode()
    assert 'data-testid="confirm-run"' in page and "Would deactivate" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/oa/admin/sync/runs/{run.pk}/confirm/", follow=True)
    assert response.status_code == 200 and "Confirmed by" in response.content.decode()
    run.refresh_from_db()
    assert run.status == "succeeded" and run.deactivated == 5
    assert "Succeeded" in client.get(f"/oa/admin/sync/runs/{run.pk}/").content.decode()
    # Confirming again is refused politely.
    response = client.post(f"/oa/admin/sync/runs/{run.pk}/confirm/", follow=True)
    assert "Only a run that needs confirmation" in response.content.decode()


# --- the real sandbox API, over HTTP ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_full_and_incremental_syncs_from_the_sandbox_directory_api(live_server, settings, demo_company, monkeypatch):
    from oa_bridge.services import directory as directory_service

    settings.BAOXIAO_BASE_URL = live_server.url
    monkeypatch.setattr(directory_service, "INCREMENTAL_OVERLAP", datetime.timedelta(0))
    connector = Connector.objects.get(slug="sandbox")
    connector.deactivation_threshold_percent = 10
    connector.save(update_fields=["deactivation_threshold_percent"])
    run = directory_sync(connector_id=connector.pk)
    assert (run.status, run.users_seen, run.added, run.changed, run.deactivated) == ("succeeded", 32, 0, 0, 0)

    # In the OA: a new title, someone leaves, a newcomer joins under a manager.
    zhangwei = SandboxUser.objects.get(external_id="u-zhangwei")
    zhangwei.title = "Senior sales representative"
    zhangwei.save()
    leaver = SandboxUser.objects.get(external_id="u-zhoujing")
    leaver.active = False
    leaver.save()
    SandboxUser.objects.create(
        external_id="u-newbie",
        name="New Person",
        email="newbie@demo.example",
        employee_no="E9999",
        department_external_id=zhangwei.department_external_id,
        manager_external_id="u-liuyang",
        title="Intern",
    )
    run = directory_sync(connector_id=connector.pk, incremental=True)
    assert run.status == "succeeded", run.message
    assert (run.users_seen, run.added, run.changed, run.deactivated) == (3, 1, 1, 1)
    people = linked("sandbox")
    assert people["u-zhangwei"].title == "Senior sales representative"
    assert not people["u-zhoujing"].active
    newbie = people["u-newbie"]
    assert newbie.manager == people["u-liuyang"] and newbie.department == people["u-zhangwei"].department
    assert newbie.user.username == "newbie" and newbie.employee_no == "E9999"

    # Gone from the OA altogether: only a full run notices.
    SandboxUser.objects.filter(external_id="u-newbie").delete()
    assert directory_sync(connector_id=connector.pk, incremental=True).deactivated == 0
    run = directory_sync(connector_id=connector.pk)
    assert run.deactivated == 1 and not linked("sandbox")["u-newbie"].active


def test_a_confirmed_run_waiting_for_its_worker_is_not_given_up_as_lost(hr, directory, demo_company):
    directory_sync(connector_id=hr.pk)
    directory.users = directory.users[:1]
    run = directory_sync(connector_id=hr.pk)
    SyncRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - datetime.timedelta(days=2))
    directory_sync_confirm(run_id=run.pk, actor=demo_company["admin"].user)  # the task is not run yet
    directory_sync_due()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING


def test_new_departments_and_people_can_take_in_existing_ones_in_the_same_run(hr, directory):
    directory_sync(connector_id=hr.pk)
    directory.departments.append(department("d-ops", "Operations", "d-hq", head="u-max"))
    directory.users.append(person("u-max", "Max Manager", "d-ops", "u-ceo", level=6))
    directory.user("u-dan").update(department_id="d-ops", manager_id="u-max")
    directory.departments = [d for d in directory.departments if d["id"] != "d-web"]  # closed in the OA
    directory.user("u-cat")["department_id"] = "d-eng"
    directory.user("u-eve")["department_id"] = "d-eng"
    run = directory_sync(connector_id=hr.pk)
    assert run.status == "succeeded" and run.errors == 0, run.message
    assert (run.added, run.changed, run.deactivated) == (2, 4, 0), run.message
    people, by_name = linked(), departments_by_name()
    ops, web = by_name["Operations"], by_name["Web"]
    assert ops.head == people["u-max"] and ops.path == f"{by_name['Head office'].path}{ops.pk}/"
    assert people["u-dan"].department == ops and people["u-dan"].manager == people["u-max"]
    assert not web.active and Department.objects.filter(pk=web.pk).exists()  # closed, never deleted
