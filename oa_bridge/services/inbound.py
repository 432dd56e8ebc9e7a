"""Applying what an OA sends: approval decisions through the same services a person uses, directory
change notices as a targeted re-fetch. Each sender id is recorded once, first, so a replay is a no-op."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from approvals import services as approvals
from approvals.choices import DecisionChannel
from config.errors import ApplicationError, ConflictError, NotFoundError
from oa_bridge.connectors.base import InboundMessage
from oa_bridge.models import Connector, InboundEvent
from org.models import EmployeeExternalId

log = logging.getLogger(__name__)

DECISION = "com.baoxiao.approval.decision"
DIRECTORY_TYPES = {"com.baoxiao.directory.user.changed", "com.baoxiao.directory.department.changed"}


@dataclass
class InboundOutcome:
    status: int  # the HTTP answer
    result: str  # applied / duplicate / already_decided / ignored / rejected
    detail: str = ""


def inbound_apply(*, connector: Connector, message: InboundMessage) -> InboundOutcome:
    """Record the event once, then apply it; the answer says what happened, in words for the sender."""
    try:
        with transaction.atomic():
            record = InboundEvent.objects.create(
                connector=connector,
                external_id=message.external_id[:200],
                type=message.type[:100],
                status="received",
                payload=message.raw,
            )
    except IntegrityError:
        return InboundOutcome(200, "duplicate", "this event id was received before; nothing changed")
    outcome = _apply(connector, message)
    InboundEvent.objects.filter(pk=record.pk).update(status=outcome.result, detail=outcome.detail[:500])
    level = logging.INFO if outcome.status < 400 else logging.WARNING
    log.log(
        level,
        "inbound %s %s from %s: %s %s",
        message.type,
        message.external_id,
        connector.slug,
        outcome.result,
        outcome.detail,
    )
    return outcome


def _apply(connector: Connector, message: InboundMessage) -> InboundOutcome:
    if message.type == DECISION:
        return _apply_decision(connector, message.data)
    if message.type in DIRECTORY_TYPES:
        # data.id, or data.ids for vendors whose one event names several people (DingTalk's UserId list).
        ids = [str(i) for i in (message.data.get("ids") or [message.data.get("id")]) if i not in (None, "")]
        if not ids:
            return InboundOutcome(400, "rejected", "a directory event needs data.id")
        from oa_bridge.tasks import refetch_directory_entry

        kind = "user" if message.type.endswith("user.changed") else "department"
        for external_id in ids:
            transaction.on_commit(
                lambda external_id=external_id: refetch_directory_entry.delay(connector.pk, kind, external_id),
                robust=True,
            )
        return InboundOutcome(202, "applied", f"re-fetch of {kind} {', '.join(ids)} queued")
    return InboundOutcome(200, "ignored", f"event type {message.type} is not handled")


def _apply_decision(connector: Connector, data: dict[str, Any]) -> InboundOutcome:
    decision = data.get("decision")
    approver = str(data.get("approver") or "")
    try:
        task_id = int(data.get("task_id"))
    except (TypeError, ValueError):
        return InboundOutcome(400, "rejected", "data.task_id must be a number")
    if decision not in ("approve", "reject", "return"):
        return InboundOutcome(400, "rejected", "data.decision must be approve, reject or return")
    link = (
        EmployeeExternalId.objects.select_related("employee__user")
        .filter(connector=connector.slug, external_id=approver)
        .first()
    )
    if link is None or not link.employee.active:
        return InboundOutcome(422, "rejected", f"approver {approver!r} is not a known active employee of this OA")
    actor = link.employee.user
    comment = str(data.get("comment") or data.get("reason") or "")[:4000]
    try:
        if decision == "approve":
            approvals.task_approve(task_id=task_id, actor=actor, comment=comment, channel=DecisionChannel.OA)
        elif decision == "reject":
            approvals.task_reject(task_id=task_id, actor=actor, reason=comment, channel=DecisionChannel.OA)
        else:
            approvals.task_return(task_id=task_id, actor=actor, reason=comment, channel=DecisionChannel.OA)
    except ConflictError as exc:
        # Decided already (in the browser, or by an earlier delivery of this decision): nothing to do.
        return InboundOutcome(200, "already_decided", exc.message)
    except NotFoundError:
        return InboundOutcome(404, "rejected", f"task {task_id} does not exist or is not {approver}'s")
    except ApplicationError as exc:
        return InboundOutcome(422, "rejected", exc.message)
    return InboundOutcome(200, "applied", f"{decision} of task {task_id} by {link.employee.name}")
