"""Files for the bank and the ERP: the bank payment file of a batch and the journal of approved claims.
Layouts are documented column by column in docs/bank-file.md; change both together.

The bank file is small (one row per payee of one batch) and built in memory; it is the only place account
numbers are decrypted. The journal can span years of claims: rows are generated from a database iterator
and streamed (CSV) or written by openpyxl's write-only mode to a temporary file (XLSX), so memory stays flat.
"""

from __future__ import annotations

import csv
import datetime
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from config import crypto
from config.env import env_str
from reimbursement.models import ClaimLine, Payment, PaymentBatch
from reimbursement.services.payee import context as payee_context

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

BANK_FILE_COLUMNS = [
    "row",
    "payee_name",
    "account_number",
    "bank_name",
    "branch",
    "amount",
    "currency",
    "employee_no",
    "claim_count",
    "claim_numbers",
    "memo",
    "batch",
]

JOURNAL_COLUMNS = [
    "date",
    "claim_number",
    "line",
    "employee_no",
    "employee_name",
    "entry",
    "account",
    "category",
    "description",
    "cost_centre",
    "project",
    "net_amount",
    "tax_amount",
    "gross_amount",
    "currency",
]


def payable_account() -> str:
    """The liability account credited per claim (BAOXIAO_PAYABLE_ACCOUNT, 2241 "other payables" by default)."""
    return getattr(settings, "BAOXIAO_PAYABLE_ACCOUNT", "") or env_str("BAOXIAO_PAYABLE_ACCOUNT", "2241")


