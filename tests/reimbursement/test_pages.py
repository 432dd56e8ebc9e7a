"""The employee's claim pages: list, edit in place with HTMX, pre-flight, detail, print, files, bank account."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from reimbursement import services
from reimbursement.choices import ClaimStatus
from reimbursement.models import Attachment, Claim, ClaimLine, PayeeAccount, PolicyWarning
from reimbursement.policy import WARN, evaluate_claim
from tests.reimbursement.factories import add_line, category, make_claim, pdf, png

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def zhangwei(demo_company):
    return demo_company["zhangwei"]


@pytest.fixture
def owner_client(client, zhangwei):
    client.force_login(zhangwei.user)
    return client


def stored_files(media_root: Path) -> list[Path]:
    return [p for p in Path(media_root).rglob("*") if p.is_file()]


def line_post(**overrides) -> dict[str, str]:
    values = {
        "expense_date": (timezone.localdate() - datetime.timedelta(days=2)).isoformat(),
        "category": str(category("office").pk),
        "description": "Printer paper",
        "merchant": "Office shop",
        "amount": "120.00",
        "currency": "CNY",
        "tax_amount": "",
        "invoice_kind": "none",
    }
    values.update(overrides)
    return values


def hotel_claim_with_warning(employee) -> Claim:
    """A hotel night of 800 CNY for a level-4 employee: above the 600 cap (a warning), receipt attached."""
    claim = make_claim(employee, lines=0)
    line = add_line(claim, category="hotel", amount=Decimal("800.00"), description="Hotel in Shanghai")
    services.attachment_add(line_id=line.pk, actor=employee.user, upload=png(1))
    claim.refresh_from_db()
    return claim


def claim_urls(claim: Claim) -> list[str]:
    line = claim.lines.first()
    return [
        reverse("reimbursement:detail", args=[claim.pk]),
        reverse("reimbursement:edit", args=[claim.pk]),
        reverse("reimbursement:submit", args=[claim.pk]),
        reverse("reimbursement:print", args=[claim.pk]),
        reverse("reimbursement:line_row", args=[claim.pk, line.pk]),
        reverse("reimbursement:line_edit", args=[claim.pk, line.pk]),
    ]


# --- every page: the owner sees it, anyone else gets a 404 --------------------------------------------


def test_each_claim_page_renders_for_its_owner(owner_client, zhangwei):
    claim = make_claim(zhangwei, lines=1)
    for url in [
        reverse("reimbursement:my_claims"),
        reverse("reimbursement:new"),
        reverse("reimbursement:bank_account"),
        *claim_urls(claim),
    ]:
        response = owner_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert " style=" not in html and "<script>" not in html, url


def test_another_employees_claim_is_a_404_everywhere(client, demo_company, zhangwei):
    claim = make_claim(zhangwei, lines=1)
    line = claim.lines.get()
    attachment = services.attachment_add(line_id=line.pk, actor=zhangwei.user, upload=png(7))
    client.force_login(demo_company["lina"].user)
    for url in claim_urls(claim) + [reverse("reimbursement:attachment", args=[attachment.pk])]:
        assert client.get(url).status_code == 404, url
    posts = [
        (reverse("reimbursement:edit", args=[claim.pk]), {"purpose": "Mine now"}),
        (reverse("reimbursement:submit", args=[claim.pk]), {}),
        (reverse("reimbursement:withdraw", args=[claim.pk]), {}),
        (reverse("reimbursement:delete", args=[claim.pk]), {}),
        (reverse("reimbursement:line_add", args=[claim.pk]), line_post()),
        (reverse("reimbursement:line_edit", args=[claim.pk, line.pk]), line_post(amount="1.00")),
        (reverse("reimbursement:line_remove", args=[claim.pk, line.pk]), {}),
        (reverse("reimbursement:attachment_upload", args=[claim.pk, line.pk]), {"file": png(8)}),
        (reverse("reimbursement:attachment_remove", args=[attachment.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data, headers=HTMX).status_code == 404, url
    claim.refresh_from_db()
    assert claim.purpose == "Trip to Shanghai" and claim.status == ClaimStatus.DRAFT
    assert claim.lines.count() == 1 and line.attachments.count() == 1
    # Their own list does not show it either.
    assert claim.number not in client.get(reverse("reimbursement:my_claims")).content.decode()


def test_pages_need_a_sign_in(client, zhangwei):
    claim = make_claim(zhangwei, lines=1)
    for url in [reverse("reimbursement:my_claims"), *claim_urls(claim)]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_a_line_of_another_claim_is_a_404_under_my_claim(owner_client, zhangwei):
    mine, other = make_claim(zhangwei, lines=1), make_claim(zhangwei, lines=1)
    foreign_line = other.lines.get()
    url = reverse("reimbursement:line_edit", args=[mine.pk, foreign_line.pk])
    assert owner_client.get(url).status_code == 404
    assert owner_client.post(url, line_post(amount="5.00"), headers=HTMX).status_code == 404
    assert ClaimLine.objects.get(pk=foreign_line.pk).amount == Decimal("88.00")


def test_the_navigation_offers_my_claims(owner_client):
    html = owner_client.get("/").content.decode()
    assert 'href="/claims/"' in html and "bi-receipt" in html


# --- the list -------------------------------------------------------------------------------------------


def test_an_empty_list_invites_a_new_claim(owner_client):
    html = owner_client.get(reverse("reimbursement:my_claims")).content.decode()
    assert 'data-testid="empty-state"' in html and reverse("reimbursement:new") in html


def test_the_list_filters_searches_sorts_and_totals(owner_client, zhangwei):
    small = make_claim(zhangwei, lines=1, purpose="Paper for the office")
    big = make_claim(zhangwei, lines=3, purpose="Conference in Beijing")
    url = reverse("reimbursement:my_claims")

    html = owner_client.get(url).content.decode()
    assert small.number in html and big.number in html
    assert "352.00 CNY" in html  # 88 + 3 x 88 over both claims

    html = owner_client.get(url, {"q": "beijing"}).content.decode()
    assert big.number in html and small.number not in html

    html = owner_client.get(url, {"amount_min": "100"}).content.decode()
    assert big.number in html and small.number not in html

    html = owner_client.get(url, {"status": "submitted"}).content.decode()
    assert 'data-testid="no-match"' in html

    html = owner_client.get(url, {"ordering": "amount"}).content.decode()
    assert html.index(small.number) < html.index(big.number)
    html = owner_client.get(url, {"ordering": "-amount"}).content.decode()
    assert html.index(big.number) < html.index(small.number)

    html = owner_client.get(url, {"created_from": "not-a-date"}).content.decode()
    assert 'data-testid="filter-errors"' in html and big.number in html


def test_the_list_paginates_by_25(owner_client, zhangwei):
    for i in range(26):
        services.claim_create(claimant=zhangwei, actor=zhangwei.user, purpose=f"Claim {i}")
    first = owner_client.get(reverse("reimbursement:my_claims")).content.decode()
    assert first.count('data-testid="claim-row"') == 25
    second = owner_client.get(reverse("reimbursement:my_claims"), {"page": 2}).content.decode()
    assert second.count('data-testid="claim-row"') == 1


@pytest.mark.parametrize("count", [1, 40])
def test_the_list_runs_a_fixed_number_of_queries(owner_client, zhangwei, django_assert_max_num_queries, count):
    for i in range(count):
        claim = make_claim(zhangwei, lines=1, purpose=f"Claim {i}")
    # Session, user, roles, the menu's badges, visibility, then count, page and totals: none per claim.
    with django_assert_max_num_queries(12):
        response = owner_client.get(reverse("reimbursement:my_claims"), {"ordering": "-created"})
    assert claim.number in response.content.decode()


@pytest.mark.parametrize("lines", [1, 12])
def test_the_detail_runs_a_fixed_number_of_queries(owner_client, zhangwei, django_assert_max_num_queries, lines):
    claim = make_claim(zhangwei, lines=lines)
    for line in claim.lines.all():
        services.attachment_add(line_id=line.pk, actor=zhangwei.user, upload=png(line.pk))
    # The layout's queries, then the claim, lines, files, warnings and timeline: none per line.
    with django_assert_max_num_queries(14):
        response = owner_client.get(reverse("reimbursement:detail", args=[claim.pk]))
    assert response.content.decode().count('data-testid="line-row"') == lines


# --- creating and editing ---------------------------------------------------------------------------------


def test_a_new_claim_starts_a_draft_and_goes_to_its_edit_page(owner_client, zhangwei):
    response = owner_client.post(reverse("reimbursement:new"), {"purpose": "Customer visit", "project": "P-7"})
    claim = Claim.objects.get(claimant=zhangwei)
    assert response.status_code == 302 and response["Location"] == reverse("reimbursement:edit", args=[claim.pk])
    assert claim.purpose == "Customer visit" and claim.project == "P-7" and claim.status == ClaimStatus.DRAFT


def test_a_new_claim_without_purpose_says_so_and_creates_nothing(owner_client, zhangwei):
    response = owner_client.post(reverse("reimbursement:new"), {"purpose": "  "})
    assert response.status_code == 200
    assert 'data-testid="error-purpose"' in response.content.decode()
    assert not Claim.objects.exists()


def test_the_header_is_saved_and_redirects(owner_client, zhangwei):
    claim = make_claim(zhangwei, lines=0)
    url = reverse("reimbursement:edit", args=[claim.pk])
    response = owner_client.post(url, {"purpose": "New purpose", "cost_centre": "CC-1", "project": ""})
    assert response.status_code == 302 and response["Location"] == url
    claim.refresh_from_db()
    assert (claim.purpose, claim.cost_centre) == ("New purpose", "CC-1")


def test_lines_added_edited_and_removed_in_place_change_the_total(owner_client, zhangwei):
    claim = make_claim(zhangwei, lines=0)

    response = owner_client.post(
        reverse("reimbursement:line_add", args=[claim.pk]), line_post(amount="120.00"), headers=HTMX
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#line-rows" and response["HX-Reswap"] == "beforeend"
    html = response.content.decode()
    assert 'id="claim-total"' in html and 'hx-swap-oob="true"' in html and "120.00 CNY" in html
    line = claim.lines.get()

    response = owner_client.post(
        reverse("reimbursement:line_add", args=[claim.pk]),
        line_post(amount="10.00", currency="USD", category=str(category("meals").pk)),
        headers=HTMX,
    )
    assert response.status_code == 200
    claim.refresh_from_db()
    usd = claim.lines.get(currency="USD")
    assert claim.total_amount == Decimal("120.00") + usd.base_amount
    assert f"{usd.base_amount} CNY" in response.content.decode()  # the line's amount in the base currency

    response = owner_client.post(
        reverse("reimbursement:line_edit", args=[claim.pk, line.pk]), line_post(amount="200.00"), headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="line-{line.pk}"' in html and 'id="claim-total"' in html
    claim.refresh_from_db()
    assert claim.total_amount == Decimal("200.00") + usd.base_amount

    response = owner_client.post(reverse("reimbursement:line_remove", args=[claim.pk, line.pk]), headers=HTMX)
    assert response.status_code == 200
    assert f'id="line-{line.pk}"' not in response.content.decode()
    claim.refresh_from_db()
    assert claim.total_amount == usd.base_amount
    assert list(claim.lines.values_list("position", flat=True)) == [1]


def test_the_edit_form_of_a_line_comes_back_filled_in(owner_client, zhangwei):
    claim = make_claim(zhangwei, lines=1)
    line = claim.lines.get()
    html = owner_client.get(reverse("reimbursement:line_edit", args=[claim.pk, line.pk]), headers=HTMX).content
    html = html.decode()
    assert f'id="line-{line.pk}"' in html and 'value="88.00"' in html and "Printer paper" in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "0"}, "amount", "The amount must be more than zero."),
        (
            {"expense_date": (timezone.localdate() + datetime.timedelta(days=3)).isoformat()},
            "expense_date",
            "The date cannot be in the future.",
        ),
        ({"amount": "twelve"}, "amount", "Enter the amount as a number"),
        ({"expense_date": "31/02/2025"}, "expense_date", "Enter a valid date."),
    ],
)
def test_a_bad_line_comes_back_with_the_error_and_changes_nothing(owner_client, zhangwei, overrides, field, message):
    claim = make_claim(zhangwei, lines=1)
    line = claim.lines.get()
    before_claim = Claim.objects.filter(pk=claim.pk).values().get()
    before_line = ClaimLine.objects.filter(pk=line.pk).values().get()

    add = owner_client.post(reverse("reimbursement:line_add", args=[claim.pk]), line_post(**overrides), headers=HTMX)
    edit = owner_client.post(
        reverse("reimbursement:line_edit", args=[claim.pk, line.pk]), line_post(**overrides), headers=HTMX
    )
    for response in (add, edit):
        assert response.status_code == 400
        html = response.content.decode()
        assert f'data-testid="error-{field}"' in html and message in html
        assert "form-control is-invalid" in html  # still styled, and marked
    assert Claim.objects.filter(pk=claim.pk).values().get() == before_claim
    assert ClaimLine.objects.filter(pk=line.pk).values().get() == before_line
    assert claim.lines.count() == 1


def test_line_errors_come_in_the_users_language(owner_client, zhangwei):
    claim = make_claim(zhangwei, lines=0)
    response = owner_client.post(
        reverse("reimbursement:line_add", args=[claim.pk]),
        line_post(expense_date="garbage"),
        headers={**HTMX, "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 400
    assert "有效的日期" in response.content.decode()  # Django's own "Enter a valid date." in Chinese


def test_a_submitted_claim_cannot_be_edited_in_place(owner_client, zhangwei):
    claim = hotel_claim_with_warning(zhangwei)
    keys = {h.key: "Conference hotel" for h in evaluate_claim(claim) if h.severity == WARN}
    services.claim_submit(claim_id=claim.pk, actor=zhangwei.user, justifications=keys)
    line = claim.lines.get()
    response = owner_client.post(
        reverse("reimbursement:line_edit", args=[claim.pk, line.pk]), line_post(amount="1.00"), headers=HTMX
    )
    assert response.status_code == 400 and "can no longer be changed" in response.content.decode()
    assert ClaimLine.objects.get(pk=line.pk).amount == Decimal("800.00")
    page = owner_client.get(reverse("reimbursement:edit", args=[claim.pk]))
    assert page.status_code == 302 and page["Location"] == reverse("reimbursement:detail", args=[claim.pk])


# --- receipts ---------------------------------------------------------------------------------------------


def test_a_receipt_is_uploaded_with_a_preview_and_removed(owner_client, zhangwei, _media_in_tmp):
    claim = make_claim(zhangwei, lines=1)
    line = claim.lines.get()
    response = owner_client.post(
        reverse("reimbursement:attachment_upload", args=[claim.pk, line.pk]), {"file": png(3)}, headers=HTMX
    )
    assert response.status_code == 200
    attachment = line.attachments.get()
    html = response.content.decode()
    assert f"/claims/attachments/{attachment.pk}/?preview=1" in html and "/media/" not in html
    assert len(stored_files(_media_in_tmp)) == 1

    response = owner_client.post(
        reverse("reimbursement:attachment_upload", args=[claim.pk, line.pk]), {"file": pdf()}, headers=HTMX
    )
    assert "bi-filetype-pdf" in response.content.decode() and "invoice.pdf" in response.content.decode()

    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(reverse("reimbursement:attachment_remove", args=[attachment.pk]), headers=HTMX)
    assert response.status_code == 200
    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    assert len(stored_files(_media_in_tmp)) == 1


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("receipt.png", b"%PDF-1.7\nnot a png\n%%EOF", "image/png"), "does not contain what its"),
        (SimpleUploadedFile("receipt.svg", b"<svg></svg>", "image/svg+xml"), "only JPEG, PNG"),
        (SimpleUploadedFile("receipt.jpg", b"", "image/jpeg"), "is empty"),
    ],
)
def test_a_refused_upload_says_why_and_leaves_nothing_behind(owner_client, zhangwei, _media_in_tmp, upload, message):
    claim = make_claim(zhangwei, lines=1)
    line = claim.lines.get()
    response = owner_client.post(
        reverse("reimbursement:attachment_upload", args=[claim.pk, line.pk]), {"file": upload}, headers=HTMX
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="upload-error"' in html and message in html
    assert not Attachment.objects.exists()
    assert stored_files(_media_in_tmp) == []


def test_a_too_large_upload_is_refused(owner_client, zhangwei, settings, _media_in_tmp):
    settings.BAOXIAO_MAX_UPLOAD_MB = 1
    claim = make_claim(zhangwei, lines=1)
    line = claim.lines.get()
    big = SimpleUploadedFile("big.pdf", b"%PDF-1.7\n" + b"0" * (1024 * 1024 + 10), "application/pdf")
    response = owner_client.post(
        reverse("reimbursement:attachment_upload", args=[claim.pk, line.pk]), {"file": big}, headers=HTMX
    )
    assert response.status_code == 400 and "larger than 1 MB" in response.content.decode()
    assert not Attachment.objects.exists() and stored_files(_media_in_tmp) == []


def test_attachment_downloads_are_attachments_with_a_generated_name(owner_client, zhangwei):
    claim = make_claim(zhangwei, lines=1)
    line = claim.lines.get()
    image = services.attachment_add(line_id=line.pk, actor=zhangwei.user, upload=png(4, name="my <photo>.png"))
    document = services.attachment_add(line_id=line.pk, actor=zhangwei.user, upload=pdf())

    response = owner_client.get(reverse("reimbursement:attachment", args=[image.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{claim.number}-1-{image.pk}.png"'
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")

    preview = owner_client.get(reverse("reimbursement:attachment", args=[image.pk]), {"preview": "1"})
    assert preview["Content-Disposition"].startswith("inline;")
    assert preview["X-Content-Type-Options"] == "nosniff"

    # Only images are ever shown inline.
    pdf_preview = owner_client.get(reverse("reimbursement:attachment", args=[document.pk]), {"preview": "1"})
    assert pdf_preview["Content-Disposition"] == f'attachment; filename="{claim.number}-1-{document.pk}.pdf"'
    assert pdf_preview["X-Content-Type-Options"] == "nosniff"

    assert owner_client.get(reverse("reimbursement:attachment", args=[999999])).status_code == 404


# --- pre-flight and submit ----------------------------------------------------------------------------------


def test_preflight_lists_blocks_and_offers_no_submit_button(owner_client, zhangwei):
    claim = make_claim(zhangwei, lines=0)
    add_line(claim, category="hotel", amount=Decimal("800.00"))  # a hotel always needs a receipt
    html = owner_client.get(reverse("reimbursement:submit", args=[claim.pk])).content.decode()
    assert 'data-testid="policy-block"' in html and "Line 1" in html and "needs a receipt" in html
    assert 'data-testid="submit-claim"' not in html
    response = owner_client.post(reverse("reimbursement:submit", args=[claim.pk]))
    assert response.status_code == 200 and 'data-testid="submit-error"' in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DRAFT


def test_submitting_without_a_justification_keeps_the_draft(owner_client, zhangwei):
    claim = hotel_claim_with_warning(zhangwei)
    url = reverse("reimbursement:submit", args=[claim.pk])
    html = owner_client.get(url).content.decode()
    (hit,) = [h for h in evaluate_claim(claim) if h.severity == WARN]
    assert f'name="justification:{hit.key}"' in html and "600.00 CNY" in html
    assert 'data-testid="submit-claim"' in html

    response = owner_client.post(url, {f"justification:{hit.key}": "   "})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="submit-error"' in html and "is-invalid" in html
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DRAFT and not PolicyWarning.objects.exists()


def test_submitting_with_a_justification_shows_it_on_the_detail_page(owner_client, zhangwei):
    claim = hotel_claim_with_warning(zhangwei)
    (hit,) = [h for h in evaluate_claim(claim) if h.severity == WARN]
    response = owner_client.post(
        reverse("reimbursement:submit", args=[claim.pk]), {f"justification:{hit.key}": "The conference hotel"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("reimbursement:detail", args=[claim.pk])
    claim.refresh_from_db()
    assert claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.IN_APPROVAL)  # approvals routes it at once
    html = owner_client.get(response["Location"]).content.decode()
    assert "The conference hotel" in html and 'data-testid="policy-warnings"' in html
    assert "was submitted" in html  # the message after the redirect
    timeline = html[html.index('data-testid="timeline"') :]
    assert "Submitted" in timeline and "张伟" in timeline
    # Submitted: no edit and no delete any more, but withdraw.
    assert 'data-testid="action-withdraw"' in html
    assert 'data-testid="action-edit"' not in html and 'data-testid="action-delete"' not in html


def test_withdraw_makes_the_claim_editable_again(owner_client, zhangwei):
    claim = hotel_claim_with_warning(zhangwei)
    keys = {h.key: "ok" for h in evaluate_claim(claim) if h.severity == WARN}
    services.claim_submit(claim_id=claim.pk, actor=zhangwei.user, justifications=keys)
    response = owner_client.post(reverse("reimbursement:withdraw", args=[claim.pk]), {"reason": "Wrong hotel"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.WITHDRAWN
    html = owner_client.get(reverse("reimbursement:detail", args=[claim.pk])).content.decode()
    assert "Wrong hotel" in html and 'data-testid="action-edit"' in html
    assert 'data-testid="action-delete"' not in html  # it was submitted once: it stays for the record


def test_a_never_submitted_draft_is_deleted_with_its_files(owner_client, zhangwei, _media_in_tmp):
    claim = make_claim(zhangwei, lines=1)
    services.attachment_add(line_id=claim.lines.get().pk, actor=zhangwei.user, upload=png(5))
    html = owner_client.get(reverse("reimbursement:detail", args=[claim.pk])).content.decode()
    assert 'data-testid="action-delete"' in html and "data-confirm=" in html
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(reverse("reimbursement:delete", args=[claim.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("reimbursement:my_claims")
    assert not Claim.objects.filter(pk=claim.pk).exists()
    assert stored_files(_media_in_tmp) == []


def test_deleting_a_submitted_claim_is_refused_with_a_message(owner_client, zhangwei):
    claim = hotel_claim_with_warning(zhangwei)
    keys = {h.key: "ok" for h in evaluate_claim(claim) if h.severity == WARN}
    services.claim_submit(claim_id=claim.pk, actor=zhangwei.user, justifications=keys)
    response = owner_client.post(reverse("reimbursement:delete", args=[claim.pk]), follow=True)
    assert "Only a draft that was never submitted can be deleted." in response.content.decode()
    assert Claim.objects.filter(pk=claim.pk).exists()


def test_the_detail_shows_what_changed_since_the_last_submission(owner_client, zhangwei):
    claim = hotel_claim_with_warning(zhangwei)
    keys = {h.key: "ok" for h in evaluate_claim(claim) if h.severity == WARN}
    services.claim_submit(claim_id=claim.pk, actor=zhangwei.user, justifications=keys)
    services.claim_withdraw(claim_id=claim.pk, actor=zhangwei.user)
    services.claim_update(claim_id=claim.pk, actor=zhangwei.user, purpose="Trip to Shanghai, corrected")
    Claim.objects.filter(pk=claim.pk).update(
        changes_since_last_submission=[
            {"kind": "claim", "field": "purpose", "before": "Trip to Shanghai", "after": "Trip to Shanghai, corrected"}
        ]
    )
    html = owner_client.get(reverse("reimbursement:detail", args=[claim.pk])).content.decode()
    assert 'data-testid="changes"' in html and "Trip to Shanghai, corrected" in html


def test_the_print_view_has_no_navigation(owner_client, zhangwei):
    claim = make_claim(zhangwei, lines=2)
    html = owner_client.get(reverse("reimbursement:print", args=[claim.pk])).content.decode()
    assert 'data-testid="print-page"' in html and "navbar" not in html
    assert "176.00 CNY" in html and " style=" not in html and "<script>" not in html


# --- bank account -------------------------------------------------------------------------------------------


def test_the_bank_account_is_saved_and_only_shown_masked(owner_client, zhangwei):
    url = reverse("reimbursement:bank_account")
    number, id_number = "6222021234567890123", "11010519491231002X"
    response = owner_client.post(
        url,
        {"account_name": "张伟", "bank_name": "ICBC", "branch": "", "account_number": number, "id_number": id_number},
    )
    assert response.status_code == 302 and response["Location"] == url
    account = PayeeAccount.objects.get(employee=zhangwei)
    assert account.account_number_last4 == "0123"
    html = owner_client.get(url).content.decode()
    assert "**** **** **** 0123" in html and "002X" in html
    assert number not in html and id_number not in html and account.account_number_encrypted not in html


def test_a_bad_bank_account_is_refused_without_echoing_the_numbers(owner_client, zhangwei):
    number = "62220212345"
    before = list(PayeeAccount.objects.filter(employee=zhangwei).values())  # the demo account
    response = owner_client.post(
        reverse("reimbursement:bank_account"),
        {"account_name": "张伟", "bank_name": "", "account_number": number, "id_number": "123"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="error-bank_name"' in html and 'data-testid="error-id_number"' in html
    assert number not in html
    assert list(PayeeAccount.objects.filter(employee=zhangwei).values()) == before
