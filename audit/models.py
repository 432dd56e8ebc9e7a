"""The audit trail: one append-only, hash-chained row per business action.

Rows carry name snapshots so the log survives renames and deletions. This app imports no other app: the
services that act pass the target's type and id and whatever data describes the action. Each row is linked
to its predecessor by hash (audit/chain.py); on PostgreSQL triggers refuse UPDATE and DELETE on the table.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One action: who did what to which object, when, with what data. Never updated or deleted."""

    id = models.BigAutoField(primary_key=True)
    # Position in the chain: 1, 2, 3... without gaps; a missing number is a removed row.
    sequence = models.BigIntegerField(_("sequence"), unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)  # dotted: claim.submitted
    # PROTECT, not SET_NULL: clearing the actor would be an UPDATE of a sealed row (refused, and hashed).
    # A user who acted is deactivated, never deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(_("actor"), max_length=200, blank=True)  # snapshot; "system" for tasks
    on_behalf_of_name = models.CharField(max_length=200, blank=True)
    target_type = models.CharField(max_length=64)  # "reimbursement.claim"
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)  # snapshot: "BX-2026-000123"
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["id"]
        indexes = [models.Index(fields=["target_type", "target_id", "id"], name="audit_target_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_label or self.target_id} by {self.actor_name or 'system'}"
