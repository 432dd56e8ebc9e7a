"""Turning stored data into what the detail page says: the changes since the last submission and the
timeline, with labels in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reimbursement.choices import InvoiceKind
from reimbursement.models import Claim

FIELD_LABELS = {
    "purpose": gettext_lazy("Purpose"),
    "cost_centre": gettext_lazy("Cost centre"),
    "project": gettext_lazy("Project"),
    "total_amount": gettext_lazy("Total"),
    "date": gettext_lazy("Date"),
    "category": gettext_lazy("Category"),
    "description": gettext_lazy("Description"),
    "merchant": gettext_lazy("Merchant"),
    "amount": gettext_lazy("Amount"),
    "currency": gettext_lazy("Currency"),
    "fx_rate": gettext_lazy("Exchange rate"),
    "base_amount": gettext_lazy("Amount in base currency"),
    "tax_amount": gettext_lazy("Tax"),
    "invoice_kind": gettext_lazy("Invoice kind"),
    "invoice_code": gettext_lazy("Invoice code"),
    "invoice_number": gettext_lazy("Invoice number"),
    "attachments": gettext_lazy("Receipts"),
}

ACTION_LABELS = {
    "claim.created": gettext_lazy("Created"),
    "claim.submitted": gettext_lazy("Submitted"),
    "claim.resubmitted": gettext_lazy("Resubmitted"),
    "claim.withdrawn": gettext_lazy("Withdrawn"),
    "claim.routed": gettext_lazy("Sent for approval"),
    "claim.returned": gettext_lazy("Returned for changes"),
    "claim.rejected": gettext_lazy("Rejected"),
    "claim.approved": gettext_lazy("Approved"),
    "claim.payment_started": gettext_lazy("Payment started"),
    "claim.paid": gettext_lazy("Paid"),
    "claim.payment_failed": gettext_lazy("Payment failed"),
    "claim.voided": gettext_lazy("Voided"),
    "claim.line.fx_overridden": gettext_lazy("Exchange rate entered by hand"),
    # Written by the approvals app against the claim; named here so the timeline reads as sentences.
    "approval.routed": gettext_lazy("Approval route set"),
    "approval.unrouted": gettext_lazy("No approval route"),
    "approval.task.created": gettext_lazy("Waiting for approval"),
    "approval.task.decided": gettext_lazy("Approver decided"),
    "approval.task.reminded": gettext_lazy("Approver reminded"),
    "approval.task.escalated": gettext_lazy("Approval escalated"),
    "approval.task.reassigned": gettext_lazy("Approval reassigned"),
    "approval.task.transferred": gettext_lazy("Approval transferred"),
    "approval.approver_added": gettext_lazy("Approver added"),
}

DECISION_LABELS = {
    "approved": gettext_lazy("approved"),
    "rejected": gettext_lazy("rejected"),
    "returned": gettext_lazy("returned for changes"),
}


@dataclass
class Change:
    what: str
    before: str = ""
    after: str = ""
    kind: str = "changed"  # changed | added | removed


@dataclass
class TimelineEntry:
    label: str
    actor: str
    at: Any
    note: str = ""
    action: str = ""


def describe_changes(claim: Claim) -> list[Change]:
    """The stored diff of the last resubmission as sentences; empty when there is none."""
    diff = claim.changes_since_last_submission or []
    if not diff:
        return []
    categories = {line.category.code: line.category.name for line in claim.lines.all()}
    positions = {line.pk: line.position for line in claim.lines.all()}
    changes = []
    for item in diff:
        kind = item.get("kind")
        if kind == "claim":
            field = item.get("field", "")
            changes.append(
                Change(
                    str(FIELD_LABELS.get(field, field)),
                    _value(field, item.get("before")),
                    _value(field, item.get("after")),
                )
            )
        elif kind == "line":
            field = item.get("field", "")
            label = _("Line %(n)s: %(field)s") % {
                "n": positions.get(item.get("line"), "?"),
                "field": FIELD_LABELS.get(field, field),
            }
            changes.append(
                Change(
                    label, _value(field, item.get("before"), categories), _value(field, item.get("after"), categories)
                )
            )
        elif kind == "line_added":
            line = item.get("after") or {}
            label = _("Line %(n)s added") % {"n": positions.get(item.get("line"), "?")}
            changes.append(Change(label, after=_line_summary(line, categories), kind="added"))
        elif kind == "line_removed":
            changes.append(
                Change(_("Line removed"), before=_line_summary(item.get("before") or {}, categories), kind="removed")
            )
    return changes


def _value(field: str, value: Any, categories: dict[str, str] | None = None) -> str:
    if value is None or value == "":
        return "—"
    if field == "category":
        return (categories or {}).get(value, value)
    if field == "invoice_kind":
        return str(InvoiceKind(value).label) if value in InvoiceKind.values else value
    if field == "attachments":
        return _("%(n)d files") % {"n": len(value)}
    return str(value)


def _line_summary(line: dict[str, Any], categories: dict[str, str]) -> str:
    category = categories.get(line.get("category", ""), line.get("category", ""))
    parts = [line.get("date", ""), category, f"{line.get('amount', '')} {line.get('currency', '')}".strip()]
    if line.get("description"):
        parts.append(line["description"])
    return " · ".join(p for p in parts if p)


def _event_note(action: str, data: dict[str, Any]) -> str:
    if action == "claim.line.fx_overridden":
        return f"{data.get('currency', '')} {data.get('rate', '')} — {data.get('reason', '')}"
    if action == "approval.routed":
        return " → ".join(step.get("name", "") for step in data.get("steps", []) if not step.get("skipped"))
    if action.startswith("approval."):
        decision = data.get("decision")
        parts = [
            data.get("step", ""),
            data.get("assignee") or data.get("to", ""),
            str(DECISION_LABELS.get(decision, decision or "")),
            data.get("comment") or data.get("reason", ""),
        ]
        return " · ".join(str(p) for p in parts if p)
    return str(data.get("reason") or "")


def timeline_entries(claim: Claim, events: list) -> list[TimelineEntry]:
    """Audit events as timeline entries: what happened, who did it, when, and a reason when one was given.

    Creating a draft writes no audit event, so the claim's own creation time opens the timeline.
    """
    entries = []
    if not any(event.action == "claim.created" for event in events):
        entries.append(
            TimelineEntry(str(ACTION_LABELS["claim.created"]), claim.claimant.name, claim.created_at, action="created")
        )
    for event in events:
        data = event.data or {}
        note = _event_note(event.action, data)
        actor = event.actor_name or (event.actor.get_username() if event.actor else "")
        if not event.actor_id and actor in ("", "system"):  # the audit log's snapshot name for its own steps
            actor = _("system")
        if event.on_behalf_of_name:
            actor = _("%(actor)s for %(other)s") % {"actor": actor, "other": event.on_behalf_of_name}
        entries.append(
            TimelineEntry(
                label=str(ACTION_LABELS.get(event.action, event.action)),
                actor=actor,
                at=event.occurred_at,
                note=note,
                action=event.action,
            )
        )
    return entries
