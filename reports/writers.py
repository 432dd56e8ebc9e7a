"""CSV, XLSX and PDF from a report's columns and rows, in constant memory.

Rows arrive from a database iterator and leave one at a time: CSV as text chunks (streamed to the client
or written to a file), XLSX through openpyxl's write-only mode (rows go to a temporary file as they come),
PDF drawn page by page on a reportlab canvas. Text cells are made safe against spreadsheet formulas.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any

from django.utils import timezone

from reimbursement.payments.exports import safe_text
from reports.catalogue import Column

CENT = Decimal("0.01")
PROGRESS_EVERY = 10_000
Progress = Callable[[int], None] | None

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _local(value: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(value).replace(tzinfo=None, microsecond=0) if timezone.is_aware(value) else value


def text_value(value: Any, kind: str) -> str:
    """A cell as text (CSV, PDF, the screen's plain fallback)."""
    if value is None:
        return ""
    if kind == "money" and isinstance(value, Decimal):
        return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):.2f}"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return safe_text(value)


def _count(rows: Iterable[tuple], progress: Progress) -> Iterator[tuple]:
    n = 0
    for row in rows:
        yield row
        n += 1
        if progress and n % PROGRESS_EVERY == 0:
            progress(n)
    if progress:
        progress(n)


# --- CSV --------------------------------------------------------------------------------------------


_FORMULA_START = frozenset("=+-@\t\r")


def _text_cell(value: Any) -> str:
    if type(value) is str:
        return "'" + value if value and value[0] in _FORMULA_START else value
    return text_value(value, "text")


def _money_cell(value: Any) -> str:
    return "" if value is None else f"{value:.2f}" if isinstance(value, Decimal) else text_value(value, "money")


def _plain_cell(value: Any) -> str:
    return "" if value is None else str(value) if isinstance(value, int | Decimal) else text_value(value, "")


# One converter per column, picked once: a million lines are 17 million cells.
_CSV_CELL = {"text": _text_cell, "money": _money_cell, "int": _plain_cell, "number": _plain_cell}


def csv_chunks(columns: list[Column], rows: Iterable[tuple], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """The CSV as text chunks (UTF-8 BOM first so spreadsheets read Chinese, CRLF lines)."""
    cells = [_CSV_CELL.get(c.kind) or (lambda v, _k=c.kind: text_value(v, _k)) for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(c.label) for c in columns])
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow([cell(v) for cell, v in zip(cells, row, strict=False)])
        pending += 1
        if pending == rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()


def write_csv(columns: list[Column], rows: Iterable[tuple], out: IO[bytes], *, progress: Progress = None) -> None:
    for chunk in csv_chunks(columns, _count(rows, progress)):
        out.write(chunk.encode("utf-8"))


# --- XLSX -------------------------------------------------------------------------------------------


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return _local(value)
    if isinstance(value, Decimal | int | float | datetime.date):
        return value
    return safe_text(value)


def _sheet_title(title: str) -> str:
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title[:31] or "Sheet"


def write_xlsx_sheets(sheets: Iterable[tuple[str, list[Column], Iterable[tuple]]], out: IO[bytes]) -> None:
    """One workbook, one sheet per (title, columns, rows), written in openpyxl's write-only mode."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for title, columns, rows in sheets:
        sheet = workbook.create_sheet(_sheet_title(str(title)))
        kinds = [c.kind for c in columns]
        sheet.append([str(c.label) for c in columns])
        for row in rows:
            sheet.append([_xlsx_value(v, k) for v, k in zip(row, kinds, strict=False)])
    workbook.save(out)


def write_xlsx(
    columns: list[Column], rows: Iterable[tuple], out: IO[bytes], *, title: str = "Report", progress: Progress = None
) -> None:
    write_xlsx_sheets([(title, columns, _count(rows, progress))], out)


# --- PDF --------------------------------------------------------------------------------------------

_CJK_FONT = "STSong-Light"


def _fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if _CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))


def _fit(text: str, font: str, size: float, width: float) -> str:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…" if font == _CJK_FONT else text + "..."


def write_pdf(
    columns: list[Column],
    rows: Iterable[tuple],
    out: IO[bytes],
    *,
    title: str = "Report",
    subtitle: str = "",
    progress: Progress = None,
) -> None:
    """A paginated table on landscape A4: the header row repeated on every page, page numbers below.
    Drawn a page at a time, so memory does not grow with the rows held on screen."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen.canvas import Canvas

    _fonts()
    page_width, page_height = landscape(A4)
    margin, size, leading = 28, 7, 10
    canvas = Canvas(out, pagesize=(page_width, page_height), pageCompression=1)
    canvas.setTitle(title)
    weights = [2 if c.kind == "text" else 1 for c in columns]
    unit = (page_width - 2 * margin) / sum(weights)
    xs, widths = [], []
    x = margin
    for w in weights:
        xs.append(x)
        widths.append(w * unit - 4)
        x += w * unit
    kinds = [c.kind for c in columns]
    page = 0

    def draw(y: float, values: list[str], bold: bool = False) -> None:
        for value, left, width, kind in zip(values, xs, widths, kinds, strict=False):
            font = ("Helvetica-Bold" if bold else "Helvetica") if value.isascii() else _CJK_FONT
            canvas.setFont(font, size)
            value = _fit(value, font, size, width)
            if kind in ("money", "number", "int") and not bold:
                canvas.drawRightString(left + width, y, value)
            else:
                canvas.drawString(left, y, value)

    def start_page() -> float:
        nonlocal page
        page += 1
        y = page_height - margin
        heading = title if page == 1 else f"{title} ({page})"
        canvas.setFont("Helvetica-Bold" if heading.isascii() else _CJK_FONT, 11)
        canvas.drawString(margin, y, heading)
        if subtitle:
            canvas.setFont("Helvetica" if subtitle.isascii() else _CJK_FONT, 8)
            canvas.drawRightString(page_width - margin, y, subtitle)
        y -= 2 * leading
        draw(y, [str(c.label) for c in columns], bold=True)
        canvas.line(margin, y - 3, page_width - margin, y - 3)
        canvas.setFont("Helvetica", 7)
        canvas.drawRightString(page_width - margin, margin / 2, str(page))
        return y - leading - 2

    y = start_page()
    for row in _count(rows, progress):
        if y < margin:
            canvas.showPage()
            y = start_page()
        draw(y, [text_value(v, k).replace("\n", " ") for v, k in zip(row, kinds, strict=False)])
        y -= leading
    canvas.showPage()
    canvas.save()


def write(
    fmt: str,
    columns: list[Column],
    rows: Iterable[tuple],
    out: IO[bytes],
    *,
    title: str,
    subtitle: str = "",
    progress: Progress = None,
) -> None:
    if fmt == "xlsx":
        write_xlsx(columns, rows, out, title=title, progress=progress)
    elif fmt == "pdf":
        write_pdf(columns, rows, out, title=title, subtitle=subtitle, progress=progress)
    else:
        write_csv(columns, rows, out, progress=progress)
