"""The accounting journal on known figures (per line and the balancing credit), CSV streamed and XLSX,
through the page and the API; and a range with nothing in it."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.test import APIClient

from approvals import services as approvals
from approvals.models import ApprovalTask
from reimbursement import services as claims
from reimbursement.models import Claim
from reimbursement.payments.exports import JOURNAL_COLUMNS, safe_text
from tests.finance.conftest import approve
from tests.reimbursement.factories import line_input, submit

pytestmark = pytest.mark.django_db

JOURNAL = "/finance/journal/"
API = "/api/v1/finance/journal/"


def claim_with(employee, lines: list[dict], **header) -> Claim:
    claim = claims.claim_create(claimant=employee, actor=employee.user, purpose=header.pop("purpose", "Trip"), **header)
    for line in lines:
        claims.line_add(claim_id=claim.pk, actor=employee.user, data=line_input(**line))
    return submit(claim)


@pytest.fixture
def known(people):
    """Two approved claims with known figures, one of them cut by the approver."""
    first = claim_with(
        people["zhangwei"],
        [
            {"category": "office", "amount": Decimal("113.00"), "tax_amount": Decimal("13.00")},
            {"category": "meals", "amount": Decimal("50.00"), "description": "=1+2 lunch"},
            {
                "category": "telecom",
                "amount": Decimal("10.00"),
                "currency": "USD",
                "fx_rate": Decimal("7.10"),
                "fx_override_reason": "Bank statement rate",
                "tax_amount": Decimal("1.00"),
            },
        ],
        purpose="Customer visit",
        cost_centre="CC-100",
        project="P-7",
    )
    approve(first)
    second = claim_with(
        people["lina"], [{"category": "office", "amount": Decimal("200.00"), "tax_amount": Decimal("20.00")}]
    )
    task = ApprovalTask.objects.get(claim=second, status="pending")
    line = second.lines.get()
    approvals.task_cut_line(task_id=task.pk, actor=task.assignee.user, line_id=line.pk, amount="100.00", reason="Cap")
    approve(second)
    return first, second


def today() -> str:
    return timezone.localdate().isoformat()


def csv_rows(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff") and "\r\n" in text
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_journal_figures_per_line_and_the_balancing_credit(known, finance, client):
    first, second = known
    client.force_login(finance)
    response = client.get(JOURNAL, {"date_from": today(), "date_to": today(), "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert list(rows[0]) == JOURNAL_COLUMNS
    mine = [r for r in rows if r["claim_number"] == first.number]
    figures = [(r["entry"], r["line"], r["account"], r["net_amount"], r["tax_amount"], r["gross_amount"]) for r in mine]
    assert figures == [
        ("debit", "1", "6603.01", "100.00", "13.00", "113.00"),
        ("debit", "2", "6602.01", "50.00", "0.00", "50.00"),
        ("debit", "3", "6603.02", "63.90", "7.10", "71.00"),  # 10 USD at 7.10, tax 1 USD
        ("credit", "", "2241", "213.90", "20.10", "234.00"),
    ]
    assert {r["cost_centre"] for r in mine} == {"CC-100"} and {r["project"] for r in mine} == {"P-7"}
    assert {r["currency"] for r in mine} == {"CNY"} and {r["date"] for r in mine} == {today()}
    assert {r["employee_no"] for r in mine} == {first.claimant.employee_no}
    assert mine[1]["description"] == "'=1+2 lunch"  # never a formula in a spreadsheet
    cut = [r for r in rows if r["claim_number"] == second.number]
    assert [(r["entry"], r["net_amount"], r["tax_amount"], r["gross_amount"]) for r in cut] == [
        ("debit", "90.00", "10.00", "100.00"),  # cut from 200 to 100: the tax in proportion
        ("credit", "90.00", "10.00", "100.00"),
    ]
    # Each claim balances: the debits' gross is the credit, which is the approved amount.
    for claim in (first, second):
        entries = [r for r in rows if r["claim_number"] == claim.number]
        debit = sum(Decimal(r["gross_amount"]) for r in entries if r["entry"] == "debit")
        [credit] = [Decimal(r["gross_amount"]) for r in entries if r["entry"] == "credit"]
        claim.refresh_from_db()
        assert debit == credit == claim.approved_amount


def test_the_payable_account_is_a_setting(known, finance, client, settings):
    settings.BAOXIAO_PAYABLE_ACCOUNT = "2241.01"
    client.force_login(finance)
    rows = csv_rows(client.get(JOURNAL, {"date_from": today(), "date_to": today()}))
    assert {r["account"] for r in rows if r["entry"] == "credit"} == {"2241.01"}


def test_the_journal_as_xlsx_has_the_same_figures_as_numbers(known, finance, client):
    from openpyxl import load_workbook

    first, _second = known
    client.force_login(finance)
    response = client.get(JOURNAL, {"date_from": today(), "date_to": today(), "format": "xlsx"})
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == JOURNAL_COLUMNS
    credit = next(r for r in rows[1:] if r[1] == first.number and r[5] == "credit")
    assert credit[6] == "2241" and [float(v) for v in credit[11:14]] == [213.90, 20.10, 234.00]
    assert isinstance(credit[0], datetime.datetime) and credit[0].date() == timezone.localdate()
    assert len(rows) == 1 + 4 + 2


def test_a_range_with_no_data_says_so(known, finance, client):
    client.force_login(finance)
    long_ago = {"date_from": "2001-01-01", "date_to": "2001-01-31", "format": "csv"}
    response = client.get(JOURNAL, long_ago)
    assert response.status_code == 400
    assert "No claims were approved between 2001-01-01 and 2001-01-31" in response.content.decode()
    backwards = client.get(JOURNAL, {"date_from": today(), "date_to": "2001-01-01"})
    assert backwards.status_code == 400 and "before the start date" in backwards.content.decode()

    api = APIClient()
    api.force_authenticate(finance)
    answer = api.get(API, long_ago)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "no_data"
    assert api.get(API, {"date_from": "x"}).json()["error"]["fields"].keys() >= {"date_from", "date_to"}


def test_the_journal_api_streams_csv_and_xlsx(known, finance):
    api = APIClient()
    api.force_authenticate(finance)
    rows = csv_rows(api.get(API, {"date_from": today(), "date_to": today()}))
    assert len(rows) == 4 + 2
    xlsx = api.get(API, {"date_from": today(), "date_to": today(), "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_claims_voided_after_approval_are_not_booked(known, finance, client):
    from reimbursement.payments import services

    first, second = known
    services.claim_void(claim_id=second.pk, actor=finance, reason="Duplicate")
    client.force_login(finance)
    rows = csv_rows(client.get(JOURNAL, {"date_from": today(), "date_to": today()}))
    assert {r["claim_number"] for r in rows} == {first.number}


def test_only_finance_gets_the_journal(known, people, client):
    client.force_login(people["zhangwei"].user)
    assert client.get(JOURNAL, {"date_from": today(), "date_to": today()}).status_code == 404
    api = APIClient()
    api.force_authenticate(people["liuyang"].user)
    answer = api.get(API, {"date_from": today(), "date_to": today()})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("value", ["=cmd", "+1", "-1", "@SUM(A1)", "\tx", "plain", ""])
def test_text_cells_never_start_a_formula(value):
    assert safe_text(value)[:1] not in ("=", "+", "-", "@", "\t") or safe_text(value) == value == ""
