"""``Idempotency-Key`` on POSTs that create or decide (config.api.idempotent), on a small view of its own."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from config.api import idempotent
from config.errors import ApplicationError
from config.models import IdempotencyKey

factory = APIRequestFactory()


class CountingView(APIView):
    """Creates "thing number n": counts how often the handler really ran."""

    calls: list[dict] = []

    @idempotent
    def post(self, request, **kwargs):
        CountingView.calls.append(dict(request.data))
        if request.data.get("slow"):
            started.set()
            time.sleep(float(request.data["slow"]))
        if request.data.get("fail") == "invalid":
            raise ApplicationError("The colour is wrong.", fields={"colour": ["Pick another colour."]})
        if request.data.get("fail") == "bug":
            raise RuntimeError("a bug")
        number = len(CountingView.calls)
        return Response(
            {"number": number, "data": request.data}, status=201, headers={"Location": f"/things/{number}/"}
        )


started = threading.Event()
view = CountingView.as_view()


@pytest.fixture(autouse=True)
def _reset_calls():
    CountingView.calls = []
    started.clear()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("client", password="pw-for-tests-1")


def post(user, data, key: str | None = "key-1", path: str = "/things/"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    request = factory.post(path, data, format="json", **headers)
    force_authenticate(request, user)
    response = view(request)
    response.render()
    return response


def test_without_a_key_every_request_runs(user):
    first, second = post(user, {"a": 1}, key=None), post(user, {"a": 1}, key=None)
    assert (first.data["number"], second.data["number"]) == (1, 2)
    assert not second.has_header("Idempotent-Replayed")
    assert not IdempotencyKey.objects.exists()


def test_a_retry_with_the_same_key_and_body_gets_the_first_answer_again(user):
    first = post(user, {"name": "paper", "amount": "8.00"})
    again = post(user, {"amount": "8.00", "name": "paper"})  # same content, keys in another order
    assert len(CountingView.calls) == 1
    assert again.status_code == first.status_code == 201
    assert again.data == first.data
    assert again["Location"] == first["Location"] == "/things/1/"
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")


def test_the_same_key_with_another_body_is_422_and_runs_nothing(user):
    post(user, {"name": "paper"})
    response = post(user, {"name": "pens"})
    assert response.status_code == 422
    assert response.data["error"]["code"] == "idempotency_key_reused"
    assert "different request" in response.data["error"]["message"]
    assert len(CountingView.calls) == 1


def test_the_same_key_on_another_endpoint_is_422(user):
    post(user, {"name": "paper"}, path="/things/")
    response = post(user, {"name": "paper"}, path="/other-things/")
    assert response.status_code == 422
    assert len(CountingView.calls) == 1


def test_keys_belong_to_one_user(user):
    other = get_user_model().objects.create_user("other-client", password="pw-for-tests-1")
    post(user, {"name": "paper"})
    response = post(other, {"name": "paper"})
    assert response.status_code == 201 and not response.has_header("Idempotent-Replayed")
    assert len(CountingView.calls) == 2


def test_a_refusal_is_stored_and_replayed_too(user):
    first = post(user, {"fail": "invalid"})
    again = post(user, {"fail": "invalid"})
    assert first.status_code == again.status_code == 400
    assert (
        again.data
        == first.data
        == {
            "error": {
                "code": "invalid",
                "message": "The colour is wrong.",
                "fields": {"colour": ["Pick another colour."]},
            }
        }
    )
    assert again["Idempotent-Replayed"] == "true"
    assert len(CountingView.calls) == 1


def test_a_crash_is_not_stored_so_the_retry_runs(user):
    with pytest.raises(RuntimeError):
        post(user, {"fail": "bug"})
    assert not IdempotencyKey.objects.exists()
    with pytest.raises(RuntimeError):
        post(user, {"fail": "bug"})
    assert len(CountingView.calls) == 2


def test_keys_expire_after_24_hours(user):
    post(user, {"name": "paper"})
    IdempotencyKey.objects.update(created_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=25))
    response = post(user, {"name": "pens"})
    assert response.status_code == 201 and response.data["number"] == 2
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "tab\there", "ключ"])
def test_a_malformed_key_is_400(user, key):
    response = post(user, {"name": "paper"}, key=key)
    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid_idempotency_key"
    assert "Idempotency-Key" in response.data["error"]["fields"]
    assert not CountingView.calls


def test_what_is_stored_is_the_request_and_its_answer(user):
    post(user, {"name": "paper"})
    record = IdempotencyKey.objects.get()
    assert (record.user, record.key, record.method, record.path) == (user, "key-1", "POST", "/things/")
    assert len(record.request_hash) == 64
    assert record.response_status == 201
    assert record.response_body == {"number": 1, "data": {"name": "paper"}}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_once_and_the_second_gets_the_first_answer():
    user = get_user_model().objects.create_user("racer", password="pw-for-tests-1")
    answers: dict[str, object] = {}

    def send(name: str) -> None:
        try:
            answers[name] = post(user, {"name": "paper", "slow": "0.6"}, key="race")
        finally:
            connection.close()

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert started.wait(10), "the first request never reached the handler"
    # The first one is inside its transaction now, holding the key; the duplicate must wait for it.
    began = time.monotonic()
    second = threading.Thread(target=send, args=("second",))
    second.start()
    first.join(20)
    second.join(20)
    waited = time.monotonic() - began

    assert len(CountingView.calls) == 1
    assert answers["first"].status_code == answers["second"].status_code == 201
    assert answers["second"].data == answers["first"].data
    assert answers["second"]["Idempotent-Replayed"] == "true"
    assert waited > 0.3  # it waited for the first transaction instead of running alongside
    assert IdempotencyKey.objects.filter(key="race").count() == 1
