"""The API's one error shape, token sign-in with lockout, and the OpenAPI schema and docs."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import exceptions as django_exceptions
from django.core.management import call_command
from django.http import Http404
from rest_framework import exceptions
from rest_framework.test import APIClient

from config.api import exception_handler
from config.errors import ApplicationError, ConflictError, NotFoundError
from org.demo.company import DEMO_PASSWORD

TOKEN_URL = "/api/v1/auth/token/"


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def handled(exc: Exception):
    response = exception_handler(exc, {})
    assert response is not None
    return response.status_code, response.data["error"], response


# --- The exception handler on its own -------------------------------------------------------------


def test_application_errors_keep_their_status_code_and_fields():
    status, error, _ = handled(ApplicationError("Bad purpose", fields={"purpose": ["Say what for."]}))
    assert (status, error) == (
        400,
        {"code": "invalid", "message": "Bad purpose", "fields": {"purpose": ["Say what for."]}},
    )
    assert handled(ConflictError("Already submitted", code="not_editable"))[:2] == (
        409,
        {"code": "not_editable", "message": "Already submitted", "fields": {}},
    )
    assert handled(NotFoundError("No such claim"))[0] == 404


def test_nested_validation_errors_are_flattened_to_dotted_field_names():
    detail = {"purpose": ["Required."], "lines": [{}, {"amount": ["A valid number is required."]}]}
    status, error, _ = handled(exceptions.ValidationError(detail))
    assert status == 400
    assert error["code"] == "invalid"
    assert error["fields"] == {"purpose": ["Required."], "lines.1.amount": ["A valid number is required."]}


def test_a_validation_error_without_fields_uses_its_own_message():
    status, error, _ = handled(exceptions.ValidationError(["The dates overlap."]))
    assert (status, error["message"], error["fields"]) == (
        400,
        "The dates overlap.",
        {"non_field_errors": ["The dates overlap."]},
    )


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (exceptions.NotAuthenticated(), 401, "not_authenticated"),
        (exceptions.AuthenticationFailed(), 401, "authentication_failed"),
        (exceptions.PermissionDenied(), 403, "permission_denied"),
        (django_exceptions.PermissionDenied(), 403, "permission_denied"),
        (exceptions.NotFound(), 404, "not_found"),
        (Http404("No Claim matches the given query."), 404, "not_found"),
        (exceptions.MethodNotAllowed("PUT"), 405, "method_not_allowed"),
        (exceptions.NotAcceptable(), 406, "not_acceptable"),
        (exceptions.UnsupportedMediaType("text/plain"), 415, "unsupported_media_type"),
        (exceptions.ParseError(), 400, "parse_error"),
        (exceptions.Throttled(wait=30), 429, "throttled"),
        (django_exceptions.RequestDataTooBig(), 413, "too_large"),
        (django_exceptions.TooManyFieldsSent(), 400, "bad_request"),
        (django_exceptions.ValidationError("Enter a valid date."), 400, "invalid"),
    ],
)
def test_every_client_error_comes_in_the_one_shape(exc, status, code):
    got_status, error, _ = handled(exc)
    assert (got_status, error["code"]) == (status, code)
    assert error["message"]
    assert "Claim" not in error["message"]  # Django's 404 text names the model; ours does not


def test_throttled_answers_say_when_to_come_back():
    _, _, response = handled(exceptions.Throttled(wait=30))
    assert response["Retry-After"] == "30"


def test_unexpected_exceptions_are_left_to_become_a_500():
    assert exception_handler(RuntimeError("bug"), {}) is None


# --- Through real requests ------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_credentials_is_401_with_the_token_scheme():
    response = APIClient().get("/api/v1/claims/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.django_db
def test_an_unknown_token_is_401():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = api.get("/api/v1/claims/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.django_db
def test_messages_come_in_the_language_of_the_request():
    english = error_of(APIClient().get("/api/v1/claims/", HTTP_ACCEPT_LANGUAGE="en"))["message"]
    chinese = error_of(APIClient().get("/api/v1/claims/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"))["message"]
    assert english != chinese
    assert re.search(r"[\u4e00-\u9fff]", chinese), chinese


@pytest.fixture
def api(demo_company) -> APIClient:
    client = APIClient()
    client.force_authenticate(demo_company["zhangwei"].user)
    return client


def test_malformed_json_is_400_not_500(api):
    response = api.generic("POST", "/api/v1/claims/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_a_form_post_to_a_json_endpoint_is_415(api):
    response = api.post("/api/v1/claims/", {"purpose": "x"}, format="multipart")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_a_method_the_endpoint_lacks_is_405(api):
    response = api.put("/api/v1/claims/", {"purpose": "x"})
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_a_page_past_the_end_is_404(api):
    response = api.get("/api/v1/claims/?page=99")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_shapes_give_per_field_messages(api):
    response = api.post("/api/v1/claims/", {"purpose": "Trip", "lines": [{"amount": "abc"}]})
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert {"lines.0.amount", "lines.0.expense_date", "lines.0.category", "lines.0.currency"} <= set(fields)


# --- Token sign-in --------------------------------------------------------------------------------


def sign_in(username: str, password: str):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password})


def test_the_right_password_gets_a_token_that_works(demo_company):
    response = sign_in("zhangwei", DEMO_PASSWORD)
    assert response.status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/v1/claims/").status_code == 200
    assert sign_in("zhangwei", DEMO_PASSWORD).json()["token"] == response.json()["token"]


def test_a_wrong_password_is_400_and_counts_towards_the_lockout(demo_company):
    from axes.models import AccessAttempt

    response = sign_in("zhangwei", "wrong-password")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_credentials"
    assert "token" not in response.json()
    assert AccessAttempt.objects.get(username="zhangwei").failures_since_start == 1


def test_missing_credentials_are_400_per_field(demo_company):
    response = APIClient().post(TOKEN_URL, {})
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"username", "password"}


def test_repeated_failures_lock_the_account_even_for_the_right_password(demo_company):
    limit = settings.AXES_FAILURE_LIMIT
    answers = [sign_in("zhangwei", "wrong-password").status_code for _ in range(limit)]
    assert answers == [400] * (limit - 1) + [429]
    locked = sign_in("zhangwei", DEMO_PASSWORD)
    assert locked.status_code == 429
    error = error_of(locked)
    assert error["code"] == "locked_out"
    assert str(int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)) in error["message"]
    assert "token" not in locked.json()
    # The lockout is per account: a colleague still signs in.
    assert sign_in("lina", DEMO_PASSWORD).status_code == 200


def test_a_successful_sign_in_forgets_earlier_failures(demo_company):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        sign_in("zhangwei", "wrong-password")
    assert sign_in("zhangwei", DEMO_PASSWORD).status_code == 200
    assert [sign_in("zhangwei", "wrong-password").status_code for _ in range(limit - 1)] == [400] * (limit - 1)


def test_the_same_lockout_covers_the_sign_in_page(client, demo_company):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("zhangwei", "wrong-password")
    page = client.post("/accounts/login/", {"username": "zhangwei", "password": DEMO_PASSWORD})
    assert page.status_code == 429


# --- Schema and docs ------------------------------------------------------------------------------


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert text.startswith("openapi: 3.")
    for needle in ("/api/v1/claims/{claim_id}/submit/", "Idempotency-Key", "ErrorBody", "auth_token_create"):
        assert needle in text


@pytest.mark.django_db
def test_the_schema_is_served_without_sign_in(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/claims/" in schema["paths"]


@pytest.mark.django_db
def test_the_docs_page_loads_only_local_scripts_under_the_csp(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = response.content.decode()
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert len(sources) == html.count("<script"), "no inline script"
    assert "<style" not in html and " style=" not in html, "no inline style"
    assert any("swagger-ui-bundle.js" in src for src in sources)
    assert any("script=" in src for src in sources)
    for src in sources:
        assert src.startswith("/"), src  # this server, not a CDN
        script = client.get(src.replace("&amp;", "&"))
        assert script.status_code == 200, src
        assert "javascript" in script["Content-Type"], src
        body = b"".join(script.streaming_content) if script.streaming else script.content
        assert body
    init = client.get("/api/docs/?script=")
    assert "/api/schema/" in init.content.decode()
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)
    assert stylesheet.startswith("/static/") and client.get(stylesheet).status_code == 200
