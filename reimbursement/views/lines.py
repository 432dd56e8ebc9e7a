"""Lines and receipt files, edited in place: each HTMX request answers with the partial it changed and,
out of band, the claim's new total. Errors come back as the same partial with the messages next to the
fields and status 400; the services refuse before writing, so the draft stays as it was."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from config.errors import ApplicationError, NotFoundError
from reimbursement.forms import LineForm
from reimbursement.models import Attachment, Claim, ClaimLine
from reimbursement.selectors import attachment_for_download
from reimbursement.services import attachment_add, attachment_remove, line_add, line_remove, line_update
from reimbursement.views.common import PARTIAL_ERROR_STATUS, back_to_edit, line_of, own_claim

ROW = "reimbursement/partials/line_row.html"
FORM = "reimbursement/partials/line_form.html"
FILES = "reimbursement/partials/line_files.html"


def _not_found(exc: ApplicationError) -> None:
    if isinstance(exc, NotFoundError):
        raise Http404(exc.message) from exc


def _fallback(request: HttpRequest, claim_id: int, error: ApplicationError | str | None = None) -> HttpResponse:
    """Without HTMX (script off) the plain form was posted: report and go back to the edit page."""
    if error is None:
        messages.success(request, _("Saved."))
    else:
        message = error if isinstance(error, str) else error.message
        details = [] if isinstance(error, str) else [m for ms in error.fields.values() for m in ms]
        messages.error(request, " ".join([message, *details]))
    return back_to_edit(claim_id)


def _line_form(claim: Claim, line: ClaimLine | None, data=None) -> LineForm:
    key = line.pk if line else "new"
    initial = LineForm.initial_from_line(line) if line and data is None else None
    return LineForm(data, initial=initial, base_currency=claim.base_currency, auto_id=f"line-{key}-%s")


@login_required
@require_POST
def line_add_view(request: HttpRequest, claim_id: int) -> HttpResponse:
    """Add a line: the new row goes to the end of the list, the form is emptied, the total follows."""
    claim = own_claim(request, claim_id)
    form = _line_form(claim, None, request.POST)
    if form.is_valid():
        try:
            line = line_add(claim_id=claim.pk, actor=request.user, data=form.line_input())
        except ApplicationError as exc:
            _not_found(exc)
            form.show_errors(exc)
        else:
            if not request.htmx:
                return _fallback(request, claim.pk)
            claim = own_claim(request, claim_id)
            context = {"claim": claim, "line": line_of(claim, line.pk), "new_form": _line_form(claim, None)}
            response = render(request, "reimbursement/partials/line_added.html", context)
            return reswap(retarget(response, "#line-rows"), "beforeend")
    if not request.htmx:
        return _fallback(request, claim.pk, _("Please correct the line."))
    return render(request, FORM, {"claim": claim, "form": form, "line": None}, status=PARTIAL_ERROR_STATUS)


@login_required
@require_GET
def line_row_view(request: HttpRequest, claim_id: int, line_id: int) -> HttpResponse:
    """A line as it is stored (the "Cancel" of an edit)."""
    claim = own_claim(request, claim_id)
    return render(request, ROW, {"claim": claim, "line": line_of(claim, line_id)})


@login_required
@require_http_methods(["GET", "POST"])
def line_edit_view(request: HttpRequest, claim_id: int, line_id: int) -> HttpResponse:
    """GET: the line's form in place of its row. POST: save it and answer with the row and the total."""
    claim = own_claim(request, claim_id)
    line = line_of(claim, line_id)
    if request.method == "GET":
        return render(request, FORM, {"claim": claim, "form": _line_form(claim, line), "line": line})
    form = _line_form(claim, line, request.POST)
    if form.is_valid():
        try:
            line_update(line_id=line.pk, actor=request.user, data=form.line_input())
        except ApplicationError as exc:
            _not_found(exc)
            form.show_errors(exc)
        else:
            if not request.htmx:
                return _fallback(request, claim.pk)
            claim = own_claim(request, claim_id)
            return render(request, ROW, {"claim": claim, "line": line_of(claim, line_id), "with_total": True})
    if not request.htmx:
        return _fallback(request, claim.pk, _("Please correct the line."))
    return render(request, FORM, {"claim": claim, "form": form, "line": line}, status=PARTIAL_ERROR_STATUS)


