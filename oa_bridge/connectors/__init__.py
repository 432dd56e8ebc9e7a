"""Connectors share one interface (base.BaseConnector); ``for_connector`` picks the class by kind."""

from __future__ import annotations

from oa_bridge.connectors.base import BaseConnector, DeliveryResult, HealthResult
from oa_bridge.models import Connector, ConnectorKind

_registry: dict[str, type[BaseConnector]] = {}


def register(kind: str):
    def decorate(cls: type[BaseConnector]) -> type[BaseConnector]:
        _registry[kind] = cls
        return cls

    return decorate


def for_connector(connector: Connector) -> BaseConnector:
    from oa_bridge.connectors import generic, sandbox  # noqa: F401 - registers the built-in kinds

    if connector.kind == ConnectorKind.SCIM:
        # Registers SCIM on first use only: scim2-client and its pydantic models take a second or two to
        # import and tens of MB, which no process without a SCIM connector should pay.
        from oa_bridge.connectors import scim  # noqa: F401

    try:
        return _registry[connector.kind](connector)
    except KeyError:
        raise LookupError(f"no connector implementation for kind {connector.kind!r}") from None


__all__ = ["BaseConnector", "DeliveryResult", "HealthResult", "for_connector", "register"]
