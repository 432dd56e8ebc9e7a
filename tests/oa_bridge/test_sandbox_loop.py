"""The whole loop on the embedded default: Baoxiao → signed events → the OA sandbox → a decision back."""

import pytest

from approvals.models import ApprovalTask
from oa_bridge.models import OutboxEvent, OutboxStatus, SandboxInboxEvent
from reimbursement.choices import ClaimStatus
from reimbursement.models import Claim
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_sandbox(live_server, settings, demo_company):
    settings.BAOXIAO_BASE_URL = live_server.url
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = True
    return live_server


def test_a_claims_journey_arrives_in_the_sandbox_and_an_approval_there_moves_the_claim(
    live_sandbox, demo_company, client
):
    claim = submit(make_claim(demo_company["zhangwei"]))
    events = list(SandboxInboxEvent.objects.order_by("seq"))
    assert [e.type.removeprefix("com.baoxiao.") for e in events] == [
        "claim.submitted",
        "claim.routed",
        "approval.task.created",
    ]
    assert all(e.signature_ok for e in events)
    assert not OutboxEvent.objects.exclude(status=OutboxStatus.DELIVERED).exists()
    task_event = events[-1]
    assert task_event.task_id and task_event.assignee_external_id == "u-liuyang"

    client.force_login(demo_company["admin"].user)
    page = client.get("/oa-sandbox/")
    assert page.status_code == 200 and claim.number in page.content.decode()
    response = client.post(f"/oa-sandbox/events/{task_event.pk}/decide/", {"decision": "approve"}, follow=True)
    assert "200" in response.content.decode()
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED
    task = ApprovalTask.objects.get(pk=task_event.task_id)
    assert task.channel == "oa" and task.decided_by == demo_company["liuyang"].user
    # The approval travels back to the sandbox as new events.
    assert SandboxInboxEvent.objects.filter(type="com.baoxiao.claim.approved").exists()


def test_the_sandbox_is_for_admins_only(live_sandbox, demo_company, client):
    client.force_login(demo_company["zhangwei"].user)
    assert client.get("/oa-sandbox/").status_code == 404
    assert client.get("/oa-sandbox/directory/").status_code == 404


def test_the_sandbox_directory_api_needs_its_token_and_pages(live_sandbox, demo_company, client):
    from oa_bridge.credentials import get_credentials
    from oa_bridge.models import Connector

    assert client.get("/oa-sandbox/api/users/").status_code == 401
    token = get_credentials(Connector.objects.get(slug="sandbox"))["api_token"]
    auth = {"Authorization": f"Bearer {token}"}
    first = client.get("/oa-sandbox/api/users/?page_size=10", headers=auth).json()
    assert first["count"] == 32 and len(first["results"]) == 10 and first["next"]
    ids = [u["id"] for u in first["results"]]
    page = first
    while page["next"]:
        page = client.get(f"/oa-sandbox/api/users/{page['next']}", headers=auth).json()
        ids += [u["id"] for u in page["results"]]
    assert len(ids) == len(set(ids)) == 32
