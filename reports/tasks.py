"""Thin tasks: the export of one job, the monthly compliance mail, the clean-up of old export files."""

from __future__ import annotations

import datetime

from celery import shared_task

from reports import services


# Longer limits than the default: a year of claim lines takes minutes (still below the visibility timeout).
@shared_task(acks_late=True, soft_time_limit=1500, time_limit=1800)
def export_run(job_id: int) -> str | None:
    job = services.export_run(job_id=job_id)
    return job.status if job else None


@shared_task
def monthly_compliance_report(month: str | None = None) -> bool:
    """The previous month's report (beat, on the 1st), or ``month`` (YYYY-MM-DD) when given."""
    when = datetime.date.fromisoformat(month) if month else services.previous_month()
    return services.monthly_report_send(month=when)


@shared_task
def cleanup_exports() -> int:
    return services.exports_cleanup()
