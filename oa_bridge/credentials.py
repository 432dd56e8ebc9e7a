"""A connector's secrets, encrypted at rest (config.crypto) with the connector row as associated data."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from config import crypto
from oa_bridge.models import Connector


def _context(connector: Connector) -> str:
    return f"oa_bridge_connector:{connector.pk}:credentials"


def get_credentials(connector: Connector) -> dict[str, Any]:
    """The decrypted secrets: ``webhook_secrets`` (newest first), ``inbound_secrets``, ``api_token``..."""
    if not connector.credentials_encrypted:
        return {}
    return json.loads(crypto.decrypt(connector.credentials_encrypted, context=_context(connector)))


def set_credentials(connector: Connector, values: dict[str, Any]) -> None:
    """Encrypt and store the secrets (the connector must be saved already: its id is bound in)."""
    connector.credentials_encrypted = crypto.encrypt(json.dumps(values), context=_context(connector))
    connector.save(update_fields=["credentials_encrypted"])


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
