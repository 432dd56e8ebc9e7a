"""The monthly compliance mail: to every finance user, once per month, from beat or by hand."""

from __future__ import annotations

import datetime
import io

import openpyxl
import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from config.celery import BEAT_SCHEDULE
from reports import services, tasks
from reports.models import MonthlyComplianceReport

pytestmark = pytest.mark.postgres


def this_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


def test_the_report_goes_to_every_finance_user_once(history):
    assert services.monthly_report_send(month=this_month()) is True
    assert services.monthly_report_send(month=this_month()) is False  # a second run sends nothing

    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted(f"{u}@demo.baoxiao.local" for u in ("sunli", "caihong", "dengyi"))
    message = mail.outbox[0]
    assert f"{this_month():%Y-%m}" in message.subject
    assert "- Separation of duties: 1" in message.body
    assert "- Duplicate invoices refused: 1" in message.body
    name, content, mimetype = message.attachments[0]
    assert name == f"compliance-{this_month():%Y-%m}.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    assert len(workbook.worksheets) == 8
    rows = list(workbook["Voids and returns"].iter_rows(values_only=True))
    assert [r[5] for r in rows[1:]] == ["Add the taxi receipt", "Claimed twice by mistake"]
    record = MonthlyComplianceReport.objects.get()
    assert record.sent_at and len(record.recipients) == 3
    assert AuditEvent.objects.filter(action="compliance_report.sent").count() == 1


def test_the_beat_task_reports_the_previous_month_and_the_command_another(history, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "monthly_report_send", lambda month: sent.append(month) or True)
    tasks.monthly_compliance_report.delay()
    call_command("send_compliance_report", "--month", "2026-03", stdout=io.StringIO())
    assert sent == [services.previous_month(), datetime.date(2026, 3, 1)]
    assert services.previous_month(datetime.date(2026, 1, 1)) == datetime.date(2025, 12, 1)
    entry = BEAT_SCHEDULE["reports-monthly-compliance"]
    assert entry["task"] == "reports.tasks.monthly_compliance_report"
    assert entry["schedule"].day_of_month == {1}


def test_the_command_twice_sends_once_and_says_so(history):
    out = io.StringIO()
    call_command("send_compliance_report", "--month", f"{this_month():%Y-%m}", stdout=out)
    call_command("send_compliance_report", "--month", f"{this_month():%Y-%m}", stdout=out)
    assert len(mail.outbox) == 3
    assert "sent to finance" in out.getvalue() and "already sent" in out.getvalue()


def test_the_command_refuses_a_bad_month(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("send_compliance_report", "--month", "March")


def test_a_failed_send_can_be_retried(history, monkeypatch):
    from django.core.mail.backends.locmem import EmailBackend

    def broken(self, messages):
        raise OSError("mail server down")

    monkeypatch.setattr(EmailBackend, "send_messages", broken)
    with pytest.raises(OSError):
        services.monthly_report_send(month=this_month())
    monkeypatch.undo()
    assert services.monthly_report_send(month=this_month()) is True
    assert len(mail.outbox) == 3


def test_an_empty_month_still_reports_zeroes(people):
    assert services.monthly_report_send(month=datetime.date(2001, 1, 1)) is True
    assert "- Policy warnings: 0" in mail.outbox[0].body


def test_the_command_explains_itself(capsys):
    from django.core.management import get_commands, load_command_class

    command = load_command_class(get_commands()["send_compliance_report"], "send_compliance_report")
    help_text = command.create_parser("manage.py", "send_compliance_report").format_help()
    assert "--month" in help_text and "already sent is" in help_text
    assert "finance user" in help_text and "YYYY-MM" in help_text
