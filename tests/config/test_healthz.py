import pytest
from django.test import override_settings


def test_healthz_reports_the_database_up_without_sign_in(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.redis
def test_healthz_checks_cache_and_broker_when_redis_is_configured(client, db):
    body = client.get("/healthz").json()
    assert body["checks"]["cache"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


@pytest.mark.redis
def test_healthz_is_503_and_names_the_broker_when_it_is_down(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert response.json()["checks"]["broker"]["ok"] is False


def test_healthz_is_503_when_the_database_fails(client, db, monkeypatch):
    from config import health

    def broken():
        return {"ok": False, "error": "connection refused"}

    monkeypatch.setattr(health, "check_database", broken)
    with override_settings(REDIS_URL=""):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


@pytest.mark.redis
def test_healthz_reports_the_age_of_the_worker_heartbeat(client, db):
    from config.tasks import heartbeat

    assert client.get("/healthz").json()["worker_heartbeat_age_s"] is None
    heartbeat.apply()
    age = client.get("/healthz").json()["worker_heartbeat_age_s"]
    assert age is not None and 0 <= age < 5
