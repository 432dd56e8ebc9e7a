"""The Feishu settings page: filled in with the console's values, saved (secrets encrypted, never shown
back) and tested against the fake Feishu; "Test connection" names what is wrong in plain words."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from django.conf import settings

from oa_bridge.connectors import for_connector
from oa_bridge.credentials import get_credentials
from oa_bridge.models import Connector
from tests.oa_bridge.fakes.feishu import ENCRYPT_KEY, VERIFICATION_TOKEN, FakeFeishu, make_connector

pytestmark = pytest.mark.django_db
NEW = "/oa/admin/ops/connectors/new/feishu/"


@pytest.fixture
def fake_feishu():
    fake = FakeFeishu()
    yield fake
    fake.close()


@pytest.fixture
def admin_client(client, demo_company):
    client.force_login(demo_company["admin"].user)
    return client


def console_values(fake: FakeFeishu) -> dict[str, str]:
    return {
        "name": "飞书 Feishu",
        "slug": "feishu",
        "enabled": "on",
        "deliver_events": "on",
        "directory_enabled": "on",
        "sync_interval_minutes": "60",
        "deactivation_threshold_percent": "10",
        "base_url": fake.url,
        "app_id": fake.app_id,
        "app_secret": fake.app_secret,
        "verification_token": VERIFICATION_TOKEN,
        "encrypt_key": ENCRYPT_KEY,
        "approval_code": "baoxiao-expense",
    }


def test_an_admin_fills_in_the_console_values_and_the_connection_test_passes(admin_client, fake_feishu):
    assert NEW.encode() in admin_client.get("/oa/admin/ops/").content
    response = admin_client.post(NEW, console_values(fake_feishu))
    connector = Connector.objects.get(slug="feishu")
    assert response.status_code == 302
    assert connector.options == {
        "base_url": fake_feishu.url,
        "app_id": fake_feishu.app_id,
        "approval_code": "baoxiao-expense",
    }
    assert get_credentials(connector) == {
        "app_secret": fake_feishu.app_secret,
        "verification_token": VERIFICATION_TOKEN,
        "encrypt_key": ENCRYPT_KEY,
    }
    page = admin_client.get(response.url).content.decode()
    assert fake_feishu.app_secret not in page and ENCRYPT_KEY not in page
    assert "/oa/feishu/events/" in page and "docs/connectors/feishu.md" in page

    result = admin_client.post(f"/oa/admin/ops/connectors/{connector.pk}/test/", headers={"HX-Request": "true"})
    assert "The connection works." in result.content.decode()


def test_a_missing_secret_is_named_on_the_page(admin_client, fake_feishu):
    values = console_values(fake_feishu)
    del values["encrypt_key"]
    refused = admin_client.post(NEW, values)
    assert refused.status_code == 400 and "copy it from the vendor" in refused.content.decode()


@pytest.mark.parametrize(
    ("breakage", "words"),
    [
        ("secret", "App ID or App Secret"),
        ("contact", "contact:department.base:readonly"),
        ("users", "contact:user.base:readonly"),
        ("approval", "approval:approval"),
        ("unreachable", "Unreachable"),
        ("unconfigured", "Encrypt Key"),
    ],
)
def test_the_connection_test_names_the_problem(fake_feishu, breakage, words):
    connector = make_connector(fake_feishu)
    if breakage == "secret":
        fake_feishu.app_secret = "rotated-in-the-console"
    elif breakage == "contact":
        fake_feishu.scopes = {"approval:approval", "im:message"}
    elif breakage == "users":
        fake_feishu.scopes -= {"contact:user.base:readonly", "contact:contact.base:readonly"}
    elif breakage == "approval":
        fake_feishu.scopes.discard("approval:approval")
    elif breakage == "unreachable":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        connector.options = connector.options | {"base_url": f"http://127.0.0.1:{port}"}
        connector.save()
    else:
        from oa_bridge.credentials import set_credentials

        set_credentials(connector, get_credentials(connector) | {"encrypt_key": ""})
    result = for_connector(connector).health()
    assert result.ok is False and words in result.problem, result.problem


def test_a_healthy_connection_says_what_it_checked(fake_feishu):
    result = for_connector(make_connector(fake_feishu)).health()
    assert result.ok, result.problem
    assert result.details["departments"] == "ok" and result.details["users"] == "ok"
    assert "not checked" in result.details["im:message"]


# --- the page in a browser, with a screenshot to look at -------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")


def test_the_settings_page_in_a_browser(live_server, transactional_db, fake_feishu, monkeypatch):
    from django.core.management import call_command

    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not os.access(CHROMIUM, os.X_OK):
        if settings.BAOXIAO_REQUIRE_SERVICES:
            pytest.fail("BAOXIAO_REQUIRE_SERVICES=1 but playwright or /usr/bin/chromium is missing")
        pytest.skip("needs playwright and /usr/bin/chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # as tests/e2e/conftest.py explains
    call_command("seed_demo", quiet_logins=True, stdout=open(os.devnull, "w"))  # noqa: SIM115
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    admin.set_password("feishu-e2e-password")
    admin.save()
    artifacts = Path(os.environ.get("BAOXIAO_ARTIFACTS_DIR") or settings.BASE_DIR / "test-artifacts" / "screenshots")
    artifacts.mkdir(parents=True, exist_ok=True)
    values = console_values(fake_feishu)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(10_000)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "feishu-e2e-password")
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
        page.goto(f"{live_server.url}{NEW}")
        for name in ("name", "slug", "base_url", "app_id", "app_secret", "verification_token", "encrypt_key"):
            page.fill(f"input[name={name}]", values[name])
        page.fill("input[name=approval_code]", values["approval_code"])
        page.check("input[name=directory_enabled]")
        page.click("[data-testid=connector-save]")
        page.click("[data-testid=connector-test]")
        result = page.locator("[data-testid=ops-test-result]")
        result.wait_for()
        expect(result).to_contain_text("The connection works.")
        page.screenshot(path=str(artifacts / "feishu-settings-desktop.png"), full_page=True)
        fake_feishu.scopes.discard("approval:approval")
        page.set_viewport_size({"width": 390, "height": 844})
        page.click("[data-testid=connector-test]")
        expect(result).to_contain_text("approval:approval")
        page.screenshot(path=str(artifacts / "feishu-settings-phone-missing-scope.png"), full_page=True)
        browser.close()


def test_the_settings_page_is_in_the_readers_language_whatever_the_first_request_was(client, demo_company):
    """The base-URL help text must not be frozen in the language of the request that imported the form."""
    client.force_login(demo_company["admin"].user)
    url = "/oa/admin/ops/connectors/new/feishu/"
    zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Lark（国际版）" in zh
    assert "for Lark (international)" in en and "国际版" not in en
