"""Issue 7's browser journeys: a claim from the employee's first click to the bank, in a real Chromium.

Each journey runs in English and Simplified Chinese, at a desktop (1366 px) and a phone (390 px) width.
To keep CI short, the whole journey runs at two of the four combinations (desktop English, phone
Chinese) and a smoke of the same pages covers the other two (desktop Chinese, phone English).

1. The employee signs in, creates a claim, adds two lines, attaches a real PNG and a real PDF, sees the
   pre-flight, and submits.
2. The manager returns it with a comment; the employee changes a line and resubmits (3.); the manager
   approves it from the inbox's preview (2.).
3. Finance pays it: queue → batch → bank file download (read back) → mark paid; the employee sees Paid.
4. An approval made in the OA sandbox comes back signed and the claim shows approved in Baoxiao.

Screenshots of each key step go to BAOXIAO_ARTIFACTS_DIR, named journey-<language>-<viewport>-<step>.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the folder's conftest skips (or fails in CI) before any test runs
    expect = None

from tests.e2e.journeys import steps
from tests.e2e.journeys.steps import Actor
from tests.e2e.journeys.words import WORDS

FULL = [
    pytest.param("en", "laptop", id="en-desktop"),
    pytest.param("zh-hans", "phone", id="zh-phone"),
]
SMOKE = [
    pytest.param("zh-hans", "laptop", id="zh-desktop"),
    pytest.param("en", "phone", id="en-phone"),
]


@pytest.fixture
def oa_loop(demo_site, settings) -> str:
    """The live server as the OA's peer: outbound events reach the sandbox (delivered on commit, Celery
    eager in tests), and the sandbox's decisions are posted back, signed, to /oa/sandbox/events/."""
    settings.BAOXIAO_BASE_URL = demo_site
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = True
    return demo_site


