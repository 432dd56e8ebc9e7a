"""Writes of the reports app: export jobs (ask, run, finish, expire) and the monthly compliance mail.

Every state change of an ExportJob goes through ``export_job_transition`` (lock, check the table, save,
audit); the progress counter is not a state and is bumped with a plain UPDATE by the running task.
"""

from __future__ import annotations

import datetime
import io
import logging
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.errors import ApplicationError, ConflictError
from org.choices import Role
from reports import catalogue, writers
from reports.choices import CLAIM_LINES, ExportFormat, ExportStatus
from reports.models import ExportJob, MonthlyComplianceReport
from reports.selectors import ReportParams, may_read_reports

logger = logging.getLogger(__name__)

S = ExportStatus
# status -> the statuses it may move to
EXPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.RUNNING, S.FAILED}),
    # RUNNING -> RUNNING: a worker lost mid-export, the task redelivered (acks_late) starts again.
    S.RUNNING: frozenset({S.RUNNING, S.DONE, S.FAILED}),
    S.DONE: frozenset({S.EXPIRED}),
    S.FAILED: frozenset({S.EXPIRED}),
    S.EXPIRED: frozenset(),
}


def exports_root() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def export_file(job: ExportJob) -> Path:
    return exports_root() / job.file_path


def export_job_create(*, owner: Any, kind: str, fmt: str, params: ReportParams) -> ExportJob:
    """Ask for a file; the task that makes it is queued after commit. Refuses kinds and formats that do not
    exist and anyone without a reporting role (as a 404 would: the reports do not exist for them)."""
    if not may_read_reports(owner):
        raise ApplicationError(_("This page does not exist."), code="not_found")
    if kind != CLAIM_LINES and catalogue.report_for(kind) is None:
        raise ApplicationError(_("There is no such report."), fields={"kind": [_("Unknown report.")]})
    if fmt not in ExportFormat.values:
        raise ApplicationError(_("Choose CSV, XLSX or PDF."), fields={"format": [_("Unknown format.")]})
    from reports.tasks import export_run

    with transaction.atomic():
        job = ExportJob.objects.create(owner=owner, kind=kind, format=fmt, params=params.as_json())
        audit_record(
            action="export.requested", target=job, actor=owner, data={"kind": kind, "format": fmt, **job.params}
        )
        transaction.on_commit(lambda: export_run.delay(job.pk))
    return job


@transaction.atomic
def export_job_transition(*, job_id: int, to: str, **fields: Any) -> ExportJob:
    """Move a job to ``to`` under its row lock; the same move twice is a no-op, an invalid one a conflict."""
    job = ExportJob.objects.select_for_update().get(pk=job_id)
    if job.status == to and to != S.RUNNING:
        return job
    if to not in EXPORT_TRANSITIONS[job.status]:
        raise ConflictError(f"export {job.pk} is {job.status}; it cannot become {to}", code="invalid_transition")
    previous, job.status = job.status, to
    now = timezone.now()
    names = ["status"]
    if to == S.RUNNING:
        job.started_at, job.rows_done = now, 0
        names += ["started_at", "rows_done"]
    elif to in (S.DONE, S.FAILED):
        job.finished_at = now
        names.append("finished_at")
    for name, value in fields.items():
        setattr(job, name, value)
        names.append(name)
    job.save(update_fields=names)
    if to != S.RUNNING:
        audit_record(
            action=f"export.{to}",
            target=job,
            actor=None,
            data={"from": previous, "rows": job.rows_done, "error": job.error_message},
        )
    return job


def _progress(job_id: int):
    def report(rows: int) -> None:
        ExportJob.objects.filter(pk=job_id).update(rows_done=rows)

    return report


def export_run(*, job_id: int) -> ExportJob | None:
    """Make the file of a queued job, row by row, counting progress; then ``done`` or ``failed``."""
    job = ExportJob.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or job.is_finished:
        return job
    job = export_job_transition(job_id=job.pk, to=S.RUNNING)
    relative = f"{timezone.now():%Y/%m}/{job.uuid.hex}.{job.format}"
    path = exports_root() / relative
    try:
        params = ReportParams.from_json(job.params)
        claims = catalogue.scope(job.kind, job.owner, params)
        total = None
        if job.kind == CLAIM_LINES:
            total = catalogue.claim_lines(claims, params).count()
            if job.format == ExportFormat.PDF and total > settings.BAOXIAO_EXPORT_PDF_MAX_ROWS:
                raise ApplicationError(
                    _("%(n)d lines are too many for a PDF (at most %(max)d): choose CSV or XLSX.")
                    % {"n": total, "max": settings.BAOXIAO_EXPORT_PDF_MAX_ROWS}
                )
            ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
        path.parent.mkdir(parents=True, exist_ok=True)
        with translation.override(settings.LANGUAGE_CODE), path.open("wb") as out:
            writers.write(
                job.format,
                catalogue.export_columns(job.kind),
                catalogue.export_rows(job.kind, claims, params),
                out,
                title=str(catalogue.export_title(job.kind)),
                subtitle=f"{params.date_from} – {params.date_to}",
                progress=_progress(job.pk),
            )
    except Exception as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, ApplicationError):
            message = exc.message
        else:
            logger.exception("export %s failed", job.pk)
            message = _("The export failed unexpectedly; try again, or ask an administrator to look at the logs.")
        return export_job_transition(job_id=job.pk, to=S.FAILED, error_message=message[:500])
    job.refresh_from_db(fields=["rows_done"])
    return export_job_transition(
        job_id=job.pk,
        to=S.DONE,
        file_path=relative,
        file_size=path.stat().st_size,
        rows_total=job.rows_done,
    )


