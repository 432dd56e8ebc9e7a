"""The SCIM 2.0 connector against a real scim2-server on 127.0.0.1, seeded through its SCIM API."""

from __future__ import annotations

import datetime
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import EnterpriseUser, Group, Manager, PatchOp, PatchOperation, User

from oa_bridge.connectors import for_connector
from oa_bridge.connectors.scim import PROVIDER, ScimUser
from oa_bridge.credentials import set_credentials
from oa_bridge.models import Connector, ConnectorKind, SyncRun
from oa_bridge.services import directory as directory_service
from oa_bridge.services.directory import directory_refetch, directory_sync
from org.models import Department, EmployeeExternalId

pytestmark = pytest.mark.django_db

TOKEN = "scim-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_command() -> list[str]:
    beside = Path(sys.executable).parent / "scim2-server"
    found = str(beside) if beside.exists() else shutil.which("scim2-server")
    if not found:
        pytest.fail("scim2-server is not installed: pip install -e '.[test]'", pytrace=False)
    return [found]


class ScimDirectory:
    """A scim2-server process of its own, and a SCIM client to seed and change it."""

    def __init__(self):
        self.port = _free_port()
        command = _server_command() + ["--hostname", "127.0.0.1", "--port", str(self.port), "--bearer-token", TOKEN]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = f"http://127.0.0.1:{self.port}/v2"
        self.http = httpx2.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        self.scim = SyncSCIMClient(self.http, provider=PROVIDER)
        deadline = time.monotonic() + 15
        while True:
            try:
                if self.http.get("/ServiceProviderConfig").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.process.stdout.read() if self.process.stdout else ""
                self.close()
                pytest.fail(f"scim2-server did not start: {output}", pytrace=False)
            time.sleep(0.05)
        self.ids: dict[str, str] = {}  # our names -> the server's ids

    def user(self, key, name, *, number, manager=None, title="", email=True, department=None):
        user = ScimUser(
            user_name=key,
            display_name=name,
            title=title or None,
            active=True,
            emails=[User.Emails(value=f"{key}@corp.example", primary=True)] if email else None,
        )
        user[EnterpriseUser] = EnterpriseUser(
            employee_number=number,
            department=department,
            manager=Manager(value=self.ids[manager]) if manager else None,
        )
        self.ids[key] = self.scim.create(user).id
        return self.ids[key]

    def group(self, key, name, *, users=(), groups=()):
        members = [Group.Members(value=self.ids[u], type="User") for u in users]
        members += [Group.Members(value=self.ids[g], type="Group") for g in groups]
        self.ids[key] = self.scim.create(Group(display_name=name, members=members or None)).id
        return self.ids[key]

    def patch_user(self, key, path, value):
        operation = PatchOperation[ScimUser](op=PatchOperation.Op.replace_, path=path, value=value)
        self.scim.modify(ScimUser, self.ids[key], PatchOp[ScimUser](operations=[operation]))

    def close(self):
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def scim_server():
    server = ScimDirectory()
    yield server
    server.close()


@pytest.fixture
def seeded(scim_server):
    """A small company: a CEO over two heads, engineers and a seller; departments as nested groups."""
    s = scim_server
    s.user("cleo", "Cleo Chief", number="S001", title="CEO")
    s.user("ada", "Ada Lead", number="S002", manager="cleo", title="Head of engineering")
    s.user("bob", "Bob Seller", number="S003", manager="cleo")
    s.user("cat", "Cat Coder", number="S004", manager="ada", title="Engineer")
    s.user("dan", "Dan Dealer", number="S005", manager="bob", email=False)
    s.user("eve", "Eve Engineer", number="S006", manager="ada", department="Platform")
    s.user("fay", "Fay Floater", number="S007", manager="cleo", department="Sales")  # in no group
    s.group("web", "Web", users=["cat"])
    s.group("platform", "Platform", users=["eve"])
    s.group("eng", "Engineering", users=["ada", "eve"], groups=["web", "platform"])
    s.group("sales", "Sales", users=["bob", "dan"])
    s.group("hq", "Head office", users=["cleo"], groups=["eng", "sales"])
    return s


@pytest.fixture
def idp(scim_server):
    connector = Connector.objects.create(
        slug="idp",
        name="Identity provider",
        kind=ConnectorKind.SCIM,
        directory_url=scim_server.url,
        directory_enabled=True,
        deactivation_threshold_percent=50,
        field_mapping={"page_size": 2},  # several pages even for a small company
    )
    set_credentials(connector, {"api_token": TOKEN})
    return connector


