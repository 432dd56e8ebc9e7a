"""The settings page every vendor connector gets from its ``settings_form``: add, change (secrets kept
encrypted and never shown back), audit, and the inbound view's vendor hooks (GET checks, replies)."""

import json

import pytest
from django import forms

from audit.models import AuditEvent
from oa_bridge import connectors
from oa_bridge.connectors.base import BaseConnector, InboundHandshake, InboundReply, InboundRequest
from oa_bridge.credentials import get_credentials
from oa_bridge.forms import ConnectorSettingsForm
from oa_bridge.models import Connector

pytestmark = pytest.mark.django_db


class VendorForm(ConnectorSettingsForm):
    option_fields = ("corp_id",)
    secret_fields = ("app_secret",)
    corp_id = forms.CharField(label="Corp ID", max_length=64)
    app_secret = forms.CharField(label="App secret", max_length=128)


class VendorConnector(BaseConnector):
    settings_form = VendorForm
    inbound_methods = ("GET", "POST")

    def receive(self, request: InboundRequest):
        if request.method == "GET":
            raise InboundHandshake(InboundReply(200, request.query.get("echostr", ""), "text/plain"))
        return super().receive(request)


@pytest.fixture
def vendor_kind(monkeypatch):
    # Stands in for a vendor kind whatever the real implementation of "wecom" is.
    monkeypatch.setitem(connectors._registry, "wecom", VendorConnector)
    return "wecom"


@pytest.fixture
def admin_client(client, demo_company):
    client.force_login(demo_company["admin"].user)
    return client


def test_an_admin_adds_a_vendor_connector_and_the_secret_is_stored_encrypted(admin_client, vendor_kind):
    page = admin_client.get("/oa/admin/ops/")
    assert b"/oa/admin/ops/connectors/new/wecom/" in page.content

    response = admin_client.post(
        "/oa/admin/ops/connectors/new/wecom/",
        {
            "name": "Our WeCom",
            "slug": "wecom",
            "enabled": "on",
            "deliver_events": "on",
            "sync_interval_minutes": "60",
            "deactivation_threshold_percent": "10",
            "corp_id": "ww123",
            "app_secret": "s3cret-value",
        },
    )
    connector = Connector.objects.get(slug="wecom")
    assert response.status_code == 302 and response.url == f"/oa/admin/ops/connectors/{connector.pk}/settings/"
    assert connector.kind == "wecom" and connector.options == {"corp_id": "ww123"}
    assert get_credentials(connector) == {"app_secret": "s3cret-value"}
    assert "s3cret-value" not in connector.credentials_encrypted
    event = AuditEvent.objects.get(action="connector.created", target_id=str(connector.pk))
    assert event.data["secrets_replaced"] == ["app_secret"] and "s3cret-value" not in json.dumps(event.data)

    page = admin_client.get(f"/oa/admin/ops/connectors/{connector.pk}/settings/")
    assert page.status_code == 200
    assert b"s3cret-value" not in page.content  # never shown back
    assert b"/oa/wecom/events/" in page.content  # the callback URL to register


def test_a_blank_secret_keeps_the_stored_one_and_a_missing_one_is_named(admin_client, vendor_kind):
    base = {"name": "W", "slug": "w", "sync_interval_minutes": "60", "deactivation_threshold_percent": "10"}
    refused = admin_client.post("/oa/admin/ops/connectors/new/wecom/", base | {"corp_id": "ww1"})
    assert refused.status_code == 400
    assert "copy it from the vendor" in refused.content.decode()
    assert not Connector.objects.filter(slug="w").exists()

    admin_client.post("/oa/admin/ops/connectors/new/wecom/", base | {"corp_id": "ww1", "app_secret": "first"})
    connector = Connector.objects.get(slug="w")
    admin_client.post(f"/oa/admin/ops/connectors/{connector.pk}/settings/", base | {"corp_id": "ww2"})
    connector.refresh_from_db()
    assert connector.options == {"corp_id": "ww2"} and get_credentials(connector) == {"app_secret": "first"}
    assert AuditEvent.objects.filter(action="connector.settings_changed", target_id=str(connector.pk)).count() == 1


def test_kinds_without_a_settings_page_and_other_people_get_404(client, admin_client, demo_company, vendor_kind):
    assert admin_client.get("/oa/admin/ops/connectors/new/generic/").status_code == 404
    assert admin_client.get("/oa/admin/ops/connectors/new/nosuchkind/").status_code == 404
    client.force_login(demo_company["zhangwei"].user)
    assert client.get("/oa/admin/ops/connectors/new/wecom/").status_code == 404


def test_the_inbound_view_lets_the_connector_answer_a_url_check(client, demo_company, vendor_kind):
    Connector.objects.create(slug="wc", name="WC", kind="wecom")
    response = client.get("/oa/wc/events/", {"echostr": "plain-echo"})
    assert response.status_code == 200 and response.content == b"plain-echo"
    # The generic kind still accepts POST only.
    assert client.get("/oa/sandbox/events/").status_code == 405
