"""Finance pages and API as their users meet them: 404 for everyone else, the run from queue to paid,
refusals said on the page, and query counts that do not grow with the queue."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim, Payment, PaymentBatch, PaymentBatchStatus, PaymentStatus
from reimbursement.payments import services
from tests.finance.conftest import ACCOUNTS, approved_claim, bank_account

pytestmark = pytest.mark.django_db

QUEUE = "/finance/"


@pytest.fixture
def sunli(client, finance):
    client.force_login(finance)
    return client


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def finance_urls(claim_id: int, batch_id: int, payment_id: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("finance:queue")),
        ("get", reverse("finance:batches")),
        ("post", reverse("finance:batch_create")),
        ("get", reverse("finance:batch", args=[batch_id])),
        ("post", reverse("finance:bank_file", args=[batch_id])),
        ("post", reverse("finance:mark_paid", args=[batch_id])),
        ("get", reverse("finance:payment_fail", args=[payment_id])),
        ("post", reverse("finance:payment_fail", args=[payment_id])),
        ("get", reverse("finance:claim_void", args=[claim_id])),
        ("post", reverse("finance:claim_void", args=[claim_id])),
        ("get", reverse("finance:journal")),
        ("get", "/api/v1/finance/queue/"),
        ("get", "/api/v1/finance/batches/"),
        ("post", "/api/v1/finance/batches/"),
        ("get", f"/api/v1/finance/batches/{batch_id}/"),
        ("post", f"/api/v1/finance/batches/{batch_id}/export/"),
        ("post", f"/api/v1/finance/batches/{batch_id}/mark-paid/"),
        ("post", f"/api/v1/finance/payments/{payment_id}/fail/"),
        ("post", f"/api/v1/finance/claims/{claim_id}/void/"),
        ("get", "/api/v1/finance/journal/?date_from=2020-01-01&date_to=2030-01-01"),
    ]


@pytest.mark.parametrize("username", ["zhangwei", "liuyang", "chenjie", "admin"])
def test_finance_pages_and_api_do_not_exist_for_anyone_else(with_accounts, finance, client, username):
    claim = approved_claim(with_accounts["zhangwei"])
    other = approved_claim(with_accounts["lina"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    payment = batch.payments.get()
    user = with_accounts[username].user if username in with_accounts else None
    if user is None:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username=username)
    client.force_login(user)
    api = api_for(user)
    for method, url in finance_urls(other.pk, batch.pk, payment.pk):
        if url.startswith("/api/"):
            response = getattr(api, method)(url, {"claims": [other.pk], "reason": "x"} if method == "post" else None)
            assert response.status_code == 404, (url, response.status_code)
            assert response.json()["error"]["code"] == "not_found"
        else:
            response = getattr(client, method)(url, {"claim": [other.pk], "reason": "x"} if method == "post" else None)
            assert response.status_code == 404, (url, response.status_code)
    assert Claim.objects.get(pk=other.pk).status == ClaimStatus.APPROVED
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PENDING
    assert "Finance" not in client.get("/").content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_menu_shows_finance_to_finance(sunli):
    html = sunli.get("/").content.decode()
    assert 'href="/finance/"' in html


def test_the_run_through_the_pages(with_accounts, sunli):
    people = with_accounts
    claims = [approved_claim(people["zhangwei"], "120.00"), approved_claim(people["lina"], "80.00")]
    queue = sunli.get(QUEUE)
    html = queue.content.decode()
    assert queue.status_code == 200 and all(c.number in html for c in claims)
    assert ACCOUNTS["zhangwei"] not in html and ACCOUNTS["zhangwei"][-4:] in html  # masked

    response = sunli.post(reverse("finance:batch_create"), {"claim": [c.pk for c in claims], "note": "Week 48"})
    batch = PaymentBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("finance:batch", args=[batch.pk])
    page = sunli.get(response["Location"]).content.decode()
    assert batch.number in page and "Week 48" in page and ACCOUNTS["lina"] not in page
    assert "200.00" in page

    download = sunli.post(reverse("finance:bank_file", args=[batch.pk]))
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert download["Content-Disposition"] == f'attachment; filename="bank-file-{batch.number}.csv"'
    assert download["Cache-Control"] == "no-store"
    assert ACCOUNTS["zhangwei"] in download.content.decode("utf-8")

    today = timezone.localdate().isoformat()
    paid = sunli.post(reverse("finance:mark_paid", args=[batch.pk]), {"reference": "ICBC-1", "paid_on": today})
    assert paid.status_code == 302
    assert "2 claims marked paid" in sunli.get(paid["Location"]).content.decode()
    assert set(Claim.objects.filter(pk__in=[c.pk for c in claims]).values_list("status", flat=True)) == {"paid"}
    again = sunli.post(reverse("finance:mark_paid", args=[batch.pk]), {"reference": "ICBC-1", "paid_on": today})
    assert "already marked paid; nothing changed" in sunli.get(again["Location"]).content.decode()
    listing = sunli.get(reverse("finance:batches")).content.decode()
    assert batch.number in listing and "ICBC-1" in listing


def test_refusals_are_said_on_the_queue_and_keep_the_selection(people, sunli):
    bank_account(people["zhangwei"])
    ok = approved_claim(people["zhangwei"])
    missing = approved_claim(people["wangfang"])
    empty = sunli.post(reverse("finance:batch_create"), {})
    assert empty.status_code == 400 and "Select at least one claim" in empty.content.decode()
    response = sunli.post(reverse("finance:batch_create"), {"claim": [ok.pk, missing.pk]})
    html = response.content.decode()
    assert response.status_code == 400 and people["wangfang"].name in html and "no bank account" in html
    assert html.count("checked") == 2  # both ticks kept
    assert not PaymentBatch.objects.exists()


def test_a_claim_taken_by_another_batch_is_named_on_the_page(with_accounts, finance, sunli):
    claim = approved_claim(with_accounts["zhangwei"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    response = sunli.post(reverse("finance:batch_create"), {"claim": [claim.pk]})
    assert response.status_code == 409
    assert claim.number in response.content.decode() and batch.number in response.content.decode()


def test_fail_a_payment_and_void_a_claim_through_the_pages(with_accounts, finance, sunli):
    claim = approved_claim(with_accounts["zhangwei"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    payment = batch.payments.get()
    url = reverse("finance:payment_fail", args=[payment.pk])
    assert sunli.get(url).status_code == 200
    blank = sunli.post(url, {"reason": ""})
    assert blank.status_code == 400 and "is-invalid" in blank.content.decode()
    done = sunli.post(url, {"reason": "Account closed"})
    assert done.status_code == 302
    page = sunli.get(done["Location"]).content.decode()
    assert "Account closed" in page and "back in the payment queue" in page
    assert PaymentBatch.objects.get(pk=batch.pk).status == PaymentBatchStatus.FAILED
    queue = sunli.get(QUEUE).content.decode()
    assert claim.number in queue and "Account closed" in queue

    void = reverse("finance:claim_void", args=[claim.pk])
    assert sunli.get(void).status_code == 200
    assert sunli.post(void, {"reason": " "}).status_code == 400
    assert sunli.post(void, {"reason": "Paid in cash"}).status_code == 302
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.VOIDED
    assert f'data-claim="{claim.pk}"' not in sunli.get(QUEUE).content.decode()


@pytest.mark.parametrize("count", [1, 30])
def test_the_queue_page_runs_a_fixed_number_of_queries(
    with_accounts, finance, client, count, django_assert_max_num_queries
):
    people = with_accounts
    claimants = ["zhangwei", "lina", "wangfang", "zhaolei", "huangyan"]
    for n in range(count):
        approved_claim(people[claimants[n % len(claimants)]], str(Decimal("50.00") + n))
    client.force_login(finance)
    with django_assert_max_num_queries(11):
        response = client.get(QUEUE)
    assert response.status_code == 200 and response.content.decode().count('data-testid="queue-row"') == count


def test_the_batch_page_runs_a_fixed_number_of_queries(with_accounts, finance, client, django_assert_max_num_queries):
    people = with_accounts
    claims = [approved_claim(people[name]) for name in ("zhangwei", "lina", "wangfang", "zhaolei") * 3]
    batch = services.batch_create(actor=finance, claim_ids=[c.pk for c in claims])
    client.force_login(finance)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("finance:batch", args=[batch.pk])).status_code == 200


# --- API ------------------------------------------------------------------------------------------


def test_the_run_through_the_api(with_accounts, finance):
    people = with_accounts
    a = approved_claim(people["zhangwei"], "120.00")
    b = approved_claim(people["zhangwei"], "30.00")
    api = api_for(finance)
    queue = api.get("/api/v1/finance/queue/").json()
    assert queue["count"] == 2 and queue["results"][0]["payee_account"]["account_number"].endswith(
        ACCOUNTS["zhangwei"][-4:]
    )
    assert ACCOUNTS["zhangwei"] not in str(queue)

    created = api.post("/api/v1/finance/batches/", {"claims": [a.pk, b.pk]}, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert created["Location"] == f"/api/v1/finance/batches/{body['id']}/"
    assert body["total_amount"] == "150.00" and len(body["payments"]) == 2 and body["status"] == "open"
    replay = api.post("/api/v1/finance/batches/", {"claims": [a.pk, b.pk]}, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert PaymentBatch.objects.count() == 1

    taken = api.post("/api/v1/finance/batches/", {"claims": [a.pk]})
    assert taken.status_code == 409 and a.number in taken.json()["error"]["message"]
    empty = api.post("/api/v1/finance/batches/", {"claims": []})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_selection"

    early = api.post(f"/api/v1/finance/batches/{body['id']}/mark-paid/", {"reference": "R", "paid_on": "2026-01-01"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_exported"
    exported = api.post(f"/api/v1/finance/batches/{body['id']}/export/", HTTP_ACCEPT="text/csv")
    assert exported.status_code == 200 and ACCOUNTS["zhangwei"] in exported.content.decode("utf-8")
    assert exported.content.decode("utf-8").count("\r\n") == 2  # header and one payee

    today = timezone.localdate().isoformat()
    paid = api.post(f"/api/v1/finance/batches/{body['id']}/mark-paid/", {"reference": "R-9", "paid_on": today})
    assert paid.status_code == 200 and paid.json()["newly_paid"] == 2 and paid.json()["status"] == "paid"
    again = api.post(f"/api/v1/finance/batches/{body['id']}/mark-paid/", {"reference": "R-9", "paid_on": today})
    assert again.status_code == 200 and again.json()["newly_paid"] == 0
    other = api.post(f"/api/v1/finance/batches/{body['id']}/mark-paid/", {"reference": "R-10", "paid_on": today})
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_paid"
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    bad = api.post(f"/api/v1/finance/batches/{body['id']}/mark-paid/", {"reference": "R-9", "paid_on": future})
    assert bad.status_code == 400 and "paid_on" in bad.json()["error"]["fields"]
    assert api.get("/api/v1/finance/batches/").json()["count"] == 1
    closed = api.post(f"/api/v1/finance/batches/{body['id']}/export/")
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "batch_closed"


def test_fail_and_void_through_the_api(with_accounts, finance):
    claim = approved_claim(with_accounts["lina"])
    api = api_for(finance)
    batch = api.post("/api/v1/finance/batches/", {"claims": [claim.pk]}).json()
    payment = batch["payments"][0]["id"]
    blank = api.post(f"/api/v1/finance/payments/{payment}/fail/", {"reason": ""})
    assert blank.status_code == 400 and "reason" in blank.json()["error"]["fields"]
    failed = api.post(f"/api/v1/finance/payments/{payment}/fail/", {"reason": "Wrong name"})
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    assert failed.json()["failure_reason"] == "Wrong name"
    voided = api.post(f"/api/v1/finance/claims/{claim.pk}/void/", {"reason": "Duplicate"})
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    assert api.post("/api/v1/finance/claims/999999/void/", {"reason": "x"}).status_code == 404


def test_mixed_currencies_and_missing_accounts_through_the_api(people, finance):
    bank_account(people["zhangwei"])
    cny = approved_claim(people["zhangwei"])
    usd = approved_claim(people["zhangwei"])
    Claim.objects.filter(pk=usd.pk).update(base_currency="USD")
    api = api_for(finance)
    mixed = api.post("/api/v1/finance/batches/", {"claims": [cny.pk, usd.pk]})
    assert mixed.status_code == 400 and mixed.json()["error"]["code"] == "mixed_currencies"
    missing = approved_claim(people["zhaolei"])
    none = api.post("/api/v1/finance/batches/", {"claims": [cny.pk, missing.pk]})
    assert none.status_code == 400 and people["zhaolei"].name in none.json()["error"]["message"]


def test_the_schema_documents_the_finance_api(finance):
    api = api_for(finance)
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for operation in (
        "finance_batches_create",
        "finance_batches_export",
        "finance_batches_mark_paid",
        "finance_journal",
    ):
        assert operation in schema


def test_date_fields_keep_the_iso_value_a_date_input_needs_in_chinese(with_accounts, finance, client):
    """A date input shows nothing for a value in the locale's format (2026/11/28): always YYYY-MM-DD."""
    claim = approved_claim(with_accounts["zhangwei"])
    batch = services.batch_create(actor=finance, claim_ids=[claim.pk])
    client.force_login(finance)
    today = timezone.localdate().isoformat()
    for url in (reverse("finance:batch", args=[batch.pk]), reverse("finance:journal")):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
        assert 'lang="zh-hans"' in html and f'value="{today}"' in html, url
