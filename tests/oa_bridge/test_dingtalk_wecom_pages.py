"""In a real browser: an administrator fills in the DingTalk and the WeCom settings pages, saves, and tests
the connection against the fake vendor; the page says it works (screenshots in BAOXIAO_ARTIFACTS_DIR).

Uses tests/e2e's browser rules (system Chromium, skip or fail like the e2e folder when it is missing)."""

from __future__ import annotations

import io
import os

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.e2e.conftest import ARTIFACTS_DIR, CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, TIMEOUT_MS, _e2e_problem
from tests.oa_bridge.fakes.dingtalk import FakeDingTalk
from tests.oa_bridge.fakes.wecom import FakeWeCom

pytestmark = pytest.mark.e2e

AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"


@pytest.fixture(scope="module")
def chromium():
    problem = _e2e_problem()
    if problem:
        if settings.BAOXIAO_REQUIRE_SERVICES:
            pytest.fail(f"BAOXIAO_REQUIRE_SERVICES=1 but {problem}", pytrace=False)
        pytest.skip(f"needs a browser: {problem}")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # see tests/e2e/conftest.py's browser fixture
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


VENDORS = {
    "dingtalk": (
        FakeDingTalk,
        {
            "app_key": FakeDingTalk.APP_KEY,
            "app_secret": FakeDingTalk.APP_SECRET,
            "agent_id": "2900001",
            "corp_id": "dingcorp123",
            "callback_token": "callback-token",
            "aes_key": AES_KEY,
        },
    ),
    "wecom": (
        FakeWeCom,
        {
            "corp_id": FakeWeCom.CORP_ID,
            "agent_id": "1000002",
            "app_secret": FakeWeCom.APP_SECRET,
            "contact_secret": FakeWeCom.CONTACT_SECRET,
            "callback_token": "callback-token",
            "aes_key": AES_KEY,
        },
    ),
}


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("kind", ["dingtalk", "wecom"])
def test_an_admin_fills_in_the_vendor_page_and_the_connection_test_passes(
    chromium, live_server, transactional_db, kind, viewport
):
    from playwright.sync_api import expect

    call_command("seed_demo", quiet_logins=True, stdout=io.StringIO())
    fake_class, values = VENDORS[kind]
    fake = fake_class()
    context = chromium.new_context(
        locale="zh-CN" if viewport == "phone" else "en-US",
        **{
            "desktop": DESKTOP,
            "phone": PHONE,
        }[viewport],
    )
    context.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
        page.goto(live_server.url + f"/oa/admin/ops/connectors/new/{kind}/")
        page.locator("#id_username").fill("admin")
        page.locator("#id_password").fill("baoxiao-demo")
        page.locator("form button[type=submit]").first.click()
        page.locator("#id_name").fill(f"{kind} (test)")
        page.locator("#id_slug").fill(kind)
        for name, value in values.items():
            page.locator(f"#id_{name}").fill(value)
        page.locator("#id_api_base_url").fill(fake.url)
        page.get_by_test_id("connector-save").click()
        expect(page.get_by_test_id("connector-inbound-url")).to_contain_text(f"/oa/{kind}/events/")
        page.get_by_test_id("connector-test").click()
        expect(page.get_by_test_id("ops-test-result")).to_have_class("text-success")
        assert fake.count("/gettoken") + fake.count("/cgi-bin/gettoken") >= 1
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / f"connector-{kind}-{viewport}.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()
        fake.close()