@pytest.fixture
def receipts(tmp_path: Path) -> dict[str, Path]:
    """A real small PNG (a photo of a train ticket, say) and a real one-page PDF invoice."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A6
    from reportlab.pdfgen import canvas

    png = tmp_path / "train-ticket.png"
    image = Image.new("RGB", (240, 120), "white")
    ImageDraw.Draw(image).rectangle((10, 10, 230, 110), outline="navy", width=4)
    image.save(png)
    pdf = tmp_path / "taxi-invoice.pdf"
    sheet = canvas.Canvas(str(pdf), pagesize=A6)
    sheet.drawString(20, 300, "Taxi invoice 86.00 CNY")
    sheet.save()
    return {"png": png, "pdf": pdf}


@pytest.fixture
def actor(open_page, screenshot, oa_loop):
    """``actor("zhangwei", "en", "phone")``: that demo person signed in, in a browser of their own."""

    def make(username: str, language: str, viewport: str, *, browser_language: str | None = None) -> Actor:
        page = open_page(locale=WORDS[browser_language or language]["locale"], viewport=viewport)
        person = Actor(page, oa_loop, browser_language or language, viewport, screenshot)
        steps.sign_in(person, username)
        return person

    return make


@pytest.mark.parametrize(("language", "viewport"), FULL)
def test_a_claim_goes_from_the_employee_through_a_return_to_approval_and_is_paid(
    actor, receipts, browser_problems, language, viewport
):
    # 1. The employee writes the claim, attaches the receipts, checks it and submits it.
    employee = actor("zhangwei", language, viewport)
    claim_id = steps.create_claim(employee, "Customer visit, Shanghai")
    number = employee.page.locator("h1").inner_text().split()[0]
    steps.add_line(employee, category="train", amount="553.50", description="Beijing–Shanghai G1", merchant="12306")
    steps.add_line(employee, category="taxi", amount="86.00", description="Hongqiao to client", merchant="DiDi")
    steps.attach_receipt(employee, 0, receipts["png"])
    steps.attach_receipt(employee, 1, receipts["pdf"])
    expect(employee.page.get_by_test_id("claim-total").get_by_test_id("total-amount")).to_have_text("639.50 CNY")
    employee.expect_no_horizontal_scroll()
    employee.snap("02-lines-and-receipts")
    steps.check_and_submit(employee, "639.50")
    employee.snap("04-submitted")

    # 2. The manager returns it with a comment.
    manager = actor("liuyang", language, viewport)
    steps.return_claim(manager, number, "639.50", "Please split the taxi ride from the airport.")

    # 3. The employee sees why, changes the taxi line and resubmits.
    steps.open_claim(employee, claim_id)
    steps.status_is(employee, "returned")
    expect(employee.page.get_by_test_id("timeline")).to_contain_text("Please split the taxi ride from the airport.")
    if language == "zh-hans":  # the steps Baoxiao took by itself are signed 系统, not the stored "system"
        expect(employee.page.get_by_test_id("timeline")).to_contain_text("系统")
        expect(employee.page.get_by_test_id("timeline")).not_to_contain_text("system")
    employee.snap("06-returned")
    employee.page.get_by_test_id("action-edit").click()
    steps.edit_line_amount(employee, 1, "68.00")
    expect(employee.page.get_by_test_id("claim-total").get_by_test_id("total-amount")).to_have_text("621.50 CNY")
    employee.snap("07-edited")
    steps.check_and_submit(employee, "621.50")
    expect(employee.page.get_by_test_id("changes")).to_contain_text(employee.words["changes"])

    # 4. The manager approves it from the inbox; the employee sees it approved.
    steps.approve_in_inbox(manager, number, "621.50")
    manager.snap("09-inbox-after-approval")
    steps.open_claim(employee, claim_id)
    steps.status_is(employee, "approved")

    # 5. Finance pays it. In Chinese, finance's browser says English and the footer's switcher changes it.
    finance = actor("sunli", language, viewport, browser_language="en" if language == "zh-hans" else None)
    if finance.language != language:
        steps.switch_language(finance, language)
    steps.pay(finance, number, "621.50", "张伟")
    steps.open_claim(employee, claim_id)
    steps.status_is(employee, "paid")
    employee.snap("12-paid")
    assert browser_problems == []


@pytest.mark.parametrize(("language", "viewport"), FULL)
def test_an_approval_made_in_the_oa_sandbox_lands_in_baoxiao(actor, browser_problems, language, viewport):
    employee = actor("zhangwei", language, viewport)
    claim_id = steps.create_claim(employee, "Team offsite supplies")
    number = employee.page.locator("h1").inner_text().split()[0]
    steps.add_line(employee, category="taxi", amount="45.00", description="To the venue")
    steps.check_and_submit(employee, "45.00")

    admin = actor("admin", language, viewport)
    steps.approve_in_sandbox(admin, number)

    steps.open_claim(employee, claim_id)
    steps.status_is(employee, "approved")
    # The timeline says who approved, through which channel: the manager, in the OA.
    expect(employee.page.get_by_test_id("timeline")).to_contain_text("刘洋")
    employee.snap("14-approved-from-oa")
    assert browser_problems == []


@pytest.mark.parametrize(("language", "viewport"), SMOKE)
def test_the_journeys_pages_in_the_other_language_and_viewport(actor, receipts, browser_problems, language, viewport):
    """The same pages, shorter: one claim through pre-flight, the manager's task, finance's queue."""
    employee = actor("zhangwei", language, viewport)
    steps.create_claim(employee, "Conference in Hangzhou")
    number = employee.page.locator("h1").inner_text().split()[0]
    steps.add_line(employee, category="train", amount="219.00", description="Beijing–Hangzhou")
    steps.attach_receipt(employee, 0, receipts["png"])
    employee.expect_no_horizontal_scroll()
    employee.snap("02-lines-and-receipts")
    steps.check_and_submit(employee, "219.00")
    employee.go("/claims/")
    expect(employee.page.get_by_test_id("claims-table" if viewport == "laptop" else "claims-cards")).to_contain_text(
        number
    )
    employee.expect_no_horizontal_scroll()
    employee.snap("04-my-claims")

    manager = actor("liuyang", language, viewport)
    row = steps.inbox_row(manager, number)
    expect(row.get_by_test_id("task-amount")).to_contain_text("219.00")
    manager.expect_no_horizontal_scroll()
    manager.snap("05-inbox")
    row.get_by_test_id("task-link").click()
    expect(manager.page).to_have_url(re.compile(r"/approvals/tasks/\d+/$"))
    expect(manager.page.locator("#decide-heading")).to_have_text(manager.words["your_decision"])
    manager.expect_no_horizontal_scroll()
    manager.snap("06-task")
    manager.page.get_by_test_id("approve").click()
    expect(manager.page).to_have_url(re.compile(r"/approvals/$"))
    expect(manager.page.locator(".alert-success")).to_contain_text(number)

    finance = actor("sunli", language, viewport)
    finance.go("/finance/")
    expect(finance.page.get_by_test_id("queue-row").filter(has_text=number)).to_contain_text("219.00")
    finance.expect_no_horizontal_scroll()
    finance.snap("10-finance-queue")
    assert browser_problems == []


@pytest.mark.parametrize("username", ["admin", "sunli"])
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_navigation_bar_is_one_line_or_collapsed_at_every_width(
    open_page, demo_site, screenshot, browser_problems, language, username
):
    """The administrator and finance have the most entries; they used to wrap onto two or three lines at
    laptop widths (1280–1366 px). Now the bar is one line from 1200 px on and a menu button below that,
    the administrator's entries share one "Admin" menu, and nothing sticks out on the right."""
    page = open_page(locale=WORDS[language]["locale"], viewport="laptop")
    person = Actor(page, demo_site, language, "laptop", screenshot)
    steps.sign_in(person, username)
    bar = page.locator("nav.navbar")
    for width in (800, 1024, 1199, 1200, 1280, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        person.viewport = f"{width}px"
        person.expect_no_horizontal_scroll()
        # The home page's labels ("Department") keep to one line in the half-width card of a tablet.
        lines = page.locator("main dl dt").evaluate_all(
            """dts => dts.map((dt) => {
                const range = document.createRange();
                range.selectNodeContents(dt);
                return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
            })"""
        )
        assert max(lines) == 1, f"at {width}px a label of the home page breaks over two lines: {lines}"
        if width < 1200:
            expect(page.locator(".navbar-toggler")).to_be_visible()
            expect(page.locator("#main-nav")).to_be_hidden()
            continue
        expect(page.locator(".navbar-toggler")).to_be_hidden()
        height = bar.evaluate("nav => nav.getBoundingClientRect().height")
        assert height < 70, f"at {width}px the navigation bar is {height}px high: its entries wrap"
        if width == 1280:
            person.snap(f"navbar-{username}")
    if username == "admin":
        page.get_by_test_id("admin-menu").click()
        menu = page.locator("#main-nav .dropdown-menu").first
        expect(menu).to_be_visible()
        expect(menu.locator(".dropdown-item")).to_have_count(4)  # routing rules, Django admin, OA bridge, sandbox
        menu.locator(".dropdown-item").last.click()
        expect(page).to_have_url(re.compile(r"/oa-sandbox/$"))
        expect(page.get_by_test_id("admin-menu")).to_have_class(re.compile(r"\bactive\b"))
    assert browser_problems == []