@login_required
@require_POST
def line_remove_view(request: HttpRequest, claim_id: int, line_id: int) -> HttpResponse:
    """Remove a line; all rows come back because the later ones move up a position."""
    claim = own_claim(request, claim_id)
    line = line_of(claim, line_id)
    try:
        line_remove(line_id=line.pk, actor=request.user)
    except ApplicationError as exc:
        _not_found(exc)
        if not request.htmx:
            return _fallback(request, claim.pk, exc)
        response = render(request, ROW, {"claim": claim, "line": line, "error": exc.message})
        response.status_code = PARTIAL_ERROR_STATUS
        return reswap(retarget(response, f"#line-{line.pk}"), "outerHTML")
    if not request.htmx:
        return _fallback(request, claim.pk)
    claim = own_claim(request, claim_id)
    return render(
        request,
        "reimbursement/partials/line_rows.html",
        {"claim": claim, "lines": claim.lines.all(), "oob_total": True},
    )


@login_required
@require_POST
def attachment_upload_view(request: HttpRequest, claim_id: int, line_id: int) -> HttpResponse:
    """Attach a receipt to a line; the line's files come back with a preview, or the reason it was refused."""
    claim = own_claim(request, claim_id)
    line = line_of(claim, line_id)
    upload = request.FILES.get("file")
    error = ""
    if upload is None:
        error = _("Choose a file to upload.")
    else:
        try:
            attachment_add(line_id=line.pk, actor=request.user, upload=upload)
        except ApplicationError as exc:
            _not_found(exc)
            error = " ".join(exc.fields.get("file", [])) or exc.message
    if not request.htmx:
        return _fallback(request, claim.pk, error or None)
    if not error:
        claim = own_claim(request, claim_id)
        line = line_of(claim, line_id)
    status = PARTIAL_ERROR_STATUS if error else 200
    return render(request, FILES, {"claim": claim, "line": line, "file_error": error}, status=status)


@login_required
@require_POST
def attachment_remove_view(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """Remove a receipt from a line; the line's files come back."""
    try:
        attachment = attachment_for_download(request.user, attachment_id)
    except Attachment.DoesNotExist:
        raise Http404 from None
    claim_id, line_id = attachment.line.claim_id, attachment.line_id
    error = ""
    try:
        attachment_remove(attachment_id=attachment.pk, actor=request.user)
    except ApplicationError as exc:
        _not_found(exc)
        error = exc.message
    if not request.htmx:
        return _fallback(request, claim_id, error or None)
    claim = own_claim(request, claim_id)
    status = PARTIAL_ERROR_STATUS if error else 200
    return render(request, FILES, {"claim": claim, "line": line_of(claim, line_id), "file_error": error}, status=status)


@login_required
@require_GET
def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    """A receipt of a claim the user may see, under a generated name, never sniffed by the browser.

    ``?preview=1`` shows an image inline (the thumbnails); every other file is always a download.
    """
    try:
        attachment = attachment_for_download(request.user, attachment_id)
    except Attachment.DoesNotExist:
        raise Http404 from None
    number = Claim.objects.filter(pk=attachment.line.claim_id).values_list("number", flat=True).first()
    filename = f"{number}-{attachment.line.position}-{attachment.pk}{attachment.extension}"
    inline = request.GET.get("preview") == "1" and attachment.content_type.startswith("image/")
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, as_attachment=not inline, filename=filename, content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300" if inline else "private, no-store"
    return response
