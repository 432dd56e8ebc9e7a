"""The OA contract (docs/oa-contract.md) holds: every CloudEvent we send validates against the JSON Schema of
its type in docs/schemas/, every event type the code can emit has a schema, and every schema is exercised.

Claims are driven through the real services (submit, route, comment, cut, transfer, add an approver,
approve, pay; return and resubmit; reject; withdraw and void; SLA reminder and escalation; an approver
leaving), then each OutboxEvent's exact body (oa_bridge.cloudevents.body) is validated.
"""

from __future__ import annotations

import ast
import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from approvals import services as approvals
from approvals.choices import TaskStatus
from approvals.models import ApprovalTask
from oa_bridge.cloudevents import body
from oa_bridge.models import OutboxEvent
from oa_bridge.services.outbox import EVENT_TYPE_PREFIX
from reimbursement import services as claims
from reimbursement.services.transitions import TRANSITIONS, claim_transition, lock_claim
from tests.reimbursement.factories import make_claim, submit

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
INBOUND = SCHEMAS / "inbound"
SHARED = {"envelope.json"}  # referenced by every event schema, not an event type itself
APPS = ("org", "reimbursement", "approvals", "audit", "oa_bridge", "config")


def load_schemas(folder: Path) -> dict[str, dict]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}


def validator_for(name: str) -> Draft202012Validator:
    """A validator for one schema file; references between files resolve by file name."""
    outbound, inbound = load_schemas(SCHEMAS), load_schemas(INBOUND)
    registry = Registry().with_resources(
        [(file, Resource.from_contents(schema)) for file, schema in (outbound | inbound).items()]
    )
    schema = outbound.get(name) or inbound[name]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def event_types_in_code() -> set[str]:
    """Every event type the code can send: the transition table's events and each literal name passed to
    ``claim_event(name=...)`` anywhere in the apps (a name that is not a literal fails the test)."""
    names = {event for _, _, event in TRANSITIONS.values()}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if called != "claim_event":
                    continue
                [name] = [k.value for k in node.keywords if k.arg == "name"] or [None]
                assert isinstance(name, ast.Constant) and isinstance(name.value, str), (
                    f"{path.relative_to(ROOT)}:{node.lineno}: claim_event needs a literal name= so the contract "
                    "test can find every event type"
                )
                names.add(name.value)
    return {EVENT_TYPE_PREFIX + name for name in names}


def pending(claim) -> list[ApprovalTask]:
    return list(ApprovalTask.objects.filter(claim=claim, status=TaskStatus.PENDING).select_related("assignee__user"))


def decide(claim, how: str = "approve", reason: str = "") -> None:
    task = pending(claim)[0]
    user = task.assignee.user
    if how == "approve":
        approvals.task_approve(task_id=task.pk, actor=user, comment=reason)
    elif how == "return":
        approvals.task_return(task_id=task.pk, actor=user, reason=reason or "Add the taxi receipt")
    else:
        approvals.task_reject(task_id=task.pk, actor=user, reason=reason or "Not a business expense")


def finance_moves(claim, *actions: str, actor) -> None:
    """Payment and voiding have no service of their own yet: finance moves the claim through the one
    transition path every service uses (lock, check the table, audit, publish)."""
    for action in actions:
        with transaction.atomic():
            claim_transition(claim=lock_claim(claim.pk), action=action, actor=actor, data={"by": "finance"})


def drive_every_journey(people) -> None:
    """Claims through every path that sends an event to the OA."""
    finance = people["sunli"].user
    # 1. Submit, comment, cut a line, transfer, add an approver before me, approve, then payment.
    paid = make_claim(people["zhangwei"], lines=2, amount=Decimal("120.00"))
    submit(paid)
    approvals.claim_comment_add(claim_id=paid.pk, actor=people["zhangwei"].user, text="Receipts attached")
    task = pending(paid)[0]
    approvals.task_cut_line(
        task_id=task.pk, actor=task.assignee.user, line_id=paid.lines.first().pk, amount="100.00", reason="Cap"
    )
    approvals.task_transfer(task_id=task.pk, actor=task.assignee.user, to=people["zhoujing"], comment="On leave")
    task = pending(paid)[0]
    approvals.task_add_approver(
        task_id=task.pk, actor=task.assignee.user, approver=people["sunli"], before=True, comment="Budget check"
    )
    while pending(paid):
        decide(paid)
    finance_moves(paid, "start_payment", "payment_failed", "start_payment", "pay", actor=finance)
    # 2. Returned, resubmitted, rejected.
    rejected = submit(make_claim(people["lina"]))
    decide(rejected, "return")
    submit(rejected)
    decide(rejected, "reject")
    # 3. Withdrawn, then voided by finance.
    withdrawn = submit(make_claim(people["wuhao"]))
    claims.claim_withdraw(claim_id=withdrawn.pk, actor=people["wuhao"].user, reason="Wrong trip")
    finance_moves(withdrawn, "void", actor=finance)
    # 4. An approver who lets it wait: reminded, then escalated.
    late = submit(make_claim(people["heming"]))
    later = timezone.now() + datetime.timedelta(days=30)
    approvals.tasks_remind_and_escalate(now=later)
    approvals.tasks_remind_and_escalate(now=later + datetime.timedelta(days=30))
    approvals.tasks_remind_and_escalate(now=later + datetime.timedelta(days=60))
    assert late.pk
    # 5. An approver who leaves: the open task is reassigned.
    orphan = submit(make_claim(people["xuli"]))
    leaver = pending(orphan)[0].assignee
    leaver.active = False
    leaver.save(update_fields=["active"])
    approvals.tasks_reassign_for(employee=leaver)


