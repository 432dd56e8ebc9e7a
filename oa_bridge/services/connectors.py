"""Creating and configuring connectors from the admin pages."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import audit_record
from oa_bridge.credentials import get_credentials, set_credentials
from oa_bridge.models import Connector


@transaction.atomic
def connector_save_settings(
    *, connector: Connector, options: dict[str, Any], secrets: dict[str, Any], actor: Any
) -> Connector:
    """Save a connector's settings: model fields as given, ``options`` replaced, typed-in ``secrets``
    merged over the stored ones. The audit record names the fields changed, never a secret's value."""
    creating = connector.pk is None
    if not creating:
        Connector.objects.select_for_update().filter(pk=connector.pk).first()
    changed_options = sorted(key for key, value in options.items() if (connector.options or {}).get(key) != value)
    connector.options = options
    connector.save()
    if secrets:
        set_credentials(connector, get_credentials(connector) | secrets)
    audit_record(
        action="connector.created" if creating else "connector.settings_changed",
        target=connector,
        actor=actor,
        data={"kind": connector.kind, "options_changed": changed_options, "secrets_replaced": sorted(secrets)},
    )
    return connector
