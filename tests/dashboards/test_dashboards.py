"""Finance dashboards: each figure on known data, the drill-down behind it, who may see what, and the
number of queries whatever the number of claims."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from reimbursement.auditor import auditor_grant
from reimbursement.dashboards import selectors
from reimbursement.dashboards.selectors import DashboardFilters
from tests.dashboards.conftest import backdate
from tests.finance.conftest import approved_claim

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

RANGE = {"date_from": "2026-09-01", "date_to": "2026-11-30", "currency": "CNY"}
FILTERS = DashboardFilters(datetime.date(2026, 9, 1), datetime.date(2026, 11, 30), "CNY")


def page(client, user, **params):
    client.force_login(user)
    return client.get(reverse("dashboards:index"), {**RANGE, **params})


def table_rows(html: str, chart_id: str) -> list[list[str]]:
    """The accessible table of one chart: each row's label and cells as text."""
    section = html[html.index(f'data-testid="chart-{chart_id}"') :]
    section = section[: section.index("</section>")]
    rows = []
    for row in re.findall(r'<tr data-testid="chart-row">(.*?)</tr>', section, re.S):
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows.append(cells)
    return rows


def test_spend_by_month_counts_approved_amounts_in_the_month_of_approval(known, people):
    rows = selectors.spend_by_month(selectors.dashboard_claims(people["sunli"].user), FILTERS)
    assert [(r["month"].isoformat(), r["amount"], r["count"]) for r in rows] == [
        ("2026-09-01", Decimal("100.00"), 1),
        ("2026-10-01", Decimal("230.00"), 2),
        ("2026-11-01", Decimal("0.00"), 0),
    ]


def test_spend_by_department_and_by_category(known, people):
    finance = people["sunli"].user
    departments = selectors.spend_by_department(selectors.dashboard_claims(finance), FILTERS)
    assert [(r["name"], r["amount"], r["count"]) for r in departments] == [
        (people["zhangwei"].department.name, Decimal("280.00"), 2),
        (people["heming"].department.name, Decimal("50.00"), 1),
    ]
    categories = selectors.spend_by_category(selectors.dashboard_claims(finance), FILTERS)
    assert [(r["code"], r["amount"], r["count"]) for r in categories] == [
        ("meals", Decimal("150.00"), 1),
        ("office", Decimal("100.00"), 1),
        ("telecom", Decimal("80.00"), 2),
    ]


def test_cycle_time_percentiles_per_month_include_rejections(known, people):
    rows = selectors.cycle_time_by_month(selectors.dashboard_claims(people["sunli"].user), FILTERS)
    assert [(r["month"].month, r["p50"], r["p90"], r["count"]) for r in rows] == [
        (9, 48.0, 48.0, 1),
        (10, 24.0, 33.6, 3),
        (11, None, None, 0),
    ]


def test_the_python_percentile_matches_postgresql():
    assert selectors.percentile([12, 24, 36], 0.9) == pytest.approx(33.6)
    assert selectors.percentile([5], 0.5) == 5
    assert selectors.percentile([], 0.5) is None


def test_backlog_counts_pending_tasks_per_approver(known, people):
    rows = selectors.backlog_by_approver(selectors.dashboard_claims(people["sunli"].user), FILTERS)
    assert [(r["name"], r["count"]) for r in rows] == [(people["liuyang"].name, 1)]


def test_the_page_shows_every_figure_in_its_table(client, known, people):
    response = page(client, people["sunli"].user)
    assert response.status_code == 200
    html = response.content.decode()
    assert table_rows(html, "spend-month") == [
        ["2026-09", "100.00", "1"],
        ["2026-10", "230.00", "2"],
        ["2026-11", "0.00", "0"],
    ]
    assert table_rows(html, "cycle-time")[1] == ["2026-10", "24.0", "33.6", "3"]
    assert table_rows(html, "backlog")[0][:2] == [people["liuyang"].name, "1"]
    assert 'id="dashboard-data"' in html and "vendor/chartjs/chart.umd.min.js" in html
    assert "<script>" not in html  # the CSP forbids inline script: data only in a JSON script element


