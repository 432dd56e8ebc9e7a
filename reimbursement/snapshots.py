"""A claim as data: the snapshot sent to the OA and kept at each submission, and the diff between two."""

from __future__ import annotations

from typing import Any

from reimbursement.models import Claim, ClaimLine


def claim_snapshot(claim: Claim) -> dict[str, Any]:
    """Everything an approver or the OA needs to know about the claim, as JSON-ready values.

    The lines part is cached on the claim instance: one transition publishes several events, each with
    a snapshot, and line services always start from a freshly locked instance, so the cache cannot be
    stale within a service call.
    """
    lines = getattr(claim, "_snapshot_lines", None)
    if lines is None:
        lines = claim._snapshot_lines = _lines_snapshot(claim_lines(claim))
    return {
        "id": claim.pk,
        "number": claim.number,
        "status": claim.status,
        "claimant": {"id": claim.claimant_id, "name": claim.claimant.name, "employee_no": claim.claimant.employee_no},
        "department": claim.department_name,
        "purpose": claim.purpose,
        "cost_centre": claim.cost_centre,
        "project": claim.project,
        "currency": claim.base_currency,
        "total_amount": str(claim.total_amount),
        "approved_amount": str(claim.approved_amount) if claim.approved_amount is not None else None,
        "submitted_at": claim.submitted_at.isoformat() if claim.submitted_at else None,
        "lines": lines,
    }


def claim_lines(claim: Claim) -> list[ClaimLine]:
    """The claim's lines in order with their category and attachments: loaded once per service call.

    Cached on the instance like the snapshot (a submit checks policy, claims invoices, snapshots and routes
    the same lines); services that change lines start from a freshly locked instance.
    """
    lines = getattr(claim, "_loaded_lines", None)
    if lines is None:
        lines = claim._loaded_lines = list(
            claim.lines.select_related("category").prefetch_related("attachments").order_by("position", "id")
        )
    return lines


def _lines_snapshot(lines: list[ClaimLine]) -> list[dict[str, Any]]:
    return [
        {
            "id": line.pk,
            "date": line.expense_date.isoformat(),
            "category": line.category.code,
            "description": line.description,
            "merchant": line.merchant,
            "amount": str(line.amount),
            "currency": line.currency,
            "fx_rate": str(line.fx_rate),
            "base_amount": str(line.base_amount),
            "tax_amount": str(line.tax_amount),
            "approved_amount": str(line.approved_amount) if line.approved_amount is not None else None,
            "invoice_kind": line.invoice_kind,
            "invoice_code": line.invoice_code,
            "invoice_number": line.invoice_number,
            "attachments": sorted(a.sha256 for a in line.attachments.all()),
        }
        for line in lines
    ]


LINE_FIELDS = [
    "date",
    "category",
    "description",
    "merchant",
    "amount",
    "currency",
    "fx_rate",
    "base_amount",
    "tax_amount",
    "invoice_kind",
    "invoice_code",
    "invoice_number",
    "attachments",
]
CLAIM_FIELDS = ["purpose", "cost_centre", "project", "total_amount"]


def snapshot_diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed from one submission to the next: claim fields, and lines added, removed or changed."""
    changes: list[dict[str, Any]] = []
    for name in CLAIM_FIELDS:
        if before.get(name) != after.get(name):
            changes.append({"kind": "claim", "field": name, "before": before.get(name), "after": after.get(name)})
    old = {line["id"]: line for line in before.get("lines", [])}
    new = {line["id"]: line for line in after.get("lines", [])}
    for line_id, line in new.items():
        if line_id not in old:
            changes.append({"kind": "line_added", "line": line_id, "after": line})
            continue
        for name in LINE_FIELDS:
            if old[line_id].get(name) != line.get(name):
                changes.append(
                    {
                        "kind": "line",
                        "line": line_id,
                        "field": name,
                        "before": old[line_id].get(name),
                        "after": line.get(name),
                    }
                )
    for line_id, line in old.items():
        if line_id not in new:
            changes.append({"kind": "line_removed", "line": line_id, "before": line})
    return changes
