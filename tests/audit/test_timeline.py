"""The claim timeline: audit events and field changes merged in time order, in a fixed number of queries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from audit.models import AuditEvent
from audit.selectors import FieldChange, TimelineItem, timeline_for
from reimbursement import services as claims
from reimbursement.models import Claim, ClaimLine
from reimbursement.views.changes import ACTION_LABELS
from tests.audit.conftest import journey
from tests.reimbursement.factories import add_line, line_input, make_claim

pytestmark = pytest.mark.django_db
AUDIT = Path(__file__).resolve().parents[2] / "audit"


def claim_timeline(claim: Claim) -> list[TimelineItem]:
    return timeline_for(Claim, claim.pk, related={ClaimLine: "claim"}, action_labels=ACTION_LABELS)


def test_events_and_field_changes_are_merged_oldest_first(people):
    claim = journey(people)
    items = claim_timeline(claim)
    assert [item.at for item in items] == sorted(item.at for item in items)
    kinds = {item.kind for item in items}
    assert kinds == {"event", "change"}
    events = [item for item in items if item.is_event]
    assert [e.sequence for e in events] == sorted(e.sequence for e in events)
    actions = [e.action for e in events]
    assert actions.index("claim.created") < actions.index("claim.submitted") < actions.index("claim.returned")
    assert actions.index("claim.returned") < actions.index("claim.resubmitted") < actions.index("claim.approved")
    assert events[0].label == str(ACTION_LABELS["claim.created"]) and events[0].actor == "张伟"

    # The claim was created (a change) before its creation event was written. State changes are told once, by
    # the transition's event (with from and to), not again as a field change of the bookkeeping columns.
    assert items[0].kind == "change" and items[0].action == "created" and items[0].target_type == "reimbursement.claim"
    submitted = AuditEvent.objects.get(action="claim.submitted", target_id=str(claim.pk))
    assert (submitted.data["from"], submitted.data["to"]) == ("draft", "submitted")
    bookkeeping = {"status", "event_seq", "submission_count", "number", "total_amount"}
    assert not [
        c
        for item in items
        if item.kind == "change" and item.action == "changed"
        for c in item.changes
        if c.field in bookkeeping
    ]

    # What a person edits on the claim itself is a field change.
    draft = make_claim(people["zhangwei"])
    claims.claim_update(claim_id=draft.pk, actor=people["zhangwei"].user, purpose="Printer paper, 3rd floor")
    edited = [i for i in claim_timeline(draft) if i.target_type == "reimbursement.claim" and i.action == "changed"]
    assert any(c.field == "purpose" and c.after == "Printer paper, 3rd floor" for i in edited for c in i.changes)

    # The line edit shows what changed, the removed line is still there (found through its creation entry).
    line_items = [item for item in items if item.target_type == "reimbursement.claimline"]
    assert [item.action for item in line_items].count("created") == 2
    changed = next(item for item in line_items if item.action == "changed")
    assert FieldChange("description", "Description", "Printer paper", "Paper for the 3rd floor") in changed.changes
    assert any(item.action == "deleted" for item in line_items)


def test_foreign_keys_and_choices_are_named_not_numbered(people):
    claim = make_claim(people["zhangwei"])
    line = claim.lines.get()
    claims.line_update(line_id=line.pk, actor=people["zhangwei"].user, data=line_input(category="meals"))
    items = claim_timeline(claim)
    change = next(i for i in items if i.target_type == "reimbursement.claimline" and i.action == "changed")
    category = next(c for c in change.changes if c.field == "category")
    assert (category.before, category.after) == ("Office supplies", "Meals")
    created = next(i for i in items if i.target_type == "reimbursement.claim" and i.action == "created")
    assert FieldChange("claimant", "Claimant", "", "张伟") in created.changes
    assert not any(c.field in {"id", "created_at", "updated_at"} for i in items for c in i.changes)


def test_other_claims_do_not_leak_in(people):
    mine = make_claim(people["zhangwei"])
    other = make_claim(people["lina"], purpose="Someone else's")
    items = claim_timeline(mine)
    assert {i.target_id for i in items if i.target_type == "reimbursement.claim"} == {str(mine.pk)}
    assert str(other.lines.get().pk) not in {i.target_id for i in items}


def test_explicit_ids_and_labels_work_too(people):
    claim = make_claim(people["zhangwei"], lines=2)
    first = claim.lines.order_by("position").first()
    items = timeline_for("reimbursement.claim", str(claim.pk), related={"reimbursement.claimline": [first.pk]})
    lines = {i.target_id for i in items if i.target_type == "reimbursement.claimline"}
    assert lines == {str(first.pk)}


def test_the_timeline_costs_the_same_few_queries_for_1_or_12_lines(people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for lines in (1, 12):
        claim = make_claim(people["zhangwei"], lines=lines)
        for line in claim.lines.all():
            claims.line_update(line_id=line.pk, actor=people["zhangwei"].user, data=line_input(category="meals"))
        claims.line_remove(line_id=add_line(claim).pk, actor=people["zhangwei"].user)
        claim_timeline(claim)  # content types cached, as in a running server
        with CaptureQueriesContext(connection) as captured:
            items = claim_timeline(claim)
        assert len(items) >= 2 * lines + 3
        counts.append(len(captured))
    # Events, changes, and one each for the names behind changed foreign keys (categories, employees).
    assert counts[0] == counts[1] <= 5, counts


def test_the_partial_renders_the_items_without_inline_script_or_style(people):
    claim = journey(people)
    html = render_to_string("audit/partials/timeline.html", {"items": claim_timeline(claim)})
    assert 'data-testid="audit-timeline"' in html
    assert str(ACTION_LABELS["claim.approved"]) in html and "Paper for the 3rd floor" in html
    assert "<script" not in html and "style=" not in html
    assert "Nothing recorded yet" in render_to_string("audit/partials/timeline.html", {"items": []})


def test_the_audit_app_imports_no_other_app():
    others = {"org", "reimbursement", "approvals", "oa_bridge"}
    for path in AUDIT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not {name.split(".")[0] for name in names} & others, (path, names)
