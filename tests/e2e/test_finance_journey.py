"""Issue 6's journey in a real browser: finance pays a batch of approved claims (bank file, marked paid),
downloads the accounting journal, opens the dashboards and follows a chart into the claims behind a bar; an
auditor downloads the audit pack of one claim, a PDF with its receipt pages. Desktop and phone screenshots."""

from __future__ import annotations

import datetime
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfReader

from tests.e2e.test_sign_in_journey import sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the folder's conftest skips (or fails in CI) before any test runs
    expect = None


def receipt_pdf(pages: int) -> SimpleUploadedFile:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for n in range(1, pages + 1):
        page.drawString(72, 720, f"HOTEL-INVOICE-PAGE-{n}")
        page.showPage()
    page.save()
    return SimpleUploadedFile("hotel invoice.pdf", buffer.getvalue(), content_type="application/pdf")


def receipt_png() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (600, 800), (240, 240, 230)).save(buffer, format="PNG")
    return SimpleUploadedFile("taxi.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def approved_claims(demo_site, settings, tmp_path):
    """Three approved claims made through the real services, the first with a two-page PDF and a PNG."""
    from reimbursement import services
    from tests.finance.conftest import approve
    from tests.reimbursement.factories import make_claim, submit

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False
    from org.models import Employee

    people = {e.user.username: e for e in Employee.objects.select_related("user")}
    claims = []
    for username, amount in (("zhangwei", "380.00"), ("lina", "125.50"), ("heming", "66.00")):
        claim = make_claim(people[username], amount=Decimal(amount), category="office")
        if not claims:
            line = claim.lines.get()
            services.attachment_add(line_id=line.pk, actor=people[username].user, upload=receipt_pdf(2))
            services.attachment_add(line_id=line.pk, actor=people[username].user, upload=receipt_png())
        claims.append(approve(submit(claim)))
    return claims


def test_finance_pays_exports_and_drills_down_then_an_auditor_downloads_a_pack(
    demo_site, approved_claims, open_page, browser_problems, screenshot, tmp_path
):
    page = open_page(locale="en-US")
    page.on("dialog", lambda dialog: dialog.accept())  # "Mark every pending payment ... as paid?"
    sign_in(page, demo_site, username="sunli")

    # The payment queue: tick the three claims, make a batch.
    page.goto(demo_site + "/finance/")
    for claim in approved_claims:
        page.locator(f'input[data-pick][value="{claim.pk}"]').check()
    page.get_by_test_id("create-batch").click()
    expect(page.get_by_test_id("batch-number")).to_be_visible()
    expect(page.get_by_test_id("payment-row")).to_have_count(3)

    # The bank file, then paid.
    with page.expect_download() as bank_file:
        page.get_by_test_id("download-bank-file").click()
    bank_text = Path(bank_file.value.path()).read_text(encoding="utf-8-sig")
    assert "380.00" in bank_text and "125.50" in bank_text
    page.reload()
    page.locator("#id_reference").fill("BANK-REF-2026-11")
    page.locator("#id_paid_on").fill(datetime.date.today().isoformat())
    page.get_by_test_id("mark-paid").click()
    expect(page.get_by_test_id("batch-paid")).to_contain_text("BANK-REF-2026-11")
    screenshot(page, "finance-batch-paid-desktop")

    # The accounting journal of today's approvals.
    page.goto(demo_site + "/finance/journal/")
    today = datetime.date.today().isoformat()
    page.locator("#id_date_from").fill(today)
    page.locator("#id_date_to").fill(today)
    with page.expect_download() as journal:
        page.get_by_test_id("journal-download").click()
    journal_text = Path(journal.value.path()).read_text(encoding="utf-8-sig")
    assert all(claim.number in journal_text for claim in approved_claims)

    # The dashboards, from the menu; the current month's bar holds the three paid claims.
    page.get_by_role("link", name="Dashboards").click()
    expect(page).to_have_url(re.compile(r"/dashboards/$"))
    expect(page.locator('canvas[data-chart="spend-month"]')).to_be_visible()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart=spend-month]'))"
    )
    screenshot(page, "dashboards-desktop")
    point = page.evaluate(
        """() => {
            const canvas = document.querySelector('canvas[data-chart="spend-month"]');
            const bar = Chart.getChart(canvas).getDatasetMeta(0).data.at(-1);
            const box = canvas.getBoundingClientRect();
            return {x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2};
        }"""
    )
    page.mouse.click(point["x"], point["y"])
    expect(page).to_have_url(re.compile(r"/dashboards/claims/\?"))
    rows = page.get_by_test_id("drill-table").locator('[data-testid="claim-row"]')
    expect(rows).to_have_count(3)
    for claim in approved_claims:
        expect(page.get_by_test_id("drill-table")).to_contain_text(claim.number)
    screenshot(page, "dashboards-drill-down-desktop")

    # The same figures on a phone, and the table link behind the department chart.
    phone = open_page(locale="en-US", viewport="phone")
    sign_in(phone, demo_site, username="sunli")
    phone.goto(demo_site + "/dashboards/")
    phone.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart=spend-department]'))"
    )
    department = phone.get_by_test_id("chart-spend-department")
    department.locator("summary").click()
    screenshot(phone, "dashboards-phone")
    department.get_by_test_id("drill-link").first.click()
    expect(phone).to_have_url(re.compile(r"/dashboards/claims/\?.*department="))
    expect(phone.get_by_test_id("drill-cards").locator("li").first).to_be_visible()
    screenshot(phone, "dashboards-drill-down-phone")

    # An auditor opens the first claim and downloads its pack: the claim pages, then 2 PDF pages and the PNG.
    auditor = open_page(locale="en-US")
    sign_in(auditor, demo_site, username="auditor")
    claim = approved_claims[0]
    auditor.goto(f"{demo_site}/claims/{claim.pk}/")
    expect(auditor.get_by_test_id("timeline")).to_contain_text("Paid")
    screenshot(auditor, "claim-detail-auditor-desktop")
    with auditor.expect_download() as pack:
        auditor.get_by_test_id("pack-pdf").click()
    assert pack.value.suggested_filename == f"{claim.number}-audit-pack.pdf"
    saved = tmp_path / "pack.pdf"
    pack.value.save_as(saved)
    reader = PdfReader(saved)
    texts = [p.extract_text() for p in reader.pages]
    assert claim.number in texts[0]
    assert "HOTEL-INVOICE-PAGE-1" in texts[-3] and "HOTEL-INVOICE-PAGE-2" in texts[-2]
    assert "taxi.png" in texts[-1] and reader.pages[-1].images
    from tests.e2e.conftest import ARTIFACTS_DIR

    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS_DIR / "audit-pack.pdf").write_bytes(saved.read_bytes())

    auditor_phone = open_page(locale="zh-CN", viewport="phone")
    sign_in(auditor_phone, demo_site, username="auditor")
    auditor_phone.goto(f"{demo_site}/claims/{claim.pk}/")
    screenshot(auditor_phone, "claim-detail-auditor-phone-zh")
    assert browser_problems == []
