"""Claim builders for tests, through the real services."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from reimbursement import services
from reimbursement.models import Claim, ClaimLine, ExpenseCategory
from reimbursement.services import LineInput

# A minimal valid PNG (1x1 pixel); ``png(n)`` gives distinct files with distinct hashes.
PNG_HEADER = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def png(tag: int = 0, name: str = "receipt.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG_HEADER + f"tEXt{tag}".encode(), content_type="image/png")


def pdf(name: str = "invoice.pdf", body: bytes = b"") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.7\n" + body + b"\n%%EOF\n", content_type="application/pdf")


def category(code: str = "meals") -> ExpenseCategory:
    return ExpenseCategory.objects.get(code=code)


def line_input(**overrides) -> LineInput:
    values = {
        "expense_date": timezone.localdate() - datetime.timedelta(days=3),
        "category_id": category(overrides.pop("category", "office")).pk,
        "amount": Decimal("88.00"),
        "currency": "CNY",
        "description": "Printer paper",
        "merchant": "Office shop",
    }
    values.update(overrides)
    return LineInput(**values)


def make_claim(employee, lines: int = 1, purpose: str = "Trip to Shanghai", **line_overrides) -> Claim:
    claim = services.claim_create(claimant=employee, actor=employee.user, purpose=purpose)
    for _ in range(lines):
        services.line_add(claim_id=claim.pk, actor=employee.user, data=line_input(**line_overrides))
    claim.refresh_from_db()
    return claim


def add_line(claim: Claim, **overrides) -> ClaimLine:
    return services.line_add(claim_id=claim.pk, actor=claim.claimant.user, data=line_input(**overrides))


__all__ = ["add_line", "category", "io", "line_input", "make_claim", "pdf", "png"]


def submit(claim: Claim, justification: str = "Justified for the test") -> Claim:
    """Submit, justifying every warning the policy raises."""
    from reimbursement.policy import evaluate_claim

    keys = {h.key: justification for h in evaluate_claim(claim) if h.severity == "warn"}
    return services.claim_submit(claim_id=claim.pk, actor=claim.claimant.user, justifications=keys)
