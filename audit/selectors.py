"""Reading the audit trail."""

from __future__ import annotations

from django.db import models
from django.db.models import QuerySet

from audit.models import AuditEvent


def audit_events_for(target: models.Model) -> QuerySet[AuditEvent]:
    """Every audit event of one object, oldest first."""
    return AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk)).order_by("id")
