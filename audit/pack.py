"""The auditor's pack of one object: a PDF (a summary, its audit timeline, then every receipt merged in) and a
ZIP of the original files with a manifest of their SHA-256.

Like the rest of this app it imports no business app: the caller describes the object as a ``PackDocument``
(facts, tables, the timeline from ``audit.selectors.timeline_for``, the files with a way to open each) and
gets the pack written into a file it provides (a temporary file, so nothing is held in memory per receipt
but what pypdf keeps of the merged PDF pages until it writes them).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _

CHUNK = 64 * 1024
PDF_TYPES = {"application/pdf"}
IMAGE_TYPES = {"image/jpeg", "image/png"}
# Fonts: Helvetica for Latin text (extractable as is); the CID font every PDF reader ships for Chinese.
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
CJK_FONT = "STSong-Light"


@dataclass(frozen=True)
class PackFile:
    """One original file: its name as uploaded, its type (checked by content at upload) and how to read it."""

    name: str
    content_type: str
    open: Callable[[], IO[bytes]]
    section: str = ""  # what it belongs to, e.g. "Line 2"
    size: int | None = None


@dataclass(frozen=True)
class PackTable:
    heading: str
    columns: list[str]
    rows: list[list[str]]
    empty: str = ""
    widths: tuple[float, ...] = ()  # relative column widths; equal when empty


@dataclass
class PackDocument:
    """What the caller knows of the object; every text already in the reader's language."""

    title: str
    subtitle: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[PackTable] = field(default_factory=list)
    timeline: list[Any] = field(default_factory=list)  # audit.selectors.TimelineItem
    files: list[PackFile] = field(default_factory=list)


@dataclass(frozen=True)
class PdfResult:
    summary_pages: int
    receipt_pages: int
    merged: int  # files merged into the PDF
    not_merged: list[str]  # names of files that could not be (kept in the ZIP only)

    @property
    def pages(self) -> int:
        return self.summary_pages + self.receipt_pages


# --- names -------------------------------------------------------------------------------------------


def sanitise_name(name: str, *, fallback: str = "file") -> str:
    """A file name safe in any archive and file system: no folders, no control or reserved characters,
    no leading dot, at most 100 characters (the extension kept)."""
    name = unicodedata.normalize("NFKC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]+", "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        return fallback
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 10:
        stem, extension = name, ""
    stem = stem[: 100 - len(extension) - 1] if extension else stem[:100]
    return f"{stem}.{extension}" if extension else stem


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    stem, dot, extension = name.rpartition(".")
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}-{n}.{extension}" if dot else f"{name}-{n}"
    taken.add(candidate.lower())
    return candidate


def archive_names(files: Iterable[PackFile]) -> list[str]:
    """Each file's name in the ZIP: ``<section>/<sanitised original name>``, made unique."""
    taken: set[str] = set()
    names = []
    for index, item in enumerate(files, start=1):
        folder = sanitise_name(item.section, fallback="") if item.section else ""
        name = sanitise_name(item.name, fallback=f"file-{index}")
        names.append(_unique(f"{folder}/{name}" if folder else name, taken))
    return names


# --- ZIP ---------------------------------------------------------------------------------------------


def write_zip(document: PackDocument, out: IO[bytes]) -> list[dict[str, Any]]:
    """The original files, copied in chunks, and manifest.csv (name, original name, section, type, size,
    SHA-256 of the bytes written). Returns the manifest rows."""
    import zipfile

    manifest = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item, arcname in zip(document.files, archive_names(document.files), strict=True):
            digest = hashlib.sha256()
            size = 0
            with item.open() as source, archive.open(arcname, "w", force_zip64=True) as target:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    target.write(chunk)
            manifest.append(
                {
                    "file": arcname,
                    "original_name": item.name,
                    "section": item.section,
                    "content_type": item.content_type,
                    "size": size,
                    "sha256": digest.hexdigest(),
                }
            )
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=["file", "original_name", "section", "content_type", "size", "sha256"])
        writer.writeheader()
        writer.writerows(manifest)
        archive.writestr("manifest.csv", text.getvalue().encode("utf-8-sig"))
    return manifest


# --- PDF ---------------------------------------------------------------------------------------------


def write_pdf(document: PackDocument, out: IO[bytes]) -> PdfResult:
    """The summary pages (facts, tables, timeline), then each PDF receipt's pages and each image on a page
    of its own; a file that cannot be merged (another type, or a damaged PDF) is named on a page instead."""
    from pypdf import PdfReader, PdfWriter

    # pypdf reads the appended pages when it writes: every spooled receipt stays open until then.
    with contextlib.ExitStack() as files:
        summary = files.enter_context(tempfile.TemporaryFile())
        _render_summary(document, summary)
        summary.seek(0)
        writer = PdfWriter()
        writer.append(PdfReader(summary))
        summary_pages = len(writer.pages)
        merged, not_merged = 0, []
        for item in document.files:
            page_file = files.enter_context(tempfile.TemporaryFile())
            if _receipt_pages(item, page_file):
                merged += 1
            else:
                not_merged.append(item.name)
                page_file.seek(0)
                page_file.truncate()
                _render_notice(item, page_file)
            page_file.seek(0)
            writer.append(PdfReader(page_file))
        writer.add_metadata({"/Title": document.title, "/Producer": "Baoxiao"})
        writer.write(out)
    return PdfResult(summary_pages, len(writer.pages) - summary_pages, merged, not_merged)


