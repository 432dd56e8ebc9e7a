"""One person's action at a time, through the pages as a person uses them (forms, buttons, HTMX).

Every step asserts what the person must see afterwards (status, amount, the page's language) so that a
journey fails at the step that broke, not three pages later.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

try:
    from playwright.sync_api import expect
except ImportError:  # the folder's conftest skips (or fails in CI) before any test runs
    expect = None

from tests.e2e.journeys.words import WORDS

PASSWORD = "baoxiao-demo"


@dataclass
class Actor:
    """A person at a browser: their page, language and viewport, and where screenshots of them go."""

    page: object
    site: str
    language: str
    viewport: str
    shoot: object  # the ``screenshot`` fixture

    @property
    def words(self) -> dict[str, str]:
        return WORDS[self.language]

    @property
    def phone(self) -> bool:
        return self.viewport == "phone"

    def go(self, path: str) -> None:
        self.page.goto(self.site + path)
        self.expect_language()

    def expect_language(self) -> None:
        expect(self.page.locator("html")).to_have_attribute("lang", self.words["lang"])

    def snap(self, step: str) -> None:
        self.shoot(self.page, f"journey-{self.language}-{self.viewport}-{step}")

    def expect_no_horizontal_scroll(self) -> None:
        """Nothing sticks out on the right: the page is no wider than the screen (tables scroll inside)."""
        overflow = self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{self.page.url} is {overflow}px wider than the {self.viewport} screen"


def sign_in(actor: Actor, username: str) -> None:
    page = actor.page
    # Forms that ask first (data-confirm) get a yes, as the person would click OK.
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(actor.site + "/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/$"))
    actor.expect_language()


def switch_language(actor: Actor, language: str) -> None:
    """The footer's language switcher; the choice then beats the browser's Accept-Language."""
    name = "简体中文" if language == "zh-hans" else "English"
    actor.page.get_by_test_id("language-switcher").get_by_role("button", name=name).click()
    actor.language = language
    actor.expect_language()


def status_is(actor: Actor, status: str, testid: str = "status") -> None:
    expect(actor.page.get_by_test_id(testid).first).to_have_text(actor.words[status])


# --- The employee ---------------------------------------------------------------------------------------


def create_claim(actor: Actor, purpose: str) -> int:
    page = actor.page
    actor.go("/claims/")
    expect(page.locator("h1")).to_contain_text(actor.words["my_claims"])
    page.get_by_test_id("new-claim").click()
    expect(page.locator("h1")).to_have_text(actor.words["new_claim"])
    page.locator("#id_purpose").fill(purpose)
    page.get_by_test_id("create-claim").click()
    expect(page).to_have_url(re.compile(r"/claims/\d+/edit/$"))
    status_is(actor, "draft")
    expect(page.locator("#lines-heading")).to_have_text(actor.words["expenses"])
    return int(re.search(r"/claims/(\d+)/", page.url).group(1))


def add_line(actor: Actor, *, category: str, amount: str, description: str, merchant: str = "") -> None:
    """Fill the "new expense" form; the line arrives by HTMX above it, and the form is empty again."""
    page = actor.page
    rows = page.get_by_test_id("line-row")
    before = rows.count()
    form = page.locator("#line-new")
    form.locator("#line-new-expense_date").fill(date.today().isoformat())
    form.locator("#line-new-category").select_option(label=actor.words[category])
    form.locator("#line-new-amount").fill(amount)
    form.locator("#line-new-description").fill(description)
    form.locator("#line-new-merchant").fill(merchant)
    form.get_by_test_id("add-line").click()
    expect(rows).to_have_count(before + 1)
    new_row = rows.nth(before)
    expect(new_row).to_contain_text(actor.words[category])
    expect(new_row.get_by_test_id("line-amount")).to_have_text(f"{amount} CNY")
    expect(page.locator("#line-new-amount")).to_have_value("")


def attach_receipt(actor: Actor, line: int, path: Path) -> None:
    """The line's "Attach receipt" file input; HTMX uploads on change and shows the file's preview."""
    row = actor.page.get_by_test_id("line-row").nth(line)
    row.get_by_test_id("receipt-input").set_input_files(str(path))
    receipt = row.get_by_test_id("receipt")
    expect(receipt).to_have_count(1)
    expect(receipt).to_contain_text(path.name)
    if path.suffix == ".png":  # an image gets a thumbnail the browser could actually decode
        thumb = receipt.locator("img.receipt-thumb")
        expect(thumb).to_be_visible()
        # decode() waits for the (lazy) image and fails when the browser cannot show what the server sent.
        assert thumb.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0


def edit_line_amount(actor: Actor, line: int, amount: str) -> None:
    page = actor.page
    row = page.get_by_test_id("line-row").nth(line)
    row.get_by_test_id("edit-line").click()
    form = page.get_by_test_id("line-form").filter(has=page.get_by_test_id("save-line"))
    form.locator("input[name=amount]").fill(amount)
    form.get_by_test_id("save-line").click()
    expect(page.get_by_test_id("line-row").nth(line).get_by_test_id("line-amount")).to_have_text(f"{amount} CNY")


def check_and_submit(actor: Actor, total: str) -> None:
    """The pre-flight page: no policy problem, the total; then submit, and the claim is in approval."""
    page = actor.page
    page.get_by_test_id("check-and-submit").click()
    expect(page).to_have_url(re.compile(r"/claims/\d+/submit/$"))
    expect(page.locator("h1")).to_have_text(actor.words["check_and_submit"])
    expect(page.get_by_test_id("policy-clear")).to_contain_text(actor.words["ready"])
    expect(page.get_by_test_id("total-amount")).to_have_text(f"{total} CNY")
    actor.expect_no_horizontal_scroll()
    actor.snap("03-preflight")
    page.get_by_test_id("submit-claim").click()
    expect(page).to_have_url(re.compile(r"/claims/\d+/$"))
    status_is(actor, "in_approval")
    expect(page.get_by_test_id("total-amount")).to_have_text(f"{total} CNY")


def open_claim(actor: Actor, claim_id: int) -> None:
    actor.go(f"/claims/{claim_id}/")


# --- The approver ------------------------------------------------------------------------------------------


def inbox_row(actor: Actor, number: str):
    actor.go("/approvals/")
    row = actor.page.get_by_test_id("task-row").filter(has_text=number)
    expect(row).to_have_count(1)
    return row


def return_claim(actor: Actor, number: str, total: str, reason: str) -> None:
    """From the inbox to the task page; "Return for changes" with a comment for the claimant."""
    page = actor.page
    row = inbox_row(actor, number)
    expect(row.get_by_test_id("task-amount")).to_contain_text(total)
    row.get_by_test_id("task-link").click()
    expect(page).to_have_url(re.compile(r"/approvals/tasks/\d+/$"))
    status_is(actor, "in_approval", testid="claim-status")
    expect(page.locator("#decide-heading")).to_have_text(actor.words["your_decision"])
    actor.expect_no_horizontal_scroll()
    actor.snap("05-task")
    panel = page.get_by_test_id("panel-return")
    panel.locator("summary").click()
    panel.locator("textarea").fill(reason)
    panel.get_by_test_id("return").click()
    # Back in the inbox, which says what was done; the claim has left it.
    expect(page).to_have_url(re.compile(r"/approvals/$"))
    expect(page.locator(".alert-success")).to_contain_text(number)
    expect(page.get_by_test_id("task-row").filter(has_text=number)).to_have_count(0)


def approve_in_inbox(actor: Actor, number: str, total: str) -> None:
    """The inbox's preview (a side panel on a desktop, under the row on a phone) and its Approve button."""
    page = actor.page
    row = inbox_row(actor, number)
    expect(row.get_by_test_id("task-amount")).to_contain_text(total)
    row.get_by_test_id("preview-button-phone" if actor.phone else "preview-button").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_be_visible()
    expect(preview.get_by_test_id("changes")).to_contain_text(actor.words["changes"])
    actor.expect_no_horizontal_scroll()
    actor.snap("08-inbox-preview")
    preview.get_by_test_id("preview-approve").click()
    expect(page).to_have_url(re.compile(r"/approvals/$"))
    expect(page.get_by_test_id("task-row").filter(has_text=number)).to_have_count(0)


