"""The transactional outbox: one row per business event, written in the transaction of the change.

Delivery to the OA (connectors, attempts, retries) reads these rows after commit; see design §3.
"""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    HELD = "held", _("Needs attention")
    DEAD = "dead", _("Dead")


class OutboxEvent(models.Model):
    """A CloudEvents-shaped business event waiting for (or done with) delivery to the OA."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=100, db_index=True)  # com.baoxiao.claim.submitted
    subject = models.CharField(max_length=64, db_index=True)  # the claim id
    seq = models.PositiveIntegerField()  # per-claim order; receivers drop older snapshots
    data = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    available_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "available_at"], name="outbox_due_idx")]
        constraints = [models.UniqueConstraint(fields=["subject", "type", "seq"], name="outbox_one_event_per_seq")]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}#{self.seq}"
