"""The built-in OA sandbox speaks the generic contract; its URLs default to this instance's own."""

from __future__ import annotations

from django.conf import settings

from oa_bridge.connectors import register
from oa_bridge.connectors.generic import GenericConnector
from oa_bridge.models import ConnectorKind


@register(ConnectorKind.SANDBOX)
class SandboxConnector(GenericConnector):
    @property
    def events_url(self) -> str:
        return self.connector.events_url or f"{settings.BAOXIAO_BASE_URL}/oa-sandbox/webhook/"

    @property
    def directory_url(self) -> str:
        return (self.connector.directory_url or f"{settings.BAOXIAO_BASE_URL}/oa-sandbox/api").rstrip("/")