def people() -> dict:
    links = EmployeeExternalId.objects.filter(connector="idp").select_related(
        "employee__user", "employee__manager__user", "employee__department"
    )
    return {link.employee.name.split()[0].lower(): link.employee for link in links}


def test_a_scim_sync_builds_the_org_chart_from_groups_and_the_enterprise_extension(idp, seeded):
    run = directory_sync(connector_id=idp.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert (run.departments_seen, run.users_seen, run.added, run.errors) == (5, 7, 12, 0)
    tree = {d.name: d for d in Department.objects.all()}
    hq, eng, web, platform, sales = (tree[n] for n in ("Head office", "Engineering", "Web", "Platform", "Sales"))
    assert hq.parent is None and eng.parent == hq and sales.parent == hq
    assert web.parent == eng and platform.parent == eng and web.path == f"/{hq.pk}/{eng.pk}/{web.pk}/"
    staff = people()
    assert set(staff) == {"cleo", "ada", "bob", "cat", "dan", "eve", "fay"}
    cat, eve, fay, dan = staff["cat"], staff["eve"], staff["fay"], staff["dan"]
    assert cat.department == web and cat.manager == staff["ada"] and cat.employee_no == "S004"
    assert cat.title == "Engineer" and cat.name == "Cat Coder" and cat.user.email == "cat@corp.example"
    assert eve.department == platform  # in Engineering and Platform: the enterprise department decides
    assert fay.department == sales  # in no group: the enterprise department name
    assert cat.user.username == "cat"  # the e-mail's local part
    assert dan.user.username == seeded.ids["dan"] and dan.user.email == ""  # no e-mail: the SCIM id
    assert staff["ada"].manager == staff["cleo"] and staff["cleo"].manager is None
    assert all(e.level == 1 for e in staff.values())  # SCIM has no levels
    assert not cat.user.has_usable_password()


def test_changes_on_the_scim_server_appear_after_an_incremental_sync(idp, seeded, monkeypatch):
    # With the clocks of the test and the server the same, no overlap is needed to see what changed.
    monkeypatch.setattr(directory_service, "INCREMENTAL_OVERLAP", datetime.timedelta(0))
    first = directory_sync(connector_id=idp.pk)
    assert first.status == "succeeded"
    levels_set_here = people()["ada"]
    levels_set_here.level = 7
    levels_set_here.save(update_fields=["level"])
    time.sleep(0.01)
    seeded.patch_user("dan", "active", False)
    seeded.patch_user("cat", f"{EnterpriseUser.__schema__}:manager", {"value": seeded.ids["cleo"]})
    seeded.patch_user("ada", "title", "CTO")
    run = directory_sync(connector_id=idp.pk, incremental=True)
    assert run.status == "succeeded" and run.incremental, run.message
    assert (run.users_seen, run.changed, run.deactivated) == (3, 2, 1), run.message
    staff = people()
    assert not staff["dan"].active and not staff["dan"].user.is_active
    assert staff["cat"].manager == staff["cleo"]
    assert staff["ada"].title == "CTO" and staff["ada"].level == 7  # the level set in Baoxiao stays


def test_a_user_removed_from_the_scim_server_is_deactivated_by_a_full_sync(idp, seeded):
    directory_sync(connector_id=idp.pk)
    seeded.scim.delete(ScimUser, seeded.ids["eve"])
    run = directory_sync(connector_id=idp.pk)
    assert run.status == "succeeded" and run.deactivated == 1, run.message
    assert not people()["eve"].active


def test_a_scim_refetch_reads_one_user_and_one_group(idp, seeded):
    directory_sync(connector_id=idp.pk)
    seeded.patch_user("bob", "title", "Head of sales")
    assert "1 changed" in directory_refetch(connector_id=idp.pk, kind="user", external_id=seeded.ids["bob"])
    assert people()["bob"].title == "Head of sales"
    department = for_connector(idp).fetch_department(seeded.ids["web"])
    assert department.name == "Web" and department.parent_external_id == seeded.ids["eng"]
    assert for_connector(idp).fetch_user("no-such-id") is None


def test_a_wrong_token_fails_the_run_and_changes_nothing(idp, seeded):
    set_credentials(idp, {"api_token": "wrong"})
    run = directory_sync(connector_id=idp.pk)
    assert run.status == "failed" and "nothing was changed" in run.message
    assert not EmployeeExternalId.objects.filter(connector="idp").exists()
    assert not for_connector(idp).health().ok
