"""Issue 2's journey in a real browser: a demo employee signs in and sees who they are and their manager
chain, in English and Chinese, on a desktop and a phone, with no console error and no CSP violation."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the folder's conftest skips (or fails in CI) before any test runs
    expect = None

PASSWORD = "baoxiao-demo"

# What each language must show: <html lang>, the manager-chain card's title, the page title.
LANGUAGES = {
    "en": {"locale": "en-US", "lang": "en", "chain_label": "Manager chain", "title": "Home · Baoxiao"},
    "zh-hans": {"locale": "zh-CN", "lang": "zh-hans", "chain_label": "上级链", "title": "首页 · 报销"},
}


def sign_in(page, site: str, username: str = "zhangwei", password: str = PASSWORD) -> None:
    """Open the app signed out (it sends us to the login form) and sign in through the form."""
    page.goto(site + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("form button[type=submit]").first.click()


def assert_styled(page) -> None:
    """Bootstrap, app.css and the icon font all reached the browser (served by whitenoise's finders)."""
    assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex"
    assert page.evaluate("getComputedStyle(document.body).display") == "flex"  # from static/css/app.css
    icons_loaded = page.evaluate(
        """async () => {
            await document.fonts.ready;
            return [...document.fonts].some((f) => f.family.includes("bootstrap-icons") && f.status === "loaded");
        }"""
    )
    assert icons_loaded, "the Bootstrap Icons font did not load"


def assert_home_of_zhangwei(page, language: str) -> None:
    expected = LANGUAGES[language]
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("html")).to_have_attribute("lang", expected["lang"])
    expect(page).to_have_title(expected["title"])
    expect(page.get_by_test_id("employee-name")).to_have_text("张伟")
    expect(page.get_by_test_id("department")).to_contain_text("研发中心 R&D")
    expect(page.get_by_test_id("department")).to_contain_text("平台组 Platform")
    chain = page.get_by_test_id("manager-chain")
    expect(chain.locator("xpath=preceding-sibling::*[1]")).to_have_text(expected["chain_label"])
    expect(chain.locator("li .fw-semibold")).to_have_text(["刘洋", "陈杰", "王建国"])
    assert_styled(page)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_employee_signs_in_and_sees_the_manager_chain_in_the_browser_language(
    demo_site, open_page, browser_problems, screenshot, language, viewport
):
    page = open_page(locale=LANGUAGES[language]["locale"], viewport=viewport)
    sign_in(page, demo_site)
    assert_home_of_zhangwei(page, language)
    screenshot(page, f"home-{language}-{viewport}")
    assert browser_problems == []


def test_the_footer_language_switcher_turns_the_page_chinese(demo_site, open_page, browser_problems, screenshot):
    page = open_page(locale="en-US")
    sign_in(page, demo_site)
    assert_home_of_zhangwei(page, "en")
    page.get_by_test_id("language-switcher").get_by_role("button", name="简体中文").click()
    assert_home_of_zhangwei(page, "zh-hans")
    # The choice is remembered: it now beats the browser's English.
    page.reload()
    assert_home_of_zhangwei(page, "zh-hans")
    screenshot(page, "home-zh-hans-after-switcher")
    assert browser_problems == []


@pytest.mark.parametrize(
    ("language", "viewport", "message"),
    [
        pytest.param("en", "desktop", "Please enter a correct username and password", id="en-desktop"),
        pytest.param("zh-hans", "phone", "请输入一个正确的", id="zh-hans-phone"),
    ],
)
def test_a_wrong_password_shows_the_error_box(
    demo_site, open_page, browser_problems, screenshot, language, viewport, message
):
    page = open_page(locale=LANGUAGES[language]["locale"], viewport=viewport)
    sign_in(page, demo_site, password="not-the-password")
    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(message)
    expect(page.locator("#id_username")).to_have_value("zhangwei")
    expect(page.locator("html")).to_have_attribute("lang", LANGUAGES[language]["lang"])
    assert_styled(page)
    screenshot(page, f"login-error-{language}-{viewport}")
    assert browser_problems == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_on_a_phone_the_navbar_toggler_opens_the_menu(demo_site, open_page, browser_problems, screenshot, language):
    page = open_page(locale=LANGUAGES[language]["locale"], viewport="phone")
    sign_in(page, demo_site)
    assert_home_of_zhangwei(page, language)
    menu = page.locator("#main-nav")
    toggler = page.locator(".navbar-toggler")
    expect(toggler).to_be_visible()
    expect(menu).to_be_hidden()
    toggler.tap()
    expect(menu).to_be_visible()
    expect(menu).to_have_class(re.compile(r"\bshow\b"))  # Bootstrap's slide-down has finished
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_test_id("user-menu")).to_contain_text("张伟")
    expect(menu.locator(".nav-link").first).to_be_visible()
    screenshot(page, f"phone-menu-open-{language}")
    assert browser_problems == []
