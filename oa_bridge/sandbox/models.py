"""The OA sandbox's own data: an org chart it serves and the events it received. It plays an outside
system, so it keeps its own tables and talks to Baoxiao only over HTTP, like a real OA."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class SandboxDepartment(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    parent_external_id = models.CharField(max_length=64, blank=True)
    head_external_id = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        app_label = "oa_bridge"
        ordering = ["external_id"]

    def __str__(self) -> str:
        return self.name


class SandboxUser(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=200, blank=True)
    employee_no = models.CharField(max_length=64, blank=True)
    department_external_id = models.CharField(max_length=64, blank=True)
    manager_external_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200, blank=True)
    level = models.PositiveSmallIntegerField(default=1)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        app_label = "oa_bridge"
        ordering = ["external_id"]

    def __str__(self) -> str:
        return self.name


class SandboxInboxEvent(models.Model):
    """An event Baoxiao sent to the sandbox, with the outcome of its signature check."""

    event_id = models.CharField(max_length=64, unique=True)
    deliveries = models.PositiveIntegerField(default=1)  # >1: the same webhook-id was redelivered
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    type = models.CharField(max_length=100)
    subject = models.CharField(max_length=64, blank=True)
    seq = models.PositiveIntegerField(null=True)
    claim_number = models.CharField(max_length=32, blank=True)
    signature_ok = models.BooleanField(default=False)
    signature_problem = models.CharField(max_length=200, blank=True)
    stale = models.BooleanField(default=False)  # an older snapshot than one already applied: dropped
    task_id = models.IntegerField(null=True, blank=True)
    assignee_name = models.CharField(max_length=200, blank=True)
    assignee_external_id = models.CharField(max_length=64, blank=True)
    decision = models.CharField(max_length=16, blank=True)
    decision_result = models.CharField(max_length=300, blank=True)
    body = models.JSONField(encoder=DjangoJSONEncoder, default=dict)

    class Meta:
        app_label = "oa_bridge"
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.claim_number}"


class SandboxClaimState(models.Model):
    """The latest snapshot of a claim the sandbox applied: newer ``seq`` only."""

    subject = models.CharField(max_length=64, unique=True)
    seq = models.PositiveIntegerField()
    number = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=20)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "oa_bridge"

    def __str__(self) -> str:
        return f"{self.number} {self.status} #{self.seq}"
