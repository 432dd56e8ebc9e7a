from django.db import models
from django.utils.translation import gettext_lazy as _


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    PDF = "pdf", "PDF"


FINISHED_EXPORT_STATUSES = frozenset({ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.EXPIRED})

# The kind of export of every claim line in a range; the others are report slugs (reports/catalogue.py).
CLAIM_LINES = "claim_lines"
