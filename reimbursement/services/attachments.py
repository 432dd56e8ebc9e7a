"""Receipt files on claim lines."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import ApplicationError, NotFoundError
from reimbursement.models import Attachment, ClaimLine, attachment_path
from reimbursement.services.common import ensure_claimant, ensure_editable
from reimbursement.services.transitions import lock_claim
from reimbursement.uploads import check_upload

MAX_ATTACHMENTS_PER_LINE = 10


def attachment_add(*, line_id: int, actor: Any, upload: UploadedFile) -> Attachment:
    """Check the file by its content, store it under a generated name and attach it to the line.

    The file is written before the transaction and removed again if the transaction fails, so a
    rejected upload leaves neither a row nor a file behind.
    """
    checked = check_upload(upload)
    attachment = Attachment(
        original_name=checked.original_name,
        extension=checked.extension,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        uploaded_by=actor,
        uploaded_at=timezone.now(),
    )
    name = default_storage.save(attachment_path(attachment, checked.original_name), upload)
    try:
        with transaction.atomic():
            claim_id = ClaimLine.objects.filter(pk=line_id).values_list("claim_id", flat=True).first()
            if claim_id is None:
                raise NotFoundError(_("This line does not exist."))
            claim = lock_claim(claim_id)
            ensure_claimant(claim, actor)
            ensure_editable(claim)
            if Attachment.objects.filter(line_id=line_id).count() >= MAX_ATTACHMENTS_PER_LINE:
                raise ApplicationError(
                    _("A line has at most %(n)d files.") % {"n": MAX_ATTACHMENTS_PER_LINE},
                    fields={"file": [_("Too many files on this line.")]},
                )
            attachment.line_id = line_id
            attachment.file.name = name
            attachment.save()
    except BaseException:
        default_storage.delete(name)
        raise
    return attachment


@transaction.atomic
def attachment_remove(*, attachment_id: int, actor: Any) -> None:
    """Remove a file from a line of an editable claim."""
    attachment = Attachment.objects.filter(pk=attachment_id).select_related("line").first()
    if attachment is None:
        raise NotFoundError(_("This file does not exist."))
    claim = lock_claim(attachment.line.claim_id)
    ensure_claimant(claim, actor)
    ensure_editable(claim)
    name = attachment.file.name
    attachment.delete()
    transaction.on_commit(lambda: default_storage.delete(name))
