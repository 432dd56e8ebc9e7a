"""Checking uploaded receipts by their content. The name's extension must agree with what the bytes
are; anything that could run in a browser (SVG, HTML, script) or unpack into something else (archives)
is refused, whatever it is called."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
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
_ACTIVE_PDF = re.compile(rb"/JavaScript|/JS\s*[(<]|/Launch|/EmbeddedFile|/RichMedia|/XFA")
_ACTIVE_MARKUP = re.compile(
    rb"<\s*(script|svg|html|iframe|object|embed)\b|<!DOCTYPE|<!ENTITY|javascript:|<\?xml-stylesheet|XInclude", re.I
)
# PDF names may spell any character as #xx (/J#61vaScript is /JavaScript): decoded before the scan.
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb"stream\r?\n")
# What we inflate of a PDF's compressed streams to look for actions hidden in object streams.
PDF_MAX_INFLATED = 50 * 1024 * 1024
# More pixels than any receipt photo; a "pixel bomb" would exhaust whoever decodes it (thumbnails, browsers).
MAX_IMAGE_PIXELS = 100_000_000
# The antivirus test file (EICAR): refusing it lets an operator check that uploads are screened at all.
_EICAR = rb"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"


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
            raise _active_pdf(name)
        scan_tail = chunk[-64:]
    upload.seek(0)
    _check_whole(upload, name, sniffed)
    if sniffed == "application/xml":
        _check_xml(upload, name)
    return CheckedUpload(sniffed, extension, size, digest.hexdigest(), name)


def _check_whole(upload: UploadedFile, name: str, sniffed: str) -> None:
    """Checks that need the whole file (at most the upload limit, already enforced): a second file hidden
    inside or after the first (a polyglot), a truncated or active PDF, a pixel bomb, the EICAR test file."""
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    if _EICAR in data:
        raise UploadRejected(
            _("%(name)s carries the antivirus test signature (EICAR) and is refused.") % {"name": name}
        )
    if sniffed != "application/ofd" and zipfile.is_zipfile(io.BytesIO(data)):
        # A zip's directory sits at its end, so a JPEG or PDF with a zip appended opens as both (GIFAR).
        raise UploadRejected(_("%(name)s hides another file (an archive) and is refused.") % {"name": name})
    if sniffed == "application/pdf":
        _check_pdf(data, name)
    elif sniffed.startswith("image/"):
        _check_pixels(data, name)


def _check_pdf(data: bytes, name: str) -> None:
    if _ACTIVE_MARKUP.search(data):
        raise UploadRejected(_("%(name)s contains markup or script and is refused.") % {"name": name})
    if b"%%EOF" not in data[-1024:]:
        raise UploadRejected(_("%(name)s is incomplete (the PDF ends early); upload the whole file.") % {"name": name})
    if _pdf_is_active(data):
        raise _active_pdf(name)
    # Actions can hide in compressed object streams (PDF 1.5): inflate them, within a budget, and look again.
    budget = PDF_MAX_INFLATED
    view = memoryview(data)
    for match in _PDF_STREAM.finditer(data):
        if budget <= 0:
            break
        end = data.find(b"endstream", match.end())
        try:
            inflated = zlib.decompressobj().decompress(view[match.end() : end if end >= 0 else len(data)], budget)
        except zlib.error:
            continue  # not a Flate stream (an image, a font in another filter): nothing to read
        budget -= len(inflated)
        if _pdf_is_active(inflated):
            raise _active_pdf(name)


def _pdf_is_active(data: bytes) -> bool:
    return bool(_ACTIVE_PDF.search(_PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)))


def _active_pdf(name: str) -> UploadRejected:
    return UploadRejected(_("%(name)s contains scripts or embedded files and is refused.") % {"name": name})


def _check_pixels(data: bytes, name: str) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only, decodes nothing
            pixels = image.width * image.height
    except Image.DecompressionBombError:
        pixels = MAX_IMAGE_PIXELS + 1
    except Exception:  # noqa: BLE001 - not an image Pillow knows: the magic bytes were checked already
        return
    if pixels > MAX_IMAGE_PIXELS:
        raise UploadRejected(_("%(name)s has too many pixels for a receipt; upload a smaller image.") % {"name": name})


def _check_xml(upload: UploadedFile, name: str) -> None:
    from xml.etree import ElementTree

    upload.seek(0)
    try:
        ElementTree.parse(io.BytesIO(upload.read()))  # noqa: S314 - DOCTYPE and ENTITY were refused above  # nosec B314
    except ElementTree.ParseError:
        raise UploadRejected(_("%(name)s is not well-formed XML.") % {"name": name}) from None
    finally:
        upload.seek(0)
