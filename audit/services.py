"""Writing the audit trail. Call inside the transaction of the change being recorded."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from audit.models import AuditEvent


def audit_record(
    *,
    action: str,
    target: models.Model,
    actor: Any | None = None,
    actor_name: str = "",
    on_behalf_of_name: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event for ``target``; ``actor`` None means the system (a task, the OA)."""
    if actor is not None and not actor_name:
        employee = getattr(actor, "employee", None)
        actor_name = getattr(employee, "name", "") or actor.get_username()
    return AuditEvent.objects.create(
        occurred_at=timezone.now(),
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor_name or "system",
        on_behalf_of_name=on_behalf_of_name,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        data=data or {},
    )
