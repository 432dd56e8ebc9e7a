"""A claim's audit timeline on its detail page, and the auditor's pack of a claim: one PDF (summary, lines,
approvals, the merged audit timeline, then every receipt) and a ZIP of the original files with a manifest of
their SHA-256. Finance, auditors and administrators download it for any claim they may see; each download
is an audit event. Both are POSTs: a download that writes to the audit trail must not be fetched by a
browser's prefetch or a crawler following links.
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from audit import pack
from audit.selectors import DEFAULT_HIDDEN_FIELDS, TimelineItem, timeline_for
from audit.services import audit_record
from org.choices import Role
from org.selectors import user_roles
from reimbursement.models import Claim, ClaimLine
from reimbursement.views.changes import ACTION_LABELS, FIELD_LABELS
from reimbursement.views.common import visible_claim

PACK_ROLES = {Role.FINANCE, Role.AUDITOR, Role.ADMIN}
PACK_DOWNLOADED = "claim.pack_downloaded"
TIMELINE_ACTION_LABELS = {**ACTION_LABELS, PACK_DOWNLOADED: gettext_lazy("Audit pack downloaded")}


def may_download_pack(user: Any) -> bool:
    return bool(PACK_ROLES & user_roles(user))


def claim_audit_timeline(claim: Claim) -> list[TimelineItem]:
    """The claim's audit events and the field changes of the claim and its lines (deleted lines too),
    oldest first, in a fixed number of queries whatever the number of lines. A change of hidden fields only
    (the event counter moving) says nothing and is left out."""
    items = timeline_for(
        Claim,
        claim.pk,
        related={ClaimLine: "claim"},
        action_labels=TIMELINE_ACTION_LABELS,
        field_labels=FIELD_LABELS,
        # The claimant never changes, and the event counter moves with every event: neither tells a reader
        # anything (and naming the claimant would cost a query).
        hidden_fields=(*DEFAULT_HIDDEN_FIELDS, "claimant", "event_seq"),
    )
    return [item for item in items if item.is_event or item.action != "changed" or item.changes]


@login_required
@require_POST
def claim_pack_pdf(request: HttpRequest, claim_id: int) -> FileResponse:
    return _pack_response(request, claim_id, "pdf")


@login_required
@require_POST
def claim_pack_zip(request: HttpRequest, claim_id: int) -> FileResponse:
    return _pack_response(request, claim_id, "zip")


def _pack_response(request: HttpRequest, claim_id: int, kind: str) -> FileResponse:
    if not may_download_pack(request.user):
        raise Http404
    claim = visible_claim(request, claim_id)  # 404 outside the user's sight (an auditor's departments)
    document = claim_pack_document(claim)
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed, and so deleted, by the response once sent
    try:
        if kind == "pdf":
            result = pack.write_pdf(document, output)
            data = {"format": "pdf", "pages": result.pages, "files": result.merged, "not_merged": result.not_merged}
            content_type = "application/pdf"
        else:
            manifest = pack.write_zip(document, output)
            data = {"format": "zip", "files": len(manifest)}
            content_type = "application/zip"
        data["sha256"] = _sha256(output)
        with transaction.atomic():
            audit_record(action=PACK_DOWNLOADED, target=claim, actor=request.user, data=data)
    except BaseException:
        output.close()
        raise
    output.seek(0)
    filename = f"{claim.number}-audit-pack.{kind}"
    response = FileResponse(output, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _sha256(handle: Any) -> str:
    handle.seek(0)
    digest = hashlib.sha256()
    while chunk := handle.read(pack.CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def claim_pack_document(claim: Claim) -> pack.PackDocument:
    """The claim as the pack shows it: header facts, lines, approvals, timeline and receipts in line order.

    ``claim`` comes from ``claim_detail`` (lines, categories and files prefetched); the approvals are read
    through the claim's reverse relation, so this app does not import approvals.
    """
    lines = list(claim.lines.all())
    money = "{:,.2f}".format
    facts = [
        (_("Number"), claim.number or ""),
        (_("Status"), str(claim.get_status_display())),
        (_("Claimant"), f"{claim.claimant.name} ({claim.claimant.employee_no})"),
        (_("Department"), claim.department_name or claim.claimant.department.name),
        (_("Purpose"), claim.purpose),
        (_("Cost centre"), claim.cost_centre or "—"),
        (_("Project"), claim.project or "—"),
        (_("Total"), f"{money(claim.total_amount)} {claim.base_currency}"),
        (
            _("Approved total"),
            f"{money(claim.approved_amount)} {claim.base_currency}" if claim.approved_amount is not None else "—",
        ),
        (_("Created"), _when(claim.created_at)),
        (_("Submitted"), _when(claim.submitted_at)),
        (_("Decided"), _when(claim.decided_at)),
        (_("Paid"), _when(claim.paid_at)),
    ]
    line_rows = []
    files = []
    for line in lines:
        attachments = list(line.attachments.all())
        line_rows.append(
            [
                str(line.position),
                line.expense_date.isoformat(),
                str(line.category.name),
                " · ".join(p for p in (line.description, line.merchant) if p),
                f"{money(line.amount)} {line.currency}",
                f"{money(line.base_amount)} {claim.base_currency}",
                money(line.approved_amount) if line.approved_amount is not None else "—",
                " ".join(p for p in (line.invoice_code, line.invoice_number) if p) or "—",
                str(len(attachments)),
            ]
        )
        section = _("Line %(n)s") % {"n": line.position}
        for attachment in attachments:
            files.append(
                pack.PackFile(
                    name=attachment.original_name,
                    content_type=attachment.content_type,
                    open=_opener(attachment),
                    section=section,
                    size=attachment.size,
                )
            )
    tasks = claim.approval_tasks.select_related("step__flow", "assignee").order_by(
        "step__flow__submission", "step__position", "id"
    )
    approval_rows = [
        [
            str(task.step.flow.submission),
            task.step.name,
            task.assignee.name,
            str(task.get_status_display()),
            task.decided_by_name
            + (f" ({_('for %(name)s') % {'name': task.on_behalf_of_name}})" if task.on_behalf_of_name else ""),
            _when(task.decided_at),
            task.comment,
        ]
        for task in tasks
    ]
    return pack.PackDocument(
        title=claim.number or "",
        subtitle=_("Audit pack: the claim, its approvals and audit trail, then its receipts"),
        facts=facts,
        tables=[
            pack.PackTable(
                _("Expenses"),
                [
                    _("Line"),
                    _("Date"),
                    _("Category"),
                    _("Description"),
                    _("Amount"),
                    _("In base currency"),
                    _("Approved"),
                    _("Invoice"),
                    _("Files"),
                ],
                line_rows,
                empty=_("No expenses."),
            ),
            pack.PackTable(
                _("Approvals"),
                [_("Submission"), _("Step"), _("Approver"), _("Status"), _("Decided by"), _("When"), _("Comment")],
                approval_rows,
                empty=_("No approval yet."),
            ),
        ],
        timeline=claim_audit_timeline(claim),
        files=files,
    )


def _opener(attachment: Any):
    return lambda: attachment.file.open("rb")


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"