def _receipt_pages(item: PackFile, target: IO[bytes]) -> bool:
    """Write the receipt as PDF pages into ``target``; False when it cannot be."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        if item.content_type in PDF_TYPES:
            with item.open() as source:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
            target.seek(0)
            reader = PdfReader(target)
            return not reader.is_encrypted and len(reader.pages) > 0
        if item.content_type in IMAGE_TYPES:
            _render_image(item, target)
            return True
    except (PyPdfError, OSError, ValueError):
        return False
    return False


def _render_image(item: PackFile, target: IO[bytes]) -> None:
    """One A4 page: the file's name, then the image scaled to fit, never enlarged past its pixels."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    with item.open() as source, Image.open(source) as image:
        image.load()
        picture = image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
    width, height = A4
    margin = 15 * mm
    page = canvas.Canvas(target, pagesize=A4, pageCompression=1)
    caption = f"{item.section} · {item.name}" if item.section else item.name
    page.setFont(_font(caption), 9)
    page.drawString(margin, height - margin, caption[:120])
    box_w, box_h = width - 2 * margin, height - 2 * margin - 8 * mm
    scale = min(box_w / picture.width, box_h / picture.height, 1.0)
    draw_w, draw_h = picture.width * scale, picture.height * scale
    page.drawImage(
        ImageReader(picture), margin, height - margin - 8 * mm - draw_h, width=draw_w, height=draw_h, mask=None
    )
    page.showPage()
    page.save()


def _render_notice(item: PackFile, target: IO[bytes]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    page = canvas.Canvas(target, pagesize=A4)
    width, height = A4
    lines = [
        f"{item.section} · {item.name}" if item.section else item.name,
        _("This file cannot be shown in the PDF (%(type)s). It is in the ZIP of original files.")
        % {"type": item.content_type},
    ]
    y = height - 25 * mm
    for text in lines:
        page.setFont(_font(text), 11)
        page.drawString(20 * mm, y, text[:110])
        y -= 8 * mm
    page.showPage()
    page.save()


def _render_summary(document: PackDocument, target: IO[bytes]) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

    _register_fonts()
    width = A4[0] - 30 * mm
    story: list[Any] = [_para(document.title, 16, bold=True)]
    if document.subtitle:
        story.append(_para(document.subtitle, 10))
    story.append(Spacer(1, 4 * mm))
    if document.facts:
        rows = [[_para(label, 9, bold=True), _para(value, 9)] for label, value in document.facts]
        facts = Table(rows, colWidths=[40 * mm, width - 40 * mm])
        facts.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
        story.append(facts)
    tables = list(document.tables)
    tables.append(_timeline_table(document.timeline))
    for table in tables:
        story.append(Spacer(1, 5 * mm))
        story.append(_para(table.heading, 12, bold=True))
        story.append(Spacer(1, 2 * mm))
        if not table.rows:
            story.append(_para(table.empty or "—", 9))
            continue
        data = [[_para(c, 8, bold=True) for c in table.columns]]
        data += [[_para(cell, 8) for cell in row] for row in table.rows]
        weights = table.widths or (1.0,) * len(table.columns)
        grid = Table(data, repeatRows=1, colWidths=[width * w / sum(weights) for w in weights])
        grid.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(grid)
    generated = _("Generated %(time)s") % {"time": timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")}

    def footer(canvas: Any, doc: Any) -> None:
        text = f"{document.title} · {generated} · {doc.page}"
        canvas.setFont(_font(text), 7)
        canvas.drawString(15 * mm, 8 * mm, text)

    SimpleDocTemplate(
        target,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=document.title,
    ).build(story, onFirstPage=footer, onLaterPages=footer)


def _timeline_table(items: list[Any]) -> PackTable:
    rows = []
    for item in items:
        details = "; ".join(
            f"{change.label}: {change.before or '—'} → {change.after or '—'}" for change in getattr(item, "changes", ())
        ) or "; ".join(f"{key}: {value}" for key, value in getattr(item, "details", ()))
        actor = item.actor
        if getattr(item, "on_behalf_of", ""):
            actor = _("%(actor)s for %(other)s") % {"actor": actor, "other": item.on_behalf_of}
        sequence = f"#{item.sequence}" if getattr(item, "sequence", None) else ""
        rows.append(
            [timezone.localtime(item.at).strftime("%Y-%m-%d %H:%M:%S"), item.label, actor, details[:500], sequence]
        )
    return PackTable(
        _("Audit timeline"),
        [_("Time"), _("What"), _("Who"), _("Details"), _("Chain")],
        rows,
        empty=_("Nothing recorded yet."),
        widths=(2.2, 2.2, 1.6, 5.0, 0.8),
    )


_fonts_registered = False


def _register_fonts() -> None:
    global _fonts_registered
    if not _fonts_registered:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _fonts_registered = True


def _font(text: str, *, bold: bool = False) -> str:
    """Helvetica where it can draw every character, the Chinese CID font otherwise."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        _register_fonts()
        return CJK_FONT
    return LATIN_BOLD if bold else LATIN_FONT


def _para(text: str, size: float, *, bold: bool = False) -> Any:
    from xml.sax.saxutils import escape

    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph

    text = str(text or "")
    font = _font(text, bold=bold)
    wrap = "CJK" if font == CJK_FONT else None  # Chinese breaks between any two characters, Latin between words
    style = ParagraphStyle("pack", fontName=font, fontSize=size, leading=size * 1.3, wordWrap=wrap)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)
