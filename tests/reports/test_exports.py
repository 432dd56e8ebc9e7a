"""Report and claim-line exports: CSV, XLSX and PDF read back, background jobs (eager and on a real
worker), downloads by the owner only, and the clean-up of old files."""

from __future__ import annotations

import csv
import datetime
import io
import time

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from reports import services
from reports.choices import CLAIM_LINES, ExportStatus
from reports.models import ExportJob
from reports.selectors import ReportParams
from tests.reports.conftest import range_params

pytestmark = pytest.mark.postgres


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def xlsx_rows(content: bytes, sheet: int = 0) -> list[tuple]:
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return list(workbook.worksheets[sheet].iter_rows(values_only=True))


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_report_downloads_as_csv_with_its_figures(history, client, finance):
    client.force_login(finance)
    response = client.get(reverse("reports:report", args=["spend"]), range_params() | {"download": "1"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="spend-')
    assert response["X-Content-Type-Options"] == "nosniff"
    rows = csv_rows(body(response))
    office = next(r for r in rows if r["Category"] == "office")
    figures = (office["Lines"], office["Amount"], office["Currency"], office["Base amount"])
    assert figures == ("2", "210.00", "CNY", "210.00")


def test_a_report_downloads_as_xlsx_with_numbers(history, client, finance):
    client.force_login(finance)
    params = range_params() | {"download": "1", "format": "xlsx"}
    response = client.get(reverse("reports:report", args=["voids-returns"]), params)
    assert response.status_code == 200
    header, *rows = xlsx_rows(body(response))
    assert header[:3] == ("Time", "What", "Claim")
    assert [(r[1], r[5]) for r in rows] == [
        ("Returned", "Add the taxi receipt"),
        ("Voided", "Claimed twice by mistake"),
    ]
    assert isinstance(rows[0][0], datetime.datetime)


def test_a_report_downloads_as_a_pdf_table(history, client, finance):
    client.force_login(finance)
    params = range_params() | {"download": "1", "format": "pdf"}
    response = client.get(reverse("reports:report", args=["cycle-time"]), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(body(response))
    assert "Approval cycle time" in text
    assert "p50 hours" in text and "7.60" in text and "10.00" in text


def test_a_pdf_of_many_rows_has_many_pages_each_with_the_header(history, finance):
    from reports import writers
    from reports.catalogue import LINE_COLUMNS

    out = io.BytesIO()
    rows = [(f"BX-{n:06d}", "paid", "E1", "x", "d", 1, datetime.date(2026, 1, 1)) + ("",) * 10 for n in range(300)]
    writers.write_pdf(LINE_COLUMNS, rows, out, title="Claim lines")
    reader = PdfReader(io.BytesIO(out.getvalue()))
    assert len(reader.pages) >= 5
    assert all("Claim" in page.extract_text() for page in reader.pages)
    assert "BX-000299" in pdf_text(out.getvalue())


def test_claim_lines_come_at_once_when_few(history, client, finance):
    client.force_login(finance)
    response = client.post(reverse("reports:lines"), range_params() | {"format": "csv"})
    assert response.status_code == 200
    rows = csv_rows(body(response))
    numbers = {r["Claim"] for r in rows}
    # Every line of every submitted claim (the draft D is not there), voided ones included.
    assert numbers == {history[k].number for k in "ABCEFG"}
    usd = next(r for r in rows if r["Currency"] == "USD")
    assert (usd["Amount"], usd["Base currency"]) == ("10.00", "CNY")


def test_claim_lines_for_an_auditor_are_their_departments_only(history, client, auditor, people):
    from reimbursement.auditor import auditor_grant

    auditor_grant(user=auditor, departments=[people["wuhao"].department])
    client.force_login(auditor)
    rows = csv_rows(body(client.post(reverse("reports:lines"), range_params() | {"format": "csv"})))
    assert {r["Claim"] for r in rows} == {history["F"].number, history["G"].number}


def test_an_empty_or_reversed_range_of_lines_says_so(history, client, finance):
    client.force_login(finance)
    response = client.post(reverse("reports:lines"), {"date_from": "2001-01-01", "date_to": "2001-01-02"})
    assert response.status_code == 400
    assert b"No claim lines have an expense date in this range" in response.content
    response = client.post(reverse("reports:lines"), {"date_from": "2026-02-02", "date_to": "2026-02-01"})
    assert response.status_code == 400
    assert b"The end date is before the start date" in response.content
    assert ExportJob.objects.count() == 0


def test_many_lines_run_in_the_background_with_a_progress_page_and_a_download(
    history, client, finance, settings, django_capture_on_commit_callbacks
):
    settings.BAOXIAO_EXPORT_DIRECT_MAX_ROWS = 3
    client.force_login(finance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:lines"), range_params() | {"format": "xlsx"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("reports:export", args=[job.uuid])
    assert (job.status, job.kind, job.rows_done, job.rows_total) == (ExportStatus.DONE, CLAIM_LINES, 6, 6)
    assert job.file_path.endswith(".xlsx") and services.export_file(job).is_file()
    page = client.get(reverse("reports:export", args=[job.uuid]))
    assert b'data-testid="export-download"' in page.content and b"hx-trigger" not in page.content
    download = client.get(reverse("reports:export_download", args=[job.uuid]))
    assert download["Content-Disposition"].startswith('attachment; filename="claim-lines-')
    assert download["X-Content-Type-Options"] == "nosniff"
    header, *rows = xlsx_rows(body(download))
    assert header[0] == "Claim" and len(rows) == 6


def test_a_queued_job_page_polls_until_done(history, client, finance):
    params = ReportParams(date_from=timezone.localdate(), date_to=timezone.localdate())
    job = services.export_job_create(owner=finance, kind="spend", fmt="csv", params=params)  # not run: no commit
    client.force_login(finance)
    response = client.get(reverse("reports:export", args=[job.uuid]), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 2s"' in response.content and b'data-status="queued"' in response.content
    assert b"<html" not in response.content  # the partial only


def test_only_the_owner_sees_or_downloads_an_export(history, client, finance, people):
    params = ReportParams(date_from=timezone.localdate(), date_to=timezone.localdate())
    job = services.export_job_create(owner=finance, kind="spend", fmt="csv", params=params)
    services.export_run(job_id=job.pk)
    for username in ("caihong", "auditor", "zhangwei"):
        client.force_login(people[username].user)
        assert client.get(reverse("reports:export", args=[job.uuid])).status_code == 404
        assert client.get(reverse("reports:export_download", args=[job.uuid])).status_code == 404
    client.force_login(finance)
    assert client.get(reverse("reports:export_download", args=[job.uuid])).status_code == 200


def test_a_report_exported_in_the_background(history, client, finance, django_capture_on_commit_callbacks):
    client.force_login(finance)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reports:report", args=["separation-of-duties"]), range_params() | {"format": "pdf"})
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.DONE
    text = pdf_text(services.export_file(job).read_bytes())
    assert history["E"].number in text and "Separation of duties" in text


def test_a_pdf_of_too_many_lines_fails_with_a_message(history, finance, settings):
    settings.BAOXIAO_EXPORT_PDF_MAX_ROWS = 2
    params = ReportParams(date_from=timezone.localdate() - datetime.timedelta(days=30), date_to=timezone.localdate())
    job = services.export_job_create(owner=finance, kind=CLAIM_LINES, fmt="pdf", params=params)
    job = services.export_run(job_id=job.pk)
    assert job.status == ExportStatus.FAILED
    assert "too many for a PDF" in job.error_message
    assert not job.file_path


def test_old_export_files_are_deleted_and_the_job_expires(history, finance, settings):
    params = ReportParams(date_from=timezone.localdate(), date_to=timezone.localdate())
    job = services.export_run(
        job_id=services.export_job_create(owner=finance, kind="spend", fmt="csv", params=params).pk
    )
    path = services.export_file(job)
    assert path.is_file()
    assert services.exports_cleanup() == 0  # too recent
    later = timezone.now() + datetime.timedelta(days=settings.BAOXIAO_EXPORT_RETENTION_DAYS + 1)
    assert services.exports_cleanup(now=later) == 1
    assert services.exports_cleanup(now=later) == 0  # twice is harmless
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED and not path.exists()


def test_an_employee_cannot_create_an_export(history, people):
    from config.errors import ApplicationError

    params = ReportParams(date_from=timezone.localdate(), date_to=timezone.localdate())
    with pytest.raises(ApplicationError):
        services.export_job_create(owner=people["zhangwei"].user, kind=CLAIM_LINES, fmt="csv", params=params)


@pytest.mark.redis
def test_a_real_worker_makes_the_export(people, celery_worker, monkeypatch):
    from reports.tasks import export_run
    from tests.finance.conftest import approved_claim

    approved_claim(people["zhangwei"], "66.00")
    monkeypatch.setattr(export_run, "delay", lambda job_id: export_run.apply_async([job_id], queue=celery_worker.queue))
    params = ReportParams(date_from=timezone.localdate() - datetime.timedelta(days=30), date_to=timezone.localdate())
    job = services.export_job_create(owner=people["sunli"].user, kind=CLAIM_LINES, fmt="csv", params=params)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.3)
    assert job.status == ExportStatus.DONE, celery_worker.output()[-3000:]
    rows = csv_rows(services.export_file(job).read_bytes())
    assert [r["Amount"] for r in rows] == ["66.00"]


def test_the_claim_lines_page_counts_the_lines_in_a_bounded_number_of_queries(
    history, client, finance, django_assert_max_num_queries
):
    client.force_login(finance)
    client.get(reverse("reports:lines"))
    with django_assert_max_num_queries(10):
        response = client.get(reverse("reports:lines"), range_params())
    assert response.status_code == 200
    assert b"6 lines in this range." in response.content
