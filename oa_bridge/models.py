"""The bridge to the company's OA: connectors, the transactional outbox, inbound events, directory syncs.

Outbound: every business event becomes one OutboxEvent per outbound connector, written in the
transaction of the change; a Celery task delivers it after commit and a beat sweeper re-enqueues what is
due, so a lost broker message only delays an event. Inbound: each event the OA sends is recorded once
(unique on the sender's id) before it is applied.
"""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class ConnectorKind(models.TextChoices):
    SANDBOX = "sandbox", _("Built-in OA sandbox")
    GENERIC = "generic", _("Generic REST / webhooks")
    SCIM = "scim", _("SCIM 2.0 directory")
    FEISHU = "feishu", _("Feishu / Lark")
    DINGTALK = "dingtalk", _("DingTalk")
    WECOM = "wecom", _("WeCom")


class Connector(models.Model):
    """One OA system Baoxiao talks to: where events go, where the directory comes from, the secrets."""

    slug = models.SlugField(_("identifier"), max_length=64, unique=True, help_text=_("Part of the inbound URL."))
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=ConnectorKind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    paused = models.BooleanField(_("delivery paused"), default=False)
    deliver_events = models.BooleanField(_("send events"), default=True)
    events_url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    directory_url = models.URLField(_("directory base URL"), max_length=500, blank=True)
    directory_enabled = models.BooleanField(_("pull the directory"), default=False)
    sync_interval_minutes = models.PositiveIntegerField(_("sync every (minutes)"), default=60)
    deactivation_threshold_percent = models.PositiveSmallIntegerField(
        _("deactivation safety threshold %"),
        default=10,
        help_text=_("A sync that would deactivate more than this share of users stops and asks for confirmation."),
    )
    # Which JSON fields carry what, for the generic REST directory (every OA names them differently).
    field_mapping = models.JSONField(_("field mapping"), default=dict, blank=True)
    # What the vendor console gives that is not secret (app id, corp id, agent id, API base URL...): each
    # connector kind's settings form (BaseConnector.settings_form) says which keys it keeps here.
    options = models.JSONField(_("options"), default=dict, blank=True)
    # Secrets (webhook signing secrets, API tokens) encrypted with config.crypto; see oa_bridge.credentials.
    credentials_encrypted = models.TextField(blank=True, editable=False)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("connector")
        verbose_name_plural = _("connectors")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    HELD = "held", _("Needs attention")
    DEAD = "dead", _("Dead")


class OutboxEvent(models.Model):
    """A CloudEvents-shaped business event for one connector, waiting for or done with delivery."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connector = models.ForeignKey(Connector, null=True, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=100, db_index=True)  # com.baoxiao.claim.submitted
    subject = models.CharField(max_length=64, db_index=True)  # the claim id
    seq = models.PositiveIntegerField()  # per-claim order; receivers drop older snapshots
    data = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    available_at = models.DateTimeField(auto_now_add=True)  # next attempt not before; also an in-flight lease
    attempts = models.PositiveSmallIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["status", "available_at"], name="outbox_due_idx"),
            models.Index(fields=["connector", "status", "created_at"], name="outbox_connector_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["connector", "subject", "type", "seq"], name="outbox_one_event_per_seq")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}#{self.seq}"


class DeliveryAttempt(models.Model):
    """One HTTP attempt to deliver an event: what came back and how long it took."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=16)  # delivered / retry / held / dead

    class Meta:
        ordering = ["event", "number"]

    def __str__(self) -> str:
        return f"{self.event_id} attempt {self.number}: {self.outcome}"


class InboundEvent(models.Model):
    """An event received from an OA, recorded once per sender id before it is applied."""

    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="inbound_events")
    external_id = models.CharField(max_length=200)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16)  # applied / ignored / rejected / already_decided
    detail = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder, default=dict)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["connector", "external_id"], name="inbound_once_per_sender_id")]

    def __str__(self) -> str:
        return f"{self.type} {self.external_id} ({self.status})"


class SyncRun(models.Model):
    """One pull of the org chart from a connector, with what it changed."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        NEEDS_CONFIRMATION = "needs_confirmation", _("Needs confirmation")

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    incremental = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    departments_seen = models.PositiveIntegerField(default=0)
    users_seen = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    deactivated = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.connector_id} sync {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 2)


from oa_bridge.sandbox.models import (  # noqa: E402, F401 - the sandbox's tables belong to this app
    SandboxClaimState,
    SandboxDepartment,
    SandboxInboxEvent,
    SandboxUser,
)
