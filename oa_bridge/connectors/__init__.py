"""Connectors share one interface (base.BaseConnector); ``for_connector`` picks the class by kind.

The generic and sandbox kinds are always loaded. Every other kind lives in ``oa_bridge.connectors.<kind>``
(a module or a package) and is imported on first use only: scim2-client's pydantic models and the vendor
SDK-shaped code take time and memory that no process without such a connector should pay.
"""

from __future__ import annotations

import importlib

from oa_bridge.connectors.base import BaseConnector, DeliveryResult, HealthResult
from oa_bridge.models import Connector

_registry: dict[str, type[BaseConnector]] = {}


def register(kind: str):
    def decorate(cls: type[BaseConnector]) -> type[BaseConnector]:
        _registry[kind] = cls
        return cls

    return decorate


def connector_class(kind: str) -> type[BaseConnector]:
    """The implementation of a kind; LookupError when this Baoxiao has none."""
    from oa_bridge.connectors import generic, sandbox  # noqa: F401 - registers the built-in kinds

    if kind not in _registry and kind.isidentifier():
        try:
            importlib.import_module(f"oa_bridge.connectors.{kind}")
        except ModuleNotFoundError as exc:
            if exc.name != f"oa_bridge.connectors.{kind}":
                raise
    try:
        return _registry[kind]
    except KeyError:
        raise LookupError(f"no connector implementation for kind {kind!r}") from None


def for_connector(connector: Connector) -> BaseConnector:
    return connector_class(connector.kind)(connector)


__all__ = ["BaseConnector", "DeliveryResult", "HealthResult", "connector_class", "for_connector", "register"]
