"""Each compliance report's figures on a known history, who may read them, and their query counts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from reimbursement.auditor import auditor_grant
from reimbursement.models import ClaimLine
from reports import catalogue
from reports.selectors import ReportParams
from tests.reports.conftest import INVOICE, range_params

pytestmark = pytest.mark.postgres


def rows_of(slug: str, user, **filters) -> list[tuple]:
    r = range_params() | filters
    params = ReportParams(
        date_from=datetime.date.fromisoformat(r["date_from"]),
        date_to=datetime.date.fromisoformat(r["date_to"]),
        department=r.get("department"),
    )
    return list(catalogue.REPORTS[slug].rows(catalogue.scope(slug, user, params), params))


def test_policy_warnings_list_each_warning_with_its_justification(history, finance):
    rows = rows_of("policy-warnings", finance)
    office_cap = [r for r in rows if "Office cap" in r[7]]
    assert len(office_cap) == 1
    when, number, claimant, department, submission, line, code, message, justification = office_cap[0]
    assert (number, claimant, submission, line) == (history["A"].number, "张伟", 1, 1)
    assert "150.00 CNY" in message
    assert justification == "Toner for the team printer"
    assert {r[1] for r in rows} == {history["A"].number}


def test_a_refused_duplicate_invoice_is_recorded_and_reported(history, finance):
    event = AuditEvent.objects.get(action="claim.duplicate_invoice_refused")
    assert event.target_id == str(history["D"].pk)
    rows = rows_of("duplicate-invoices", finance)
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        (str(history["D"]), "何明", 1, f"DIGITAL:{INVOICE}", history["C"].number)
    ]


def test_separation_of_duties_flags_a_decision_by_someone_reporting_to_the_claimant(history, finance):
    rows = rows_of("separation-of-duties", finance)
    assert len(rows) == 1
    when, number, department, claimant, step, decision, approver, behalf, breach = rows[0]
    assert (number, claimant, approver, behalf, decision) == (history["E"].number, "刘洋", "张伟", "陈杰", "Approved")
    assert breach == "The approver reports to the claimant."


def test_overdue_approvals_show_the_pending_task_past_its_due_time(history, finance):
    rows = rows_of("overdue-approvals", finance)
    assert len(rows) == 1
    due, number, claimant, department, step, assignee, hours, reminders = rows[0]
    assert (number, claimant, assignee, reminders) == (history["C"].number, "何明", "郭平", 0)
    assert Decimal("4.9") <= hours <= Decimal("5.1")


def test_decisions_by_a_delegate_or_from_the_oa_are_listed(history, finance):
    rows = rows_of("delegated-decisions", finance)
    assert sorted((r[1], r[5], r[6], r[7]) for r in rows) == sorted(
        [(history["B"].number, "刘洋", "", "OA"), (history["E"].number, "张伟", "陈杰", "Web")]
    )


def test_voids_and_returns_carry_their_reasons(history, finance):
    rows = rows_of("voids-returns", finance)
    assert [(r[1], r[2], r[3], r[5]) for r in rows] == [
        ("Returned", history["F"].number, "周静", "Add the taxi receipt"),
        ("Voided", history["F"].number, "孙丽", "Claimed twice by mistake"),
    ]


def test_spend_is_summed_per_department_category_month_and_currency_in_decimal(history, finance):
    usd_line = ClaimLine.objects.get(claim=history["G"])
    month = f"{history['A'].lines.get().expense_date:%Y-%m}"
    assert rows_of("spend", finance) == [
        (month, "平台组 Platform", "meals", 1, Decimal("80.00"), "CNY", Decimal("80.00"), "CNY"),
        (month, "平台组 Platform", "office", 2, Decimal("210.00"), "CNY", Decimal("210.00"), "CNY"),
        (month, "移动组 Mobile", "meals", 1, Decimal("10.00"), "USD", usd_line.base_amount, "CNY"),
    ]


def test_cycle_time_gives_p50_and_p90_hours_per_step_and_per_approver(history, finance):
    rows = {(r[0], r[1]): r[2:] for r in rows_of("cycle-time", finance)}
    # Manager decisions waited 2, 4 and 10 hours, and twice about nothing (F and G): [0, 0, 2, 4, 10].
    assert rows[("Step", "Manager")] == (5, Decimal("2.00"), Decimal("7.60"))
    assert rows[("Approver", "刘洋")] == (2, Decimal("3.00"), Decimal("3.80"))
    assert rows[("Approver", "张伟")] == (1, Decimal("10.00"), Decimal("10.00"))


def test_the_python_percentile_matches_percentile_cont():
    assert catalogue._percentile([0, 0, 2 * 3600, 4 * 3600, 10 * 3600], 0.9) == 7.6 * 3600
    assert catalogue._percentile([5], 0.5) == 5


def test_the_department_filter_keeps_its_subtree(history, finance, people):
    mobile = people["wuhao"].department
    rows = rows_of("spend", finance, department=mobile)
    assert [r[1] for r in rows] == ["移动组 Mobile"]
    assert rows_of("duplicate-invoices", finance, department=mobile) == []
    sales = people["hujun"].department
    assert len(rows_of("duplicate-invoices", finance, department=sales)) == 1  # a draft: its claimant's department


def test_an_auditor_sees_only_the_granted_departments(history, auditor, people):
    assert len(rows_of("spend", auditor)) == 3  # no grant: every submitted claim
    auditor_grant(user=auditor, departments=[people["zhangwei"].department])
    del auditor._baoxiao_roles
    assert {r[1] for r in rows_of("spend", auditor)} == {"平台组 Platform"}
    assert rows_of("voids-returns", auditor) == []
    assert rows_of("duplicate-invoices", auditor) == []
    assert len(rows_of("separation-of-duties", auditor)) == 1


# --- Pages ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["zhangwei", "liuyang"])
def test_everyone_without_a_reporting_role_gets_404(history, client, people, username):
    client.force_login(people[username].user)
    assert client.get(reverse("reports:index")).status_code == 404
    for slug in catalogue.REPORTS:
        assert client.get(reverse("reports:report", args=[slug])).status_code == 404
    assert client.get(reverse("reports:lines")).status_code == 404


def test_an_administrator_without_finance_or_auditor_role_has_no_reports(history, client, people):
    client.force_login(people["admin"].user)
    assert client.get(reverse("reports:index")).status_code == 404
    assert f'href="{reverse("reports:index")}"' not in client.get(reverse("home")).content.decode()


@pytest.mark.parametrize("username", ["sunli", "auditor"])
def test_finance_and_auditors_see_the_index_and_the_nav_entry(history, client, people, username):
    client.force_login(people[username].user)
    response = client.get(reverse("reports:index"))
    assert response.status_code == 200
    html = response.content.decode()
    for slug in catalogue.REPORTS:
        assert reverse("reports:report", args=[slug]) in html
    assert f'href="{reverse("reports:index")}"' in html


def test_the_nav_has_no_reports_entry_for_an_employee(history, client, people):
    client.force_login(people["zhangwei"].user)
    assert f'href="{reverse("reports:index")}"' not in client.get(reverse("home")).content.decode()


@pytest.mark.parametrize("slug", list(catalogue.REPORTS))
def test_each_report_page_runs_a_bounded_number_of_queries(
    history, client, finance, slug, django_assert_max_num_queries
):
    client.force_login(finance)
    client.get(reverse("reports:report", args=[slug]), range_params())  # warm the session and caches
    with django_assert_max_num_queries(12):
        response = client.get(reverse("reports:report", args=[slug]), range_params())
    assert response.status_code == 200
    assert b'data-testid="report-table"' in response.content


def test_report_page_shows_the_rows(history, client, finance):
    client.force_login(finance)
    html = client.get(reverse("reports:report", args=["voids-returns"]), range_params()).content.decode()
    assert "Claimed twice by mistake" in html and history["F"].number in html


def test_an_empty_range_says_there_is_nothing_to_report(history, client, finance):
    client.force_login(finance)
    response = client.get(
        reverse("reports:report", args=["spend"]), {"date_from": "2001-01-01", "date_to": "2001-01-31"}
    )
    assert response.status_code == 200
    assert b'data-testid="report-empty"' in response.content
    assert b"Nothing to report for this range" in response.content


def test_a_reversed_range_is_a_form_error_not_a_crash(history, client, finance):
    client.force_login(finance)
    response = client.get(
        reverse("reports:report", args=["spend"]), {"date_from": "2026-03-31", "date_to": "2026-03-01"}
    )
    assert response.status_code == 400
    assert b"The end date is before the start date" in response.content
    response = client.get(reverse("reports:report", args=["spend"]), {"date_from": "yesterday", "date_to": ""})
    assert response.status_code == 400
    assert b'data-testid="error-date_from"' in response.content


def test_an_unknown_report_is_404(history, client, finance):
    client.force_login(finance)
    assert client.get(reverse("reports:report", args=["no-such-report"])).status_code == 404