def exports_cleanup(*, now: datetime.datetime | None = None) -> int:
    """Delete the files of exports finished more than BAOXIAO_EXPORT_RETENTION_DAYS ago; the jobs stay,
    ``expired``. Safe to run twice (an expired job is skipped). Returns how many jobs expired."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.BAOXIAO_EXPORT_RETENTION_DAYS)
    expired = 0
    old = ExportJob.objects.filter(status__in=[S.DONE, S.FAILED], finished_at__lt=cutoff).values_list("pk", flat=True)
    for job_id in list(old):
        job = export_job_transition(job_id=job_id, to=S.EXPIRED)
        if job.file_path:
            export_file(job).unlink(missing_ok=True)
        expired += 1
    return expired


# --- The monthly compliance report ------------------------------------------------------------------------


def month_bounds(month: datetime.date) -> ReportParams:
    first = month.replace(day=1)
    last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    return ReportParams(date_from=first, date_to=last)


def previous_month(today: datetime.date | None = None) -> datetime.date:
    today = today or timezone.localdate()
    return (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def finance_recipients() -> list[str]:
    users = get_user_model().objects.filter(is_active=True, groups__name=Role.FINANCE).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def monthly_report_content(month: datetime.date) -> tuple[dict[str, Any], bytes]:
    """(summary, XLSX with one sheet per report) for the whole company over ``month``."""
    params = month_bounds(month)
    sheets, summary = [], {"rows": {}, "spend": {}}
    for slug, report in catalogue.REPORTS.items():
        rows = list(report.rows(catalogue.scope(slug, None, params), params))
        summary["rows"][slug] = len(rows)
        if slug == "spend":
            totals: Counter = Counter()
            for row in rows:
                totals[row[7]] += row[6] or Decimal("0")
            summary["spend"] = {currency: f"{amount:.2f}" for currency, amount in sorted(totals.items())}
        sheets.append((str(report.title), report.columns, rows))
    out = io.BytesIO()
    writers.write_xlsx_sheets(sheets, out)
    return summary, out.getvalue()


def _body(month: datetime.date, summary: dict[str, Any]) -> str:
    lines = [_("Compliance report for %(month)s") % {"month": f"{month:%Y-%m}"}, ""]
    for slug, report in catalogue.REPORTS.items():
        lines.append(f"- {report.title}: {summary['rows'][slug]}")
    if summary["spend"]:
        lines += ["", _("Spend (base currency, as approved):")]
        lines += [f"  {currency} {amount}" for currency, amount in summary["spend"].items()]
    lines += ["", _("Every row is in the attached workbook, one sheet per report.")]
    return "\n".join(lines)


def monthly_report_send(*, month: datetime.date, now: datetime.datetime | None = None) -> bool:
    """Mail ``month``'s compliance report to every finance user, once: a second run (beat firing twice, the
    command run by hand) finds the month sent, or being sent, and does nothing. Returns whether it sent."""
    month = month.replace(day=1)
    now = now or timezone.now()
    with transaction.atomic():
        MonthlyComplianceReport.objects.get_or_create(month=month)
        record = MonthlyComplianceReport.objects.select_for_update().get(month=month)
        if record.sent_at or (record.claimed_at and now - record.claimed_at < datetime.timedelta(hours=1)):
            return False
        record.claimed_at = now
        record.save(update_fields=["claimed_at"])
    # Outside the transaction: building the workbook and talking to the mail server take a while.
    try:
        with translation.override(settings.LANGUAGE_CODE):
            summary, workbook = monthly_report_content(month)
            subject = _("Baoxiao compliance report %(month)s") % {"month": f"{month:%Y-%m}"}
            body = _body(month, summary)
        recipients = finance_recipients()
        messages = []
        for address in recipients:
            message = EmailMessage(subject=subject, body=body, to=[address])
            message.attach(f"compliance-{month:%Y-%m}.xlsx", workbook, writers.CONTENT_TYPES["xlsx"])
            messages.append(message)
        get_connection().send_messages(messages)
    except Exception:
        MonthlyComplianceReport.objects.filter(pk=record.pk).update(claimed_at=None)
        raise
    with transaction.atomic():
        record.sent_at, record.recipients, record.summary = timezone.now(), recipients, summary
        record.save(update_fields=["sent_at", "recipients", "summary"])
        audit_record(
            action="compliance_report.sent", target=record, data={"recipients": len(recipients), **summary["rows"]}
        )
    return True
