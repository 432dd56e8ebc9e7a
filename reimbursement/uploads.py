"""Checking uploaded receipts by their content. The name's extension must agree with what the bytes
are; anything that could run in a browser (SVG, HTML, script) or unpack into something else (archives)
is refused, whatever it is called."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from config.errors import ApplicationError

# extension -> sniffed content type
ALLOWED_EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".ofd": "application/ofd",
    ".xml": "application/xml",
}
# An OFD is a zip; these bound what we are willing to open to look inside.
OFD_MAX_MEMBERS = 2000
OFD_MAX_UNCOMPRESSED = 200 * 1024 * 1024
_ACTIVE_PDF = re.compile(rb"/JavaScript|/JS\s*[(<]|/Launch|/EmbeddedFile")
_ACTIVE_MARKUP = re.compile(rb"<\s*(script|svg|html|iframe|object|embed)\b|<!DOCTYPE|<!ENTITY|javascript:", re.I)


class UploadRejected(ApplicationError):
    code = "upload_rejected"

    def __init__(self, message: str):
        super().__init__(message, fields={"file": [message]})


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    extension: str
    size: int
    sha256: str
    original_name: str


def max_upload_bytes() -> int:
    return settings.BAOXIAO_MAX_UPLOAD_MB * 1024 * 1024


def clean_name(name: str) -> str:
    """The base name only, without directories or control characters (kept for display, never as a path)."""
    base = PurePath(name.replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip(". ")
    return base[:255] or "file"


def sniff(head: bytes, upload: UploadedFile) -> str | None:
    """The content type the bytes really are, among the ones we accept, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/ofd" if _is_ofd(upload) else None
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<?xml"):
        return "application/xml"
    return None


def _is_ofd(upload: UploadedFile) -> bool:
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            members = archive.infolist()
            if len(members) > OFD_MAX_MEMBERS or sum(m.file_size for m in members) > OFD_MAX_UNCOMPRESSED:
                return False
            names = {m.filename for m in members}
            return "OFD.xml" in names and all(not n.startswith("/") and ".." not in n for n in names)
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        upload.seek(0)


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Accept the file or raise UploadRejected with a message the uploader can act on."""
    name = clean_name(upload.name or "")
    extension = PurePath(name).suffix.lower()
    limit = max_upload_bytes()
    if upload.size is not None and upload.size > limit:
        raise UploadRejected(
            _("%(name)s is larger than %(limit)d MB.") % {"name": name, "limit": settings.BAOXIAO_MAX_UPLOAD_MB}
        )
    if upload.size == 0:
        raise UploadRejected(_("%(name)s is empty.") % {"name": name})
    if extension not in ALLOWED_EXTENSIONS:
        raise UploadRejected(_("%(name)s: only JPEG, PNG, WebP, PDF, OFD and XML files are accepted.") % {"name": name})
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    sniffed = sniff(head, upload)
    if sniffed is None or sniffed != ALLOWED_EXTENSIONS[extension]:
        raise UploadRejected(
            _("%(name)s does not contain what its name says (%(ext)s); upload the original file.")
            % {"name": name, "ext": extension}
        )
    digest = hashlib.sha256()
    size = 0
    scan_tail = b""
    for chunk in upload.chunks():
        size += len(chunk)
        if size > limit:
            raise UploadRejected(
                _("%(name)s is larger than %(limit)d MB.") % {"name": name, "limit": settings.BAOXIAO_MAX_UPLOAD_MB}
            )
        digest.update(chunk)
        if sniffed in ("application/xml",) or sniffed.startswith("image/"):
            # Markup or script hidden in an XML invoice or in image bytes (a polyglot) is refused.
            if _ACTIVE_MARKUP.search(scan_tail + chunk):
                raise UploadRejected(_("%(name)s contains markup or script and is refused.") % {"name": name})
        elif sniffed == "application/pdf" and _ACTIVE_PDF.search(scan_tail + chunk):
            raise UploadRejected(_("%(name)s contains scripts or embedded files and is refused.") % {"name": name})
        scan_tail = chunk[-64:]
    upload.seek(0)
    if sniffed == "application/xml":
        _check_xml(upload, name)
    return CheckedUpload(sniffed, extension, size, digest.hexdigest(), name)


def _check_xml(upload: UploadedFile, name: str) -> None:
    from xml.etree import ElementTree

    upload.seek(0)
    try:
        ElementTree.parse(io.BytesIO(upload.read()))  # noqa: S314 - DOCTYPE and ENTITY were refused above  # nosec B314
    except ElementTree.ParseError:
        raise UploadRejected(_("%(name)s is not well-formed XML.") % {"name": name}) from None
    finally:
        upload.seek(0)
