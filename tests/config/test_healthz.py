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


# --- the OA outbox in /healthz -------------------------------------------------------------------------------
def _connector(slug: str = "oa", **fields):
    from oa_bridge.models import Connector

    return Connector.objects.create(slug=slug, name=slug.upper(), kind="generic", **fields)


def _event(connector, *, age_s: float = 0, status: str = "pending", seq: int = 1):
    import datetime

    from django.utils import timezone

    from oa_bridge.models import OutboxEvent

    event = OutboxEvent.objects.create(
        connector=connector, type="com.baoxiao.claim.submitted", subject="1", seq=seq, data={}, status=status
    )
    created = timezone.now() - datetime.timedelta(seconds=age_s)
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=created)
    return event


def test_healthz_reports_the_outbox_backlog_and_oldest_age_per_connector(client, db, settings):
    settings.BAOXIAO_OUTBOX_ALERT_AGE_SECONDS = 900
    oa, other = _connector("oa"), _connector("erp")
    _event(oa, age_s=120, seq=1)
    _event(oa, age_s=30, seq=2, status="held")  # needs attention: still undelivered
    _event(oa, age_s=5000, seq=3, status="delivered")  # done: neither backlog nor age
    _event(oa, age_s=6000, seq=4, status="dead")  # given up: counted apart, not in the age
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    outbox = body["outbox"]
    assert outbox["backlog"] == 2 and outbox["dead"] == 1 and outbox["degraded"] is False
    assert 119 <= outbox["oldest_undelivered_age_s"] < 130 and outbox["alert_age_s"] == 900
    assert outbox["connectors"]["oa"]["backlog"] == 2 and 119 <= outbox["connectors"]["oa"]["oldest_age_s"] < 130
    assert outbox["connectors"]["erp"] == {"backlog": 0, "oldest_age_s": 0.0, "dead": 0, "paused": False}
    assert other.pk  # listed with zeros: a connector with nothing waiting is a fact worth showing


def test_healthz_is_degraded_but_200_when_the_oldest_undelivered_event_is_older_than_the_alert_age(
    client, db, settings
):
    settings.BAOXIAO_OUTBOX_ALERT_AGE_SECONDS = 600
    oa = _connector("oa", paused=True)
    _event(oa, age_s=601)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["failing"] == []
    assert body["outbox"]["degraded"] is True and body["outbox"]["connectors"]["oa"]["paused"] is True


def test_a_disabled_connector_does_not_make_healthz_degraded(client, db, settings):
    settings.BAOXIAO_OUTBOX_ALERT_AGE_SECONDS = 60
    _event(_connector("old", enabled=False), age_s=3600)
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["outbox"]["backlog"] == 0 and "old" not in body["outbox"]["connectors"]


def test_healthz_stays_503_without_outbox_figures_when_the_database_is_down(client, db, monkeypatch, settings):
    from config import health

    monkeypatch.setattr(health, "check_database", lambda: {"ok": False, "error": "connection refused"})
    settings.BAOXIAO_OUTBOX_ALERT_AGE_SECONDS = 1
    _event(_connector(), age_s=3600)
    with override_settings(REDIS_URL=""):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down" and "outbox" not in response.json()


def test_healthz_runs_a_fixed_number_of_queries_however_many_connectors_and_events(
    client, db, django_assert_max_num_queries
):
    for n in range(5):
        connector = _connector(f"oa{n}")
        for seq in range(1, 21):
            _event(connector, age_s=seq, seq=seq, status="pending" if seq % 3 else "held")
    with override_settings(REDIS_URL=""), django_assert_max_num_queries(3):  # SELECT 1, connectors, events
        body = client.get("/healthz").json()
    assert body["outbox"]["backlog"] == 100