@pytest.fixture
def sent_events(demo_company, settings):
    settings.BAOXIAO_REMINDERS_BEFORE_ESCALATION = 1
    drive_every_journey(demo_company)
    return list(OutboxEvent.objects.select_related("connector").order_by("subject", "seq"))


def test_every_event_type_the_code_can_send_has_a_schema_and_every_schema_is_a_type_we_send():
    documented = {name.removesuffix(".json") for name in load_schemas(SCHEMAS)} - {
        name.removesuffix(".json") for name in SHARED
    }
    in_code = event_types_in_code()
    assert in_code - documented == set(), "event types without a schema in docs/schemas/"
    assert documented - in_code == set(), "schemas in docs/schemas/ for event types the code never sends"


def test_every_event_sent_validates_against_its_schema_and_every_schema_is_exercised(sent_events):
    exercised: set[str] = set()
    for event in sent_events:
        document = json.loads(body(event))
        schema_file = f"{event.type}.json"
        assert (SCHEMAS / schema_file).exists(), f"no schema for {event.type}"
        errors = sorted(validator_for(schema_file).iter_errors(document), key=lambda e: list(e.path))
        assert not errors, f"{event.type} #{event.seq}: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors
        )
        exercised.add(event.type)
    documented = {name.removesuffix(".json") for name in load_schemas(SCHEMAS)} - {
        name.removesuffix(".json") for name in SHARED
    }
    assert documented - exercised == set(), "schemas no journey in this test exercised"


def test_each_claim_carries_a_growing_seq_and_its_full_snapshot(sent_events):
    by_subject: dict[str, list[int]] = {}
    for event in sent_events:
        document = json.loads(body(event))
        assert document["data"]["seq"] == event.seq and document["data"]["claim"]["id"] == int(event.subject)
        by_subject.setdefault(event.subject, []).append(event.seq)
    for seqs in by_subject.values():
        assert seqs == list(range(1, len(seqs) + 1))  # one event per seq, none missing


def test_the_envelope_schema_refuses_what_a_receiver_must_not_accept(sent_events):
    event = next(e for e in sent_events if e.type.endswith("claim.submitted"))
    validator = validator_for("com.baoxiao.claim.submitted.json")
    good = json.loads(body(event))
    assert validator.is_valid(good)
    for broken in (
        {**good, "specversion": "0.3"},
        {**good, "type": "com.baoxiao.claim.paid"},
        {key: value for key, value in good.items() if key != "id"},
        {**good, "data": {**good["data"], "seq": 0}},
        {**good, "data": {key: value for key, value in good["data"].items() if key != "claim"}},
    ):
        assert not validator.is_valid(broken)


def test_the_examples_in_the_contract_validate(sent_events):
    """docs/oa-contract.md shows one example per type (```json blocks after an "Example" line)."""
    text = (ROOT / "docs" / "oa-contract.md").read_text(encoding="utf-8")
    examples = [block.split("```", 1)[0] for block in text.split("```json\n")[1:]]
    checked = set()
    for raw in examples:
        document = json.loads(raw)
        name = f"{document.get('type', '')}.json"
        if (SCHEMAS / name).exists() or (INBOUND / name).exists():
            errors = list(validator_for(name).iter_errors(document))
            assert not errors, f"example of {name}: {errors[0].message}"
            checked.add(name)
    wanted = {f"{e.type}.json" for e in sent_events} | {"com.baoxiao.approval.decision.json"}
    assert wanted <= checked, "types without an example in docs/oa-contract.md"


def test_what_the_oa_sends_us_matches_the_inbound_schemas(demo_company, monkeypatch):
    """The sandbox builds its decisions and directory notices like any OA would; they follow the contract."""
    from oa_bridge.models import Connector
    from oa_bridge.sandbox import client

    sent: list[dict] = []

    class Answer:
        status_code, text = 200, '{"result": "applied"}'

    def capture(url, data, headers, timeout):
        sent.append(json.loads(data))
        return Answer()

    monkeypatch.setattr(client.requests, "post", capture)
    connector = Connector.objects.get(slug="sandbox")
    client.send_to_baoxiao(
        connector,
        "com.baoxiao.approval.decision",
        {"task_id": 7, "decision": "approve", "approver": "u-liuyang", "comment": "OK"},
    )
    client.send_to_baoxiao(connector, "com.baoxiao.directory.user.changed", {"id": "u-lina"})
    client.send_to_baoxiao(connector, "com.baoxiao.directory.department.changed", {"id": "d-platform"})
    exercised = set()
    for document in sent:
        name = f"{document['type']}.json"
        assert not list(validator_for(name).iter_errors(document)), document
        exercised.add(name)
    assert exercised == set(load_schemas(INBOUND)), "inbound schemas not exercised"
    bad = {**sent[0], "data": {"task_id": 7, "decision": "maybe", "approver": "u-liuyang"}}
    assert not validator_for("com.baoxiao.approval.decision.json").is_valid(bad)