def safe_text(value: Any) -> str:
    """A text cell that a spreadsheet will not run as a formula (OWASP CSV injection): a leading
    = + - @ tab or carriage return gets an apostrophe in front."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


# --- Bank file ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankFile:
    filename: str
    content: bytes
    row_count: int
    total: Decimal


def bank_file(*, batch: PaymentBatch, payments: list[Payment]) -> BankFile:
    """One row per payee with the summed amount of their claims in the batch; UTF-8 with BOM, CRLF.

    ``payments`` are the batch's pending payments with ``payee__payee_account`` and ``claim`` loaded.
    """
    by_payee: dict[int, list[Payment]] = {}
    for payment in payments:
        by_payee.setdefault(payment.payee_id, []).append(payment)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(BANK_FILE_COLUMNS)
    total = ZERO
    for row, group in enumerate(by_payee.values(), start=1):
        payee = group[0].payee
        account = payee.payee_account
        number = crypto.decrypt(
            account.account_number_encrypted, context=payee_context(account, account.employee_id, "account_number")
        )
        amount = sum((p.amount for p in group), ZERO)
        total += amount
        claims = [p.claim.number for p in sorted(group, key=lambda p: p.claim_id)]
        writer.writerow(
            [
                row,
                safe_text(account.account_name),
                number,
                safe_text(account.bank_name),
                safe_text(account.branch),
                money(amount),
                batch.currency,
                safe_text(payee.employee_no),
                len(claims),
                ";".join(claims),
                f"{batch.number} reimbursement",
                batch.number,
            ]
        )
    return BankFile(
        filename=f"bank-file-{batch.number}.csv",
        content=("\ufeff" + buffer.getvalue()).encode("utf-8"),
        row_count=len(by_payee),
        total=total,
    )


# --- Journal --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalRow:
    date: datetime.date
    claim_number: str
    line: int | None  # None on the balancing credit
    employee_no: str
    employee_name: str
    entry: str  # "debit" or "credit"
    account: str
    category: str
    description: str
    cost_centre: str
    project: str
    net_amount: Decimal
    tax_amount: Decimal
    gross_amount: Decimal
    currency: str


def line_amounts(line: ClaimLine) -> tuple[Decimal, Decimal, Decimal]:
    """(net, tax, gross) of a line in the claim's base currency, as approved.

    Gross is the approved amount (the claimed base amount unless an approver cut it). The invoice's tax is
    in the line's currency: converted at the line's rate, and scaled down in proportion when the line was
    cut, never above the gross. Net is gross minus tax.
    """
    gross = line.approved_amount if line.approved_amount is not None else line.base_amount
    tax = (line.tax_amount * line.fx_rate).quantize(CENT, rounding=ROUND_HALF_UP)
    if line.base_amount and gross != line.base_amount:
        tax = (tax * gross / line.base_amount).quantize(CENT, rounding=ROUND_HALF_UP)
    tax = min(tax, gross)
    return gross - tax, tax, gross


def journal_rows(lines: QuerySet[ClaimLine]) -> Iterator[JournalRow]:
    """A debit per line with something approved, then the claim's balancing credit to the payable account.

    ``lines`` must be ordered by claim (``journal_lines`` does); read in chunks, never all at once.
    """
    payable = payable_account()
    current = None
    sums = [ZERO, ZERO, ZERO]
    first_row: JournalRow | None = None

    def credit() -> JournalRow:
        assert first_row is not None
        return JournalRow(
            date=first_row.date,
            claim_number=first_row.claim_number,
            line=None,
            employee_no=first_row.employee_no,
            employee_name=first_row.employee_name,
            entry="credit",
            account=payable,
            category="",
            description=current.purpose,
            cost_centre=current.cost_centre,
            project=current.project,
            net_amount=sums[0],
            tax_amount=sums[1],
            gross_amount=sums[2],
            currency=current.base_currency,
        )

    for line in lines.iterator(chunk_size=1000):
        claim = line.claim
        if current is None or claim.pk != current.pk:
            if first_row is not None:
                yield credit()
            current, sums, first_row = claim, [ZERO, ZERO, ZERO], None
        net, tax, gross = line_amounts(line)
        if gross <= 0:
            continue
        row = JournalRow(
            date=timezone.localdate(claim.decided_at),
            claim_number=claim.number,
            line=line.position,
            employee_no=claim.claimant.employee_no,
            employee_name=claim.claimant.name,
            entry="debit",
            account=line.category.accounting_code,
            category=line.category.code,
            description=line.description or line.merchant,
            cost_centre=claim.cost_centre,
            project=claim.project,
            net_amount=net,
            tax_amount=tax,
            gross_amount=gross,
            currency=claim.base_currency,
        )
        sums = [sums[0] + net, sums[1] + tax, sums[2] + gross]
        first_row = first_row or row
        yield row
    if first_row is not None:
        yield credit()


def _csv_values(row: JournalRow) -> list[str]:
    return [
        row.date.isoformat(),
        row.claim_number,
        "" if row.line is None else str(row.line),
        safe_text(row.employee_no),
        safe_text(row.employee_name),
        row.entry,
        safe_text(row.account),
        row.category,
        safe_text(row.description),
        safe_text(row.cost_centre),
        safe_text(row.project),
        money(row.net_amount),
        money(row.tax_amount),
        money(row.gross_amount),
        row.currency,
    ]


class _Echo:
    """A file-like object whose write returns the text, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


def journal_csv(rows: Iterable[JournalRow]) -> Iterator[str]:
    """The journal as CSV text, a row at a time (UTF-8 with BOM when encoded, CRLF)."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(JOURNAL_COLUMNS)
    for row in rows:
        yield writer.writerow(_csv_values(row))


def journal_xlsx(rows: Iterable[JournalRow]) -> IO[bytes]:
    """The journal as an XLSX workbook in a temporary file (rewound), written row by row."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Journal")
    sheet.freeze_panes = "A2"
    sheet.append(JOURNAL_COLUMNS)
    for row in rows:
        date = WriteOnlyCell(sheet, value=row.date)
        date.number_format = "yyyy-mm-dd"
        amounts = []
        for value in (row.net_amount, row.tax_amount, row.gross_amount):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = "0.00"
            amounts.append(cell)
        values = _csv_values(row)
        sheet.append([date, *values[1:2], row.line, *values[3:11], *amounts, row.currency])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    workbook.save(handle)
    handle.seek(0)
    return handle
