"""The claims REST API: the whole journey, every bad input leaving the draft as it was, visibility,
editability, the list's query count and idempotent creates."""

from __future__ import annotations

import datetime
import io
import threading
import time
import zipfile
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from org.demo.company import DEMO_PASSWORD
from reimbursement import services
from reimbursement.models import Attachment, Claim, ClaimLine, FxRate
from tests.org.factories import make_employee
from tests.reimbursement.factories import PNG_HEADER, category, make_claim, pdf, png

pytestmark = pytest.mark.django_db

CLAIMS = "/api/v1/claims/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def api_for(employee) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=employee.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def days_ago(n: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=n)).isoformat()


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


@pytest.fixture
def zhangwei(demo_company):
    return demo_company["zhangwei"]


@pytest.fixture
def api(zhangwei) -> APIClient:
    return api_for(zhangwei)


@pytest.fixture
def draft(zhangwei) -> Claim:
    """A draft with one office line carrying one receipt."""
    claim = make_claim(zhangwei, lines=1, category="office", amount=Decimal("88.00"))
    services.attachment_add(line_id=claim.lines.get().pk, actor=zhangwei.user, upload=png(7))
    return claim


def snapshot(api: APIClient, claim: Claim, media) -> dict:
    """Everything a failed request must leave untouched: the API's view, the rows, the audit, the files."""
    detail = api.get(f"{CLAIMS}{claim.pk}/")
    assert detail.status_code == 200
    return {
        "detail": detail.json(),
        "claim": Claim.objects.filter(pk=claim.pk).values().get(),
        "lines": list(ClaimLine.objects.filter(claim=claim).order_by("id").values()),
        "attachments": list(Attachment.objects.filter(line__claim=claim).order_by("id").values()),
        "audit": AuditEvent.objects.count(),
        "files": sorted(str(p) for p in media.rglob("*") if p.is_file()),
    }


# --- The journey ----------------------------------------------------------------------------------


