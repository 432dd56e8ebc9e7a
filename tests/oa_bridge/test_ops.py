"""The OA bridge's operations screen: figures per connector, pause/resume, connection test, the event
list with its filters, an event's attempts and body, replay. Administrators only; bounded queries."""

import datetime
import json

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from oa_bridge.connectors.base import http_session
from oa_bridge.models import Connector, DeliveryAttempt, OutboxEvent, OutboxStatus
from oa_bridge.services.outbox import outbox_deliver
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db

OPS = "/oa/admin/ops/"
# What every signed-in page costs before its own queries: session, user, roles, the navigation's three badges
# (tasks waiting, unread notifications and the employee they are counted for).
SHARED_QUERIES = 6


@pytest.fixture
def admin_client(client, demo_company):
    client.force_login(demo_company["admin"].user)
    return client


def journey(people, who="zhangwei"):
    """A submitted claim: three events (submitted, routed, task created) waiting for the sandbox."""
    claim = submit(make_claim(people[who]))
    return claim, list(OutboxEvent.objects.filter(subject=str(claim.pk)).order_by("seq"))


def test_only_administrators_see_the_operations_screen(client, demo_company):
    assert client.get(OPS).status_code == 302  # to the sign-in page
    client.force_login(demo_company["zhangwei"].user)
    for url in (OPS, f"{OPS}events/", f"{OPS}replay/"):
        assert client.get(url).status_code == 404
    connector = Connector.objects.get(slug="sandbox")
    assert client.post(f"{OPS}connectors/{connector.pk}/pause/", {"paused": "1"}).status_code == 404
    assert not Connector.objects.get(pk=connector.pk).paused
    client.force_login(demo_company["caihong"].user)  # finance is not enough
    assert client.get(OPS).status_code == 404


def test_the_navigation_offers_the_bridge_and_the_sandbox_to_administrators_only(client, demo_company):
    client.force_login(demo_company["admin"].user)
    page = client.get("/").content.decode()
    assert 'href="/oa/admin/ops/"' in page and 'href="/oa-sandbox/"' in page
    client.force_login(demo_company["zhangwei"].user)
    page = client.get("/").content.decode()
    assert "/oa/admin/ops/" not in page and "/oa-sandbox/" not in page


def test_the_overview_shows_backlog_oldest_age_dead_and_failure_rate_per_connector(
    admin_client, demo_company, to_receiver, receiver
):
    _, events = journey(demo_company)
    receiver.script.extend([(500, {}), (410, {})])
    outbox_deliver(event_id=str(events[0].id))  # 500: retry
    outbox_deliver(event_id=str(events[1].id))  # 410: dead
    OutboxEvent.objects.filter(pk=events[2].pk).update(created_at=timezone.now() - datetime.timedelta(minutes=7))
    page = admin_client.get(OPS)
    assert page.status_code == 200
    row = page.context["rows"][0]
    assert row["connector"].slug == "sandbox"
    assert row["figures"]["backlog"] == 2 and row["figures"]["dead"] == 1
    assert row["failure_percent"] == 100 and row["events_url"] == receiver.url
    html = page.content.decode()
    assert "7\xa0minutes ago" in html and receiver.url in html
    assert 'data-testid="ops-degraded"' not in html


def test_the_overview_warns_when_an_event_waits_longer_than_the_alert_age(admin_client, demo_company, settings):
    settings.BAOXIAO_OUTBOX_ALERT_AGE_SECONDS = 60
    _, events = journey(demo_company)
    OutboxEvent.objects.filter(pk=events[0].pk).update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    assert 'data-testid="ops-degraded"' in admin_client.get(OPS).content.decode()


def test_the_overview_runs_a_fixed_number_of_queries(admin_client, demo_company, django_assert_max_num_queries):
    for n in range(4):
        Connector.objects.create(slug=f"oa{n}", name=f"OA {n}", kind="generic", events_url="http://127.0.0.1:1/")
    for who in ("zhangwei", "lina", "wuhao"):
        journey(demo_company, who)
    admin_client.get(OPS)
    # The connectors, then backlog_figures' three (connectors, events by status, the last hour's attempts).
    with django_assert_max_num_queries(SHARED_QUERIES + 4):
        page = admin_client.get(OPS)
    assert len(page.context["rows"]) == 5