# --- Finance -----------------------------------------------------------------------------------------------


def pay(actor: Actor, number: str, total: str, payee: str) -> None:
    """Queue → tick the claim → batch → bank file (read back) → mark paid with the bank's reference."""
    page = actor.page
    actor.go("/finance/")
    expect(page.locator("h1")).to_have_text(actor.words["finance"])
    row = page.get_by_test_id("queue-row").filter(has_text=number)
    expect(row.get_by_test_id("queue-amount")).to_contain_text(total)
    row.locator("input[data-pick]").check()
    actor.expect_no_horizontal_scroll()
    actor.snap("10-finance-queue")
    page.get_by_test_id("create-batch").click()
    expect(page).to_have_url(re.compile(r"/finance/batches/\d+/$"))
    expect(page.get_by_test_id("batch-total")).to_have_text(f"{total} CNY")
    download_button = page.get_by_test_id("download-bank-file")
    expect(download_button).to_contain_text(actor.words["download"])
    with page.expect_download() as info:
        download_button.click()
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8-sig"))))
    assert any(payee in cells and any(total in cell for cell in cells) for cells in rows), rows
    page.reload()  # the download leaves the page as it was; the batch now says it was exported
    expect(page.get_by_test_id("mark-paid")).to_be_enabled()
    page.locator("#id_reference").fill("BANK-REF-0001")
    page.locator("#id_paid_on").fill(date.today().isoformat())
    actor.expect_no_horizontal_scroll()
    actor.snap("11-batch")
    page.get_by_test_id("mark-paid").click()
    expect(page.get_by_test_id("batch-paid")).to_contain_text("BANK-REF-0001")
    expect(page.get_by_test_id("payment-row").filter(has_text=number)).to_contain_text(actor.words["paid"])


# --- The OA --------------------------------------------------------------------------------------------------


def approve_in_sandbox(actor: Actor, number: str) -> None:
    """The built-in OA's inbox: the signed task event for this claim, and its Approve button."""
    page = actor.page
    actor.go("/oa-sandbox/")
    expect(page.locator("h1")).to_have_text(actor.words["sandbox"])
    rows = page.get_by_test_id("sandbox-inbox").locator("tbody tr").filter(has_text=number)
    task_row = rows.filter(has=page.get_by_test_id("sandbox-approve"))
    expect(task_row).to_have_count(1)
    expect(task_row).to_contain_text("approval.task.created")
    expect(task_row).to_contain_text(actor.words["valid"])
    actor.snap("13-sandbox")
    approve = task_row.get_by_test_id("sandbox-approve")
    box, width = approve.bounding_box(), actor.page.viewport_size["width"]
    assert box["x"] + box["width"] <= width, "the Approve button is off the screen: the table is too wide"
    approve.click()
    expect(page).to_have_url(re.compile(r"/oa-sandbox/$"))
    # Baoxiao's answer to the signed decision, as the sandbox shows it.
    expect(page.locator(".alert-success")).to_contain_text("200")
    # The approval travels back to the OA as new signed events.
    expect(
        page.get_by_test_id("sandbox-inbox").locator("tbody tr").filter(has_text="claim.approved")
    ).not_to_have_count(0)