def test_the_whole_journey_through_the_api(demo_company, media):
    api = APIClient()
    signed_in = api.post("/api/v1/auth/token/", {"username": "zhangwei", "password": DEMO_PASSWORD})
    assert signed_in.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {signed_in.json()['token']}")

    categories = {c["code"]: c["id"] for c in api.get("/api/v1/categories/").json()}
    day = days_ago(5)
    created = api.post(
        CLAIMS,
        {
            "purpose": "Customer visit in Hangzhou",
            "project": "HZ-01",
            "lines": [
                {"expense_date": day, "category": categories["hotel"], "amount": "800.00", "currency": "CNY"},
                {"expense_date": day, "category": categories["office"], "amount": "88.00", "currency": "CNY"},
                {"expense_date": day, "category": categories["taxi"], "amount": "10.50", "currency": "usd"},
            ],
        },
    )
    assert created.status_code == 201, created.json()
    claim = created.json()
    assert created["Location"] == f"{CLAIMS}{claim['id']}/"
    assert (claim["status"], claim["is_editable"], claim["number"][:3]) == ("draft", True, "BX-")
    hotel, office, taxi = claim["lines"]
    assert hotel["amount"] == {"amount": "800.00", "currency": "CNY"}
    assert taxi["amount"] == {"amount": "10.50", "currency": "USD"}
    assert taxi["fx_rate_source"] == "table"
    rate = FxRate.objects.filter(currency="USD", date__lte=day).order_by("-date").first().rate
    expected = (Decimal("10.50") * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert taxi["base_amount"] == {"amount": str(expected), "currency": "CNY"}
    assert claim["total"] == {"amount": str(Decimal("888.00") + expected), "currency": "CNY"}

    preflight_url = f"{CLAIMS}{claim['id']}/preflight/"
    before_receipt = api.get(preflight_url).json()
    assert before_receipt["can_submit"] is False
    assert any(h["severity"] == "block" and h["line"] == hotel["id"] for h in before_receipt["hits"])

    uploaded = api.post(
        f"{CLAIMS}{claim['id']}/lines/{hotel['id']}/attachments/", {"file": png(1, "hotel.png")}, format="multipart"
    )
    assert uploaded.status_code == 201, uploaded.json()
    assert uploaded.json()["content_type"] == "image/png"
    assert len(list(media.rglob("*.png"))) == 1

    preflight = api.get(preflight_url).json()
    assert preflight["can_submit"] is True
    warnings = [h for h in preflight["hits"] if h["severity"] == "warn"]
    assert [h["severity"] for h in preflight["hits"]] == ["warn"]
    assert warnings[0]["line"] == hotel["id"] and warnings[0]["line_position"] == 1
    assert "600" in warnings[0]["message"]
    key = warnings[0]["key"]
    assert key == f"{warnings[0]['code']}@{hotel['id']}"

    submit_url = f"{CLAIMS}{claim['id']}/submit/"
    refused = api.post(submit_url, {})
    assert refused.status_code == 400
    error = error_of(refused)
    assert error["code"] == "justification_required"
    assert list(error["fields"]) == [f"justification:{key}"]
    assert api.get(f"{CLAIMS}{claim['id']}/").json()["status"] == "draft"

    submitted = api.post(submit_url, {"justifications": {key: "Conference rate; the only hotel near the venue."}})
    assert submitted.status_code == 200, submitted.json()
    body = submitted.json()
    # Submitted; routing (approvals, subscribed to claim.submitted) may move it on in the same transaction.
    assert body["status"] in ("submitted", "in_approval")
    assert (body["is_editable"], body["submission_count"]) == (False, 1) and body["submitted_at"]
    assert AuditEvent.objects.filter(action="claim.submitted", target_id=str(claim["id"])).count() == 1
    assert body["policy_warnings"][0]["justification"] == "Conference rate; the only hotel near the venue."

    withdrawn = api.post(f"{CLAIMS}{claim['id']}/withdraw/", {"reason": "Forgot the dinner"})
    assert withdrawn.status_code == 200
    assert (withdrawn.json()["status"], withdrawn.json()["is_editable"]) == ("withdrawn", True)


# --- Lines and files ------------------------------------------------------------------------------


def test_a_patch_changes_only_the_fields_it_sends(api, draft):
    line = draft.lines.get()
    response = api.patch(f"{CLAIMS}{draft.pk}/lines/{line.pk}/", {"amount": "99.50"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["amount"] == {"amount": "99.50", "currency": "CNY"}
    assert (body["description"], body["category_code"]) == ("Printer paper", "office")
    assert api.get(f"{CLAIMS}{draft.pk}/").json()["total"]["amount"] == "99.50"

    header = api.patch(f"{CLAIMS}{draft.pk}/", {"project": "P-7"})
    assert header.status_code == 200
    assert (header.json()["project"], header.json()["purpose"]) == ("P-7", "Trip to Shanghai")


def test_the_download_is_an_attachment_under_a_generated_name(api, draft):
    attachment = Attachment.objects.get(line__claim=draft)
    listed = api.get(f"{CLAIMS}{draft.pk}/lines/{attachment.line_id}/attachments/").json()
    assert [a["id"] for a in listed] == [attachment.pk]
    response = api.get(listed[0]["download_url"], HTTP_ACCEPT="image/png")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(PNG_HEADER)
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition == f'attachment; filename="{draft.number}-line1-{attachment.pk}.png"'
    assert "receipt" not in disposition


def test_lines_files_and_drafts_can_be_removed(api, draft, media, django_capture_on_commit_callbacks):
    line = draft.lines.get()
    attachment = line.attachments.get()
    url = f"{CLAIMS}{draft.pk}/lines/{line.pk}/"
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the removal is committed
        assert api.delete(f"{url}attachments/{attachment.pk}/").status_code == 204
    assert not list(media.rglob("*.png"))
    assert api.delete(url).status_code == 204
    assert api.get(f"{CLAIMS}{draft.pk}/lines/").json() == []
    assert api.delete(f"{CLAIMS}{draft.pk}/").status_code == 204
    assert not Claim.objects.filter(pk=draft.pk).exists()


def test_categories_have_both_names_and_one_in_the_request_language(api):
    english = {c["code"]: c for c in api.get("/api/v1/categories/", HTTP_ACCEPT_LANGUAGE="en").json()}
    chinese = {c["code"]: c for c in api.get("/api/v1/categories/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()}
    assert (english["hotel"]["name"], english["hotel"]["name_zh"]) == ("Hotel", "住宿")
    assert (chinese["hotel"]["name"], chinese["hotel"]["name_en"]) == ("住宿", "Hotel")


# --- Bad input: 400 with per-field errors, and nothing changed ------------------------------------


def line_payload(**overrides) -> dict:
    values = {"expense_date": days_ago(3), "category": category("office").pk, "amount": "50.00", "currency": "CNY"}
    values.update(overrides)
    return values


BAD_LINES = [
    ({"amount": "0"}, "amount"),
    ({"amount": "0.00"}, "amount"),
    ({"amount": "-5.00"}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"amount": "1.234"}, "amount"),
    ({"expense_date": "future"}, "expense_date"),
    ({"expense_date": "2024-02-30"}, "expense_date"),
    ({"currency": "XYZ"}, "currency"),
    ({"currency": ""}, "currency"),
    ({"category": 999999}, "category"),
    ({"category": "hotel"}, "category"),
    ({"invoice_kind": "vat_special", "invoice_code": "123", "invoice_number": "12345678"}, "invoice_code"),
    ({"invoice_kind": "vat_ordinary", "invoice_code": "1234567890", "invoice_number": "12AB5678"}, "invoice_number"),
    ({"invoice_kind": "vat_digital", "invoice_number": "123456"}, "invoice_number"),
    ({"invoice_kind": "train_ticket", "invoice_number": "E1"}, "invoice_number"),
    ({"invoice_kind": "none", "invoice_number": "12345678"}, "invoice_kind"),
    ({"invoice_kind": "cheque"}, "invoice_kind"),
    ({"seller_tax_id": "NOT-A-TAX-ID"}, "seller_tax_id"),
    ({"invoice_date": "future"}, "invoice_date"),
    ({"tax_amount": "100.00"}, "tax_amount"),
    ({"currency": "USD", "fx_rate": "7.1"}, "fx_override_reason"),
    ({"currency": "USD", "fx_rate": "-1", "fx_override_reason": "bank"}, "fx_rate"),
]


def _resolve(overrides: dict) -> dict:
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    return {k: (future if v == "future" else v) for k, v in overrides.items()}


@pytest.mark.parametrize(("overrides", "field"), BAD_LINES)
def test_a_bad_new_line_is_400_for_its_field_and_changes_nothing(api, draft, media, overrides, field):
    before = snapshot(api, draft, media)
    response = api.post(f"{CLAIMS}{draft.pk}/lines/", line_payload(**_resolve(overrides)))
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert field in error["fields"], error
    assert all(isinstance(m, str) and m for m in error["fields"][field])
    assert snapshot(api, draft, media) == before


@pytest.mark.parametrize(("overrides", "field"), BAD_LINES)
def test_a_bad_change_to_a_line_is_400_for_its_field_and_changes_nothing(api, draft, media, overrides, field):
    before = snapshot(api, draft, media)
    line = draft.lines.get()
    response = api.patch(f"{CLAIMS}{draft.pk}/lines/{line.pk}/", _resolve(overrides))
    assert response.status_code == 400, response.json()
    assert field in error_of(response)["fields"]
    assert snapshot(api, draft, media) == before


def test_a_bad_claim_header_is_400_and_changes_nothing(api, draft, media):
    before = snapshot(api, draft, media)
    response = api.patch(f"{CLAIMS}{draft.pk}/", {"purpose": "  ", "cost_centre": "x" * 65})
    assert response.status_code == 400
    assert {"purpose", "cost_centre"} <= set(error_of(response)["fields"])
    assert snapshot(api, draft, media) == before


def test_one_bad_line_in_a_create_saves_nothing_and_names_every_bad_line(api):
    claims, lines, events = Claim.objects.count(), ClaimLine.objects.count(), AuditEvent.objects.count()
    response = api.post(
        CLAIMS,
        {
            "purpose": "Trip",
            "lines": [
                line_payload(),
                line_payload(amount="0"),
                line_payload(),
                line_payload(currency="XYZ", expense_date=_resolve({"d": "future"})["d"]),
            ],
        },
    )
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert set(fields) == {"lines.1.amount", "lines.3.currency", "lines.3.expense_date"}
    assert (Claim.objects.count(), ClaimLine.objects.count(), AuditEvent.objects.count()) == (claims, lines, events)


def test_an_unknown_base_currency_creates_nothing(api):
    response = api.post(CLAIMS, {"purpose": "Trip", "base_currency": "XYZ"})
    assert response.status_code == 400
    assert "base_currency" in error_of(response)["fields"]
    assert not Claim.objects.exists()


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "hello")
    return buffer.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
BAD_FILES = {
    "oversized": ("receipt.png", PNG_HEADER + b"\0" * (1024 * 1024 + 10)),
    "png content named pdf": ("invoice.pdf", PNG_HEADER),
    "pdf content named png": ("receipt.png", pdf().read()),
    "text named jpg": ("photo.jpg", b"just some text"),
    "svg": ("receipt.svg", SVG),
    "svg named png": ("receipt.png", SVG),
    "html": ("receipt.html", b"<html><body><script>alert(1)</script></body></html>"),
    "html in xml": ("invoice.xml", b"<?xml version='1.0'?><html><script>alert(1)</script></html>"),
    "script": ("receipt.js", b"alert(document.cookie)"),
    "png with script inside": ("receipt.png", PNG_HEADER + b"<script>alert(1)</script>"),
    "pdf with javascript": ("invoice.pdf", b"%PDF-1.7\n/OpenAction << /JavaScript (app.alert(1)) >>\n%%EOF"),
    "zip": ("receipts.zip", _zip("a.png")),
    "zip named ofd": ("invoice.ofd", _zip("Doc_0/Content.xml")),
    "zip named png": ("receipt.png", _zip("a.png")),
    "empty": ("receipt.png", b""),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_upload_is_400_on_the_file_field_and_changes_nothing(api, draft, media, settings, case):
    settings.BAOXIAO_MAX_UPLOAD_MB = 1
    line = draft.lines.get()
    before = snapshot(api, draft, media)
    name, content = BAD_FILES[case]
    upload = SimpleUploadedFile(name, content, content_type="image/png")
    response = api.post(f"{CLAIMS}{draft.pk}/lines/{line.pk}/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 400, response.json()
    assert list(error_of(response)["fields"]) == ["file"]
    assert snapshot(api, draft, media) == before


def test_an_upload_without_a_file_is_400(api, draft, media):
    line = draft.lines.get()
    response = api.post(f"{CLAIMS}{draft.pk}/lines/{line.pk}/attachments/", {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in error_of(response)["fields"]


def test_a_file_within_the_limit_is_accepted(api, draft, settings):
    settings.BAOXIAO_MAX_UPLOAD_MB = 1
    line = draft.lines.get()
    upload = SimpleUploadedFile("big.png", PNG_HEADER + b"\0" * (1024 * 1024 - 1024), content_type="image/png")
    response = api.post(f"{CLAIMS}{draft.pk}/lines/{line.pk}/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()


# --- Visibility and editability -------------------------------------------------------------------


def _endpoints(claim: Claim) -> list[tuple[str, str, dict | None]]:
    line = claim.lines.get()
    attachment = line.attachments.get()
    c = f"{CLAIMS}{claim.pk}/"
    ln = f"{c}lines/{line.pk}/"
    at = f"{ln}attachments/{attachment.pk}/"
    return [
        ("get", c, None),
        ("patch", c, {"purpose": "Mine now"}),
        ("delete", c, None),
        ("get", f"{c}preflight/", None),
        ("post", f"{c}submit/", {}),
        ("post", f"{c}withdraw/", {}),
        ("get", f"{c}lines/", None),
        ("post", f"{c}lines/", line_payload()),
        ("get", ln, None),
        ("patch", ln, {"amount": "1.00"}),
        ("delete", ln, None),
        ("get", f"{ln}attachments/", None),
        ("post", f"{ln}attachments/", {"file": png(3)}),
        ("get", at, None),
        ("get", f"{at}download/", None),
        ("delete", at, None),
    ]


def test_another_employees_claim_is_404_on_every_endpoint(demo_company, draft, media):
    intruder = api_for(demo_company["wangfang"])
    owner = api_for(demo_company["zhangwei"])
    before = snapshot(owner, draft, media)
    for method, url, body in _endpoints(draft):
        format_ = "multipart" if body and "file" in body else "json"
        response = (
            getattr(intruder, method)(url, body, format=format_) if body is not None else getattr(intruder, method)(url)
        )
        assert response.status_code == 404, (method, url, response.status_code)
        assert error_of(response)["code"] == "not_found"
    assert snapshot(owner, draft, media) == before
    assert intruder.get(CLAIMS).json()["count"] == 0


def test_a_line_is_found_only_under_its_own_claim(api, zhangwei, draft):
    other = make_claim(zhangwei, lines=1)
    line = draft.lines.get()
    assert api.get(f"{CLAIMS}{other.pk}/lines/{line.pk}/").status_code == 404
    assert api.patch(f"{CLAIMS}{other.pk}/lines/{line.pk}/", {"amount": "1.00"}).status_code == 404
    attachment = line.attachments.get()
    assert api.get(f"{CLAIMS}{other.pk}/lines/{line.pk}/attachments/{attachment.pk}/").status_code == 404


def test_a_submitted_claim_cannot_be_changed(api, zhangwei, draft, media):
    services.claim_submit(claim_id=draft.pk, actor=zhangwei.user)
    before = snapshot(api, draft, media)
    line = draft.lines.get()
    attachment = line.attachments.get()
    ln = f"{CLAIMS}{draft.pk}/lines/{line.pk}/"
    patched = api.patch(f"{CLAIMS}{draft.pk}/", {"purpose": "Changed"})
    assert patched.status_code == 409
    assert error_of(patched)["code"] == "not_editable"
    assert api.patch(ln, {"amount": "1.00"}).status_code == 409
    assert api.post(f"{CLAIMS}{draft.pk}/lines/", line_payload()).status_code == 409
    assert api.delete(ln).status_code == 409
    assert api.post(f"{ln}attachments/", {"file": png(4)}, format="multipart").status_code == 409
    assert api.delete(f"{ln}attachments/{attachment.pk}/").status_code == 409
    deleted = api.delete(f"{CLAIMS}{draft.pk}/")
    assert deleted.status_code == 409 and error_of(deleted)["code"] == "not_deletable"
    assert snapshot(api, draft, media) == before
    # Submitting again is a no-op, not an error.
    assert api.post(f"{CLAIMS}{draft.pk}/submit/", {}).json()["submission_count"] == 1


# --- The list -------------------------------------------------------------------------------------

# The token (with its user), the visibility rules other apps register (approvals: the caller's employee and
# delegations), the count and the page. The same for 1 claim and for 30: nothing per claim.
LIST_QUERIES = 6  # includes the role look-up the finance and auditor visibility rules share


@pytest.mark.parametrize("count", [1, 30])
def test_the_list_runs_the_same_few_queries_for_1_or_30_claims(zhangwei, django_assert_max_num_queries, count):
    for _ in range(count):
        make_claim(zhangwei, lines=2)
    api = api_for(zhangwei)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = api.get(f"{CLAIMS}?page_size=100")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == count and len(body["results"]) == count
    assert {c["line_count"] for c in body["results"]} == {2}
    assert body["results"][0]["total"] == {"amount": "176.00", "currency": "CNY"}


@pytest.mark.parametrize("lines", [1, 10])
def test_a_claim_and_its_lines_are_read_in_a_fixed_number_of_queries(zhangwei, django_assert_max_num_queries, lines):
    claim = make_claim(zhangwei, lines=lines)
    for line in claim.lines.all():
        services.attachment_add(line_id=line.pk, actor=zhangwei.user, upload=png(line.pk))
    api = api_for(zhangwei)
    for url in (f"{CLAIMS}{claim.pk}/", f"{CLAIMS}{claim.pk}/lines/"):
        with django_assert_max_num_queries(8):
            response = api.get(url)
        assert response.status_code == 200


def test_someone_without_an_employee_record_cannot_create_claims(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("robot", password="pw-for-tests-1")
    api = APIClient()
    api.force_authenticate(user)
    assert api.get(CLAIMS).json()["count"] == 0
    response = api.post(CLAIMS, {"purpose": "Trip"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert not Claim.objects.exists()


def test_the_list_is_paginated_by_25_and_at_most_100(zhangwei):
    for _ in range(101):
        services.claim_create(claimant=zhangwei, actor=zhangwei.user, purpose="Taxi")
    api = api_for(zhangwei)
    first = api.get(CLAIMS).json()
    assert (first["count"], len(first["results"])) == (101, 25)
    assert "page=2" in first["next"]
    assert len(api.get(f"{CLAIMS}?page_size=5").json()["results"]) == 5
    assert len(api.get(f"{CLAIMS}?page_size=1000").json()["results"]) == 100


def test_the_list_uses_the_claim_filters(zhangwei, api):
    paper = make_claim(zhangwei, lines=1, purpose="Printer paper for the team")
    make_claim(zhangwei, lines=1, purpose="Taxi to the airport")
    services.claim_submit(claim_id=paper.pk, actor=zhangwei.user)
    status = Claim.objects.get(pk=paper.pk).status
    assert status != "draft"
    assert [c["id"] for c in api.get(f"{CLAIMS}?status={status}").json()["results"]] == [paper.pk]
    assert len(api.get(f"{CLAIMS}?status=draft").json()["results"]) == 1
    assert [c["purpose"] for c in api.get(f"{CLAIMS}?q=airport").json()["results"]] == ["Taxi to the airport"]
    assert api.get(f"{CLAIMS}?status=nonsense").status_code == 400


# --- Idempotency ----------------------------------------------------------------------------------


def test_a_create_retried_with_its_idempotency_key_creates_one_claim(api):
    body = {"purpose": "Trip", "lines": [line_payload()]}
    first = api.post(CLAIMS, body, HTTP_IDEMPOTENCY_KEY="4f1c0c1e-create")
    again = api.post(CLAIMS, body, HTTP_IDEMPOTENCY_KEY="4f1c0c1e-create")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and again["Location"] == first["Location"]
    assert Claim.objects.count() == 1 and ClaimLine.objects.count() == 1
    changed = api.post(CLAIMS, {**body, "purpose": "Another trip"}, HTTP_IDEMPOTENCY_KEY="4f1c0c1e-create")
    assert changed.status_code == 422
    assert error_of(changed)["code"] == "idempotency_key_reused"
    assert Claim.objects.count() == 1


def test_an_upload_retried_with_its_key_stores_one_file(api, draft, media):
    line = draft.lines.get()
    url = f"{CLAIMS}{draft.pk}/lines/{line.pk}/attachments/"
    first = api.post(url, {"file": png(11)}, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1")
    again = api.post(url, {"file": png(11)}, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert line.attachments.count() == 2  # the fixture's and this one
    other = api.post(url, {"file": png(12)}, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1")
    assert other.status_code == 422


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_with_one_key_make_one_claim(monkeypatch):
    employee = make_employee()
    create = services.claim_create
    inside = threading.Event()

    def slow_create(**kwargs):
        claim = create(**kwargs)
        inside.set()
        time.sleep(0.5)  # hold the transaction open while the duplicate arrives
        return claim

    monkeypatch.setattr(services, "claim_create", slow_create)
    answers = {}

    def send(name: str) -> None:
        try:
            answers[name] = api_for(employee).post(CLAIMS, {"purpose": "Trip"}, HTTP_IDEMPOTENCY_KEY="same-key")
        finally:
            connection.close()

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=send, args=("second",))
    second.start()
    first.join(20)
    second.join(20)
    assert answers["first"].status_code == answers["second"].status_code == 201
    assert answers["second"].json() == answers["first"].json()
    assert answers["second"]["Idempotent-Replayed"] == "true"
    assert Claim.objects.filter(claimant=employee).count() == 1
