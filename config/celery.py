"""The one Celery app. Its settings are the CELERY_* names in config/settings.py; the beat schedule is here."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab  # noqa: F401  (used by entries added to BEAT_SCHEDULE)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("baoxiao")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic job, in one place. Each task must be safe to run twice (style.md §6).
BEAT_SCHEDULE: dict[str, dict] = {
    "healthz-heartbeat": {"task": "config.tasks.heartbeat", "schedule": 60.0},
    "approvals-sla": {"task": "approvals.tasks.remind_and_escalate", "schedule": 300.0},
    "outbox-sweep": {"task": "oa_bridge.tasks.sweep_outbox", "schedule": 15.0},
    "directory-sync": {"task": "oa_bridge.tasks.sync_due_directories", "schedule": 60.0},
    "reports-monthly-compliance": {
        "task": "reports.tasks.monthly_compliance_report",
        "schedule": crontab(minute=0, hour=7, day_of_month=1),  # the previous month, on the 1st
    },
    "reports-export-cleanup": {"task": "reports.tasks.cleanup_exports", "schedule": crontab(minute=30, hour=3)},
}
app.conf.beat_schedule = BEAT_SCHEDULE
