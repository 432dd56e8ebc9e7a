"""Report pages, mounted at /reports/: the index, one page per report (filter, table, exports), the
claim-lines export, and export jobs (progress page polled by HTMX, download by the owner only).
Anyone without the finance, auditor or admin role gets 404 on every one of them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import wraps
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from reports import catalogue, services, writers
from reports.choices import CLAIM_LINES, ExportFormat
from reports.forms import ExportForm, ReportFilterForm
from reports.models import ExportJob
from reports.selectors import ReportParams, may_read_reports

SCREEN_ROWS = 200


def reports_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in with a reporting role; anyone else is told the page does not exist."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_read_reports(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _report(slug: str) -> catalogue.Report:
    report = catalogue.report_for(slug)
    if report is None:
        raise Http404
    return report


def _filter_form(request: HttpRequest, form_class: type[ReportFilterForm] = ReportFilterForm) -> ReportFilterForm:
    source = request.POST if request.method == "POST" else request.GET
    if "date_from" in source or "date_to" in source:
        return form_class(source)
    # First visit: this month so far, as if asked for.
    initial = form_class().initial
    return form_class({**{k: v.isoformat() for k, v in initial.items()}, "format": ExportFormat.CSV})


def _filename(kind: str, params: ReportParams, fmt: str) -> str:
    return f"{kind.replace('_', '-')}-{params.date_from:%Y%m%d}-{params.date_to:%Y%m%d}.{fmt}"


def _protect(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def file_response(request: HttpRequest, kind: str, fmt: str, params: ReportParams) -> HttpResponse:
    """The file made during the request: CSV streamed row by row, XLSX and PDF through a temporary file."""
    claims = catalogue.scope(kind, request.user, params)
    columns = catalogue.export_columns(kind)
    rows = catalogue.export_rows(kind, claims, params)
    name = _filename(kind, params, fmt)
    if fmt == ExportFormat.CSV:
        chunks = (chunk.encode("utf-8") for chunk in writers.csv_chunks(columns, rows))
        response = StreamingHttpResponse(chunks, content_type=writers.CONTENT_TYPES["csv"])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return _protect(response)
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by FileResponse
    writers.write(
        fmt,
        columns,
        rows,
        spool,
        title=str(catalogue.export_title(kind)),
        subtitle=f"{params.date_from} – {params.date_to}",
    )
    spool.seek(0)
    return _protect(FileResponse(spool, as_attachment=True, filename=name, content_type=writers.CONTENT_TYPES[fmt]))


def _start_job(request: HttpRequest, kind: str, form: ExportForm) -> HttpResponse:
    job = services.export_job_create(
        owner=request.user, kind=kind, fmt=form.cleaned_data["format"], params=form.params()
    )
    return redirect("reports:export", job_uuid=job.uuid)


@reports_only
def index_view(request: HttpRequest) -> HttpResponse:
    jobs = ExportJob.objects.filter(owner=request.user).order_by("-created_at", "-id")[:10]
    return render(request, "reports/index.html", {"reports": catalogue.REPORTS.values(), "jobs": jobs})


@reports_only
@require_http_methods(["GET", "POST"])
def report_view(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the report on screen (the first rows) for the range; with ``format``, the file itself.
    POST: the same file made in the background."""
    report = _report(slug)
    form = _filter_form(request, ExportForm)
    rows, more = None, False
    if form.is_valid():
        params = form.params()
        if request.method == "POST":
            return _start_job(request, slug, form)
        if "download" in request.GET:
            return file_response(request, slug, form.cleaned_data["format"], params)
        kinds = [c.kind for c in report.columns]
        found = list(islice(report.rows(catalogue.scope(slug, request.user, params), params), SCREEN_ROWS + 1))
        more = len(found) > SCREEN_ROWS
        rows = [[(writers.text_value(v, k), k) for v, k in zip(row, kinds, strict=False)] for row in found]
        rows = rows[:SCREEN_ROWS]
    form.mark_invalid()
    context = {"report": report, "form": form, "rows": rows, "more": more, "screen_rows": SCREEN_ROWS}
    return render(request, "reports/report.html", context, status=400 if form.errors else 200)


@reports_only
@require_http_methods(["GET", "POST"])
def lines_view(request: HttpRequest) -> HttpResponse:
    """Every claim line the user may see in a range of expense dates: a small file at once, a large one
    (or any, when asked) as a background export."""
    form = _filter_form(request, ExportForm)
    count = None
    if form.is_valid():
        params = form.params()
        count = catalogue.claim_lines(catalogue.scope(CLAIM_LINES, request.user, params), params).count()
        fmt = form.cleaned_data["format"]
        if request.method == "POST":
            if count == 0:
                form.add_error(
                    None, _("No claim lines have an expense date in this range: there is nothing to export.")
                )
            elif fmt == ExportFormat.PDF and count > settings.BAOXIAO_EXPORT_PDF_MAX_ROWS:
                form.add_error(
                    "format",
                    _("%(n)d lines are too many for a PDF (at most %(max)d): choose CSV or XLSX.")
                    % {"n": count, "max": settings.BAOXIAO_EXPORT_PDF_MAX_ROWS},
                )
            elif count <= settings.BAOXIAO_EXPORT_DIRECT_MAX_ROWS and "background" not in request.POST:
                return file_response(request, CLAIM_LINES, fmt, params)
            else:
                return _start_job(request, CLAIM_LINES, form)
    form.mark_invalid()
    context = {"form": form, "count": count, "direct_max": settings.BAOXIAO_EXPORT_DIRECT_MAX_ROWS}
    return render(request, "reports/lines.html", context, status=400 if form.errors else 200)


def _own_job(request: HttpRequest, job_uuid: str) -> ExportJob:
    job = ExportJob.objects.filter(uuid=job_uuid, owner=request.user).first()
    if job is None:
        raise Http404
    return job


@reports_only
def export_view(request: HttpRequest, job_uuid: str) -> HttpResponse:
    job = _own_job(request, job_uuid)
    context = {"job": job, "title": catalogue.export_title(job.kind)}
    if request.htmx:
        return render(request, "reports/partials/export_progress.html", context)
    return render(request, "reports/export.html", context)


@reports_only
def export_download_view(request: HttpRequest, job_uuid: str) -> HttpResponse:
    job = _own_job(request, job_uuid)
    path = services.export_file(job) if job.file_path else None
    if job.status != "done" or path is None or not path.is_file():
        raise Http404
    params = ReportParams.from_json(job.params)
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=_filename(job.kind, params, job.format),
        content_type=writers.CONTENT_TYPES[job.format],
    )
    return _protect(response)
