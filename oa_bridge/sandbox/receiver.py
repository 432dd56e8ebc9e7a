"""What the sandbox does with an event it receives: verify, record, keep only the newest snapshot."""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import F

from oa_bridge import signing
from oa_bridge.credentials import get_credentials
from oa_bridge.models import Connector, SandboxClaimState, SandboxInboxEvent


def sandbox_receive(*, connector: Connector, headers: Mapping[str, str], raw: bytes) -> tuple[int, str]:
    """Record one delivery; returns the HTTP status and a short answer. Idempotent per webhook-id."""
    secrets = get_credentials(connector).get("webhook_secrets", [])
    problem = ""
    try:
        signing.verify(secrets, headers, raw)
    except signing.SignatureError as exc:
        problem = str(exc)
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return 400, "not JSON"
    event_id = str(document.get("id") or headers.get("webhook-id") or "")
    if not event_id:
        return 400, "no event id"
    data = document.get("data") or {}
    claim = data.get("claim") or {}
    change = data.get("change") or {}
    with transaction.atomic():
        updated = SandboxInboxEvent.objects.filter(event_id=event_id).update(deliveries=F("deliveries") + 1)
        if updated:
            return 200, "duplicate delivery, already applied"
        assignee_ext = ""
        if change.get("assignee_id"):
            from org.models import EmployeeExternalId

            link = EmployeeExternalId.objects.filter(
                connector=connector.slug, employee_id=change["assignee_id"]
            ).first()
            assignee_ext = link.external_id if link else ""
        seq = data.get("seq")
        stale = False
        if not problem and seq is not None:
            state = SandboxClaimState.objects.select_for_update().filter(subject=document.get("subject", "")).first()
            if state is None:
                SandboxClaimState.objects.create(
                    subject=document.get("subject", ""),
                    seq=seq,
                    number=claim.get("number") or "",
                    status=claim.get("status") or "",
                )
            elif seq <= state.seq:
                stale = True  # an older snapshot arrived late: keep the newer one
            else:
                state.seq, state.status = seq, claim.get("status") or state.status
                state.save(update_fields=["seq", "status", "updated_at"])
        try:
            with transaction.atomic():
                SandboxInboxEvent.objects.create(
                    event_id=event_id,
                    type=str(document.get("type", ""))[:100],
                    subject=str(document.get("subject", ""))[:64],
                    seq=seq,
                    claim_number=claim.get("number") or "",
                    signature_ok=not problem,
                    signature_problem=problem[:200],
                    stale=stale,
                    task_id=change.get("task") if document.get("type", "").endswith("task.created") else None,
                    assignee_name=change.get("assignee", ""),
                    assignee_external_id=assignee_ext,
                    body=document,
                )
        except IntegrityError:
            return 200, "duplicate delivery, already applied"
    if problem:
        return 401, f"signature refused: {problem}"
    return 200, "stale snapshot dropped" if stale else "ok"