def test_pause_and_resume_through_htmx_swap_the_row_and_are_audited(admin_client, demo_company):
    connector = Connector.objects.get(slug="sandbox")
    url = f"{OPS}connectors/{connector.pk}/pause/"
    response = admin_client.post(url, {"paused": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<tr") and 'data-testid="ops-resume"' in html and "<html" not in html
    assert Connector.objects.get(pk=connector.pk).paused
    response = admin_client.post(url, {"paused": "0"})  # without HTMX: back to the overview
    assert response.status_code == 302 and response["Location"] == OPS
    assert not Connector.objects.get(pk=connector.pk).paused
    assert list(
        AuditEvent.objects.filter(action__startswith="connector.").order_by("pk").values_list("action", flat=True)
    ) == ["connector.paused", "connector.resumed"]


def test_the_connection_test_says_in_plain_words_that_the_oa_is_unreachable(admin_client, demo_company):
    connector = Connector.objects.get(slug="sandbox")
    connector.directory_url = "http://127.0.0.1:1/api"
    connector.save(update_fields=["directory_url"])
    response = admin_client.post(f"{OPS}connectors/{connector.pk}/test/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "Unreachable" in html and "text-danger" in html


@pytest.mark.django_db(transaction=True)
def test_the_connection_test_reports_a_working_oa(client, demo_company, live_server, settings):
    settings.BAOXIAO_BASE_URL = live_server.url  # the sandbox's directory API answers with its token
    client.force_login(demo_company["admin"].user)
    connector = Connector.objects.get(slug="sandbox")
    response = client.post(f"{OPS}connectors/{connector.pk}/test/", headers={"HX-Request": "true"})
    http_session().close()  # no keep-alive connection left to the live server when it stops
    assert "The connection works." in response.content.decode()


def test_the_event_list_filters_by_status_type_claim_connector_and_age(admin_client, demo_company):
    claim, events = journey(demo_company)
    other, _ = journey(demo_company, "lina")
    OutboxEvent.objects.filter(pk=events[0].pk).update(
        status=OutboxStatus.DEAD, created_at=timezone.now() - datetime.timedelta(hours=2)
    )

    def listed(**query):
        page = admin_client.get(f"{OPS}events/", query)
        assert page.status_code == 200
        return {str(e.pk) for e in page.context["page"]}

    assert len(listed()) == 6
    assert listed(status="dead") == {str(events[0].pk)}
    assert listed(type="approval.task.created") == listed(type="com.baoxiao.approval.task.created")
    assert len(listed(type="approval.task.created")) == 2
    assert listed(claim=claim.number) == {str(e.pk) for e in events}
    assert listed(claim=str(claim.pk)) == {str(e.pk) for e in events}
    assert listed(claim=other.number.lower()) == listed(claim=str(other.pk))
    assert listed(claim="BX-1999-000000") == set()
    assert listed(age="gt1h") == {str(events[0].pk)}
    assert str(events[0].pk) not in listed(age="lt1h") and len(listed(age="lt1h")) == 5
    assert len(listed(connector=Connector.objects.get(slug="sandbox").pk)) == 6
    page = admin_client.get(f"{OPS}events/", {"claim": claim.number}).content.decode()
    assert claim.number in page and "claim.submitted" in page


def test_the_event_list_answers_htmx_with_the_results_only(admin_client, demo_company):
    journey(demo_company)
    response = admin_client.get(f"{OPS}events/", {"status": "pending"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'data-testid="ops-events"' in html and "<html" not in html and "ops-event-filters" not in html


def test_the_event_list_runs_a_fixed_number_of_queries(admin_client, demo_company, django_assert_max_num_queries):
    claims = [journey(demo_company, who)[0] for who in ("zhangwei", "lina", "wuhao", "heming")]
    admin_client.get(f"{OPS}events/")
    # Session, user, roles and the navigation's badges (4), then count, rows, connectors and event types.
    with django_assert_max_num_queries(SHARED_QUERIES + 4):
        page = admin_client.get(f"{OPS}events/", {"claim": claims[1].number, "status": "pending", "age": "lt1h"})
    assert len(page.context["page"]) == 3
    with django_assert_max_num_queries(SHARED_QUERIES + 4):
        page = admin_client.get(f"{OPS}events/")
    assert len(page.context["page"]) == 12


def test_an_event_shows_its_attempts_and_the_exact_cloudevent(
    admin_client, demo_company, to_receiver, receiver, django_assert_max_num_queries
):
    _, events = journey(demo_company)
    event = events[0]
    receiver.script.append((503, {}))
    outbox_deliver(event_id=str(event.id))
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())
    outbox_deliver(event_id=str(event.id))
    admin_client.get(f"{OPS}events/{event.pk}/")
    with django_assert_max_num_queries(SHARED_QUERIES + 2):  # the event with its connector, its attempts
        page = admin_client.get(f"{OPS}events/{event.pk}/")
    html = page.content.decode()
    assert [a.status_code for a, _ in page.context["attempts"]] == [503, 200]
    assert "will retry" in html and "delivered" in html
    assert "HTTP 503" in html and "HTTP 200" in html and " ms" in html
    body = json.loads(page.context["body"])
    assert body["id"] == str(event.pk) and body["specversion"] == "1.0" and body["data"]["seq"] == event.seq
    assert "application/cloudevents+json" in html
    assert 'data-testid="ops-replay"' not in html  # delivered: nothing to replay


def test_a_dead_event_is_replayed_from_its_page(admin_client, demo_company, to_receiver, receiver):
    _, events = journey(demo_company)
    receiver.script.append((410, {}))
    outbox_deliver(event_id=str(events[0].id))
    assert OutboxEvent.objects.get(pk=events[0].pk).status == OutboxStatus.DEAD
    page = admin_client.get(f"{OPS}events/{events[0].pk}/").content.decode()
    assert 'data-testid="ops-replay"' in page and "HTTP 410" in page
    response = admin_client.post(f"{OPS}events/{events[0].pk}/replay/", follow=True)
    assert "queued for delivery again" in response.content.decode()
    event = OutboxEvent.objects.get(pk=events[0].pk)
    assert event.status == OutboxStatus.PENDING and event.attempts == 0
    assert AuditEvent.objects.filter(action="outbox.replayed").count() == 1
    response = admin_client.post(f"{OPS}events/{events[0].pk}/replay/", follow=True)  # pending: nothing to do
    assert "Only events that need attention or are dead" in response.content.decode()


def test_all_events_that_failed_since_a_time_are_replayed_in_bulk(admin_client, demo_company, to_receiver, receiver):
    _, events = journey(demo_company)
    receiver.script.extend([(400, {}), (410, {}), (422, {})])
    for event in events:
        outbox_deliver(event_id=str(event.id))
    # The first failed long before the outage we replay for: it stays where it is.
    DeliveryAttempt.objects.filter(event=events[0]).update(started_at=timezone.now() - datetime.timedelta(days=2))
    since = timezone.localtime() - datetime.timedelta(hours=1)
    response = admin_client.post(f"{OPS}replay/", {"since": since.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    assert "2 failed events are queued for delivery again." in response.content.decode()
    statuses = dict(OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("pk", "status"))
    assert [statuses[e.pk] for e in events] == [OutboxStatus.HELD, OutboxStatus.PENDING, OutboxStatus.PENDING]
    response = admin_client.post(f"{OPS}replay/", {"since": "yesterday"}, follow=True)
    assert "Give the time" in response.content.decode()


def test_bulk_replay_can_be_limited_to_one_connector(admin_client, demo_company, to_receiver, receiver):
    _, events = journey(demo_company)
    receiver.script.append((410, {}))
    outbox_deliver(event_id=str(events[0].id))
    other = Connector.objects.create(slug="erp", name="ERP", kind="generic", events_url=receiver.url)
    since = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    admin_client.post(f"{OPS}replay/", {"since": since, "connector": other.pk})
    assert OutboxEvent.objects.get(pk=events[0].pk).status == OutboxStatus.DEAD
    admin_client.post(f"{OPS}replay/", {"since": since, "connector": to_receiver.pk})
    assert OutboxEvent.objects.get(pk=events[0].pk).status == OutboxStatus.PENDING
