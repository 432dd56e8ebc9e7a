"""Exports that run in the background, and the record of each month's compliance report.

An export job moves ``queued → running → done | failed``, and ``done → expired`` when the beat task
deletes its file after BAOXIAO_EXPORT_RETENTION_DAYS; every move is made by
``reports.services.export_job_transition``. Only its owner may see or download it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from reports.choices import ExportFormat, ExportStatus


class ExportJob(models.Model):
    """A file asked for by one user: a report or the claim lines of a range, in CSV, XLSX or PDF."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("export"), max_length=40)  # a report slug or "claim_lines"
    format = models.CharField(_("format"), max_length=4, choices=ExportFormat.choices)
    params = models.JSONField(default=dict, blank=True)  # date_from, date_to (ISO), department (id or None)
    status = models.CharField(_("status"), max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    # Relative to BAOXIAO_VAR_DIR/exports; generated, never taken from the request.
    file_path = models.CharField(max_length=300, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="export_job_owner_idx"),
            models.Index(fields=["status", "finished_at"], name="export_job_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}.{self.format} ({self.status})"

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 100 if self.status == ExportStatus.DONE else 0
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.EXPIRED)


class MonthlyComplianceReport(models.Model):
    """The compliance report of one month as mailed to finance: one row per month keeps it sent once."""

    month = models.DateField(_("month"), unique=True)  # the first day of the month reported on
    claimed_at = models.DateTimeField(null=True, blank=True)  # a run is sending it now
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("monthly compliance report")
        verbose_name_plural = _("monthly compliance reports")
        ordering = ["-month"]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"