def test_each_drill_down_lists_exactly_the_claims_behind_its_figure(client, known, people):
    html = page(client, people["sunli"].user).content.decode()

    def claims_behind(chart_id: str, label: str) -> set[str]:
        section = html[html.index(f'data-testid="chart-{chart_id}"') :]
        link = re.search(r'<a href="([^"]+)" data-testid="drill-link">' + re.escape(label) + "<", section).group(1)
        listing = client.get(link.replace("&amp;", "&"))
        assert listing.status_code == 200
        return set(re.findall(r"BX-\d{4}-\d+", listing.content.decode()))

    assert claims_behind("spend-month", "2026-10") == {known["october"].number, known["east"].number}
    assert claims_behind("spend-department", people["heming"].department.name) == {known["east"].number}
    assert claims_behind("spend-category", "Phone and internet") == {known["october"].number, known["east"].number}
    assert claims_behind("cycle-time", "2026-10") == {
        known["october"].number,
        known["east"].number,
        known["rejected"].number,
    }
    assert claims_behind("backlog", people["liuyang"].name) == {known["pending"].number}


def test_an_empty_range_says_so(client, known, people):
    response = page(client, people["sunli"].user, date_from="2020-01-01", date_to="2020-03-31", currency="USD")
    assert response.status_code == 200
    assert 'data-testid="dashboard-empty"' in response.content.decode()
    assert "No data in this range" in response.content.decode()


def test_bad_dates_are_a_400_with_a_message(client, people):
    response = page(client, people["sunli"].user, date_from="2026-10-01", date_to="2026-09-01")
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    response = page(client, people["sunli"].user, date_from="not a date")
    assert response.status_code == 400
    response = page(client, people["sunli"].user, currency="XXX")
    assert response.status_code == 400


def test_employees_get_404_and_no_menu_entry(client, people):
    client.force_login(people["zhangwei"].user)
    assert client.get(reverse("dashboards:index")).status_code == 404
    assert client.get(reverse("dashboards:claims")).status_code == 404
    assert reverse("dashboards:index") not in client.get(reverse("home")).content.decode()


def test_finance_and_auditor_see_the_menu_entry_an_administrator_does_not(client, people):
    for username in ("sunli", "auditor"):
        client.force_login(people[username].user)
        assert f'href="{reverse("dashboards:index")}"' in client.get(reverse("home")).content.decode()
    client.force_login(people["admin"].user)  # configures the system; no finance or auditor role
    assert f'href="{reverse("dashboards:index")}"' not in client.get(reverse("home")).content.decode()
    assert client.get(reverse("dashboards:index")).status_code == 404


def test_an_auditor_sees_only_the_granted_departments(client, known, people):
    auditor = people["auditor"].user
    auditor_grant(user=auditor, departments=[people["heming"].department.parent])
    html = page(client, auditor).content.decode()
    assert [row[0] for row in table_rows(html, "spend-department")] == [people["heming"].department.name]
    assert table_rows(html, "spend-month")[1] == ["2026-10", "50.00", "1"]
    assert 'data-testid="chart-empty"' in html  # the backlog: Li Na's pending claim is not in the grant
    # The drill-down list keeps to the grant, whatever the filters say.
    listing = client.get(reverse("dashboards:claims"), {"currency": "CNY"}).content.decode()
    assert set(re.findall(r"BX-\d{4}-\d+", listing)) == {known["east"].number}


def test_an_auditor_without_grants_sees_every_submitted_claim(client, known, people):
    html = page(client, people["auditor"].user).content.decode()
    assert table_rows(html, "spend-month")[1] == ["2026-10", "230.00", "2"]


def test_bad_drill_down_filters_are_a_400(client, people):
    client.force_login(people["sunli"].user)
    response = client.get(reverse("dashboards:claims"), {"decided_from": "yesterday"})
    assert response.status_code == 400
    assert 'data-testid="drill-errors"' in response.content.decode()


@pytest.mark.parametrize("extra", [0, 8])
def test_the_dashboard_runs_a_fixed_number_of_queries(client, known, people, django_assert_max_num_queries, extra):
    for i in range(extra):
        claim = approved_claim(people["wangfang"], amount=f"{10 + i}.00")
        backdate(claim, submitted=claim.submitted_at - datetime.timedelta(hours=i + 1), decided=claim.decided_at)
    client.force_login(people["sunli"].user)
    client.get(reverse("home"))
    # Session, user, roles, menu badges, currencies, then one query per chart: none per claim.
    with django_assert_max_num_queries(12):
        response = client.get(reverse("dashboards:index"), RANGE)
    assert response.status_code == 200


@pytest.mark.parametrize("extra", [0, 30])
def test_the_drill_down_list_runs_a_fixed_number_of_queries(
    client, known, people, django_assert_max_num_queries, extra
):
    for i in range(extra):
        approved_claim(people["wangfang"], amount=f"{10 + i}.00")
    client.force_login(people["sunli"].user)
    with django_assert_max_num_queries(12):
        response = client.get(
            reverse("dashboards:claims"),
            {"currency": "CNY", "department": people["wangfang"].department_id, "status": ["approved", "paid"]},
        )
    assert response.status_code == 200
