"""Bugs the API fuzzer found, each pinned by a plain test."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.reimbursement.factories import make_claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(demo_company) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=demo_company['zhangwei'].user).key}")
    return client


def test_an_unknown_api_address_answers_404_in_the_error_shape(api):
    """A negative id matches no URL pattern; the answer was Django's HTML page, not the API's JSON."""
    response = api.get("/api/v1/approval-tasks/-2042/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_page_address_still_answers_the_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_claim_read_alone_carries_its_line_count(api, demo_company):
    """The schema makes line_count required; the detail (no list annotation) left it out."""
    claim = make_claim(demo_company["zhangwei"], lines=2)
    assert api.get(f"/api/v1/claims/{claim.pk}/").json()["line_count"] == 2
    assert api.post("/api/v1/claims/", {"purpose": "Taxi"}, format="json").json()["line_count"] == 0
