"""Approvers naming a delegate while they are away."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.models import Delegation
from audit.services import audit_record
from config.errors import ApplicationError, NotFoundError
from org.models import Employee


@transaction.atomic
def delegation_create(
    *,
    actor: Any,
    delegate: Employee,
    starts_on: datetime.date,
    ends_on: datetime.date,
    category_ids: list[int] | None = None,
) -> Delegation:
    """Let ``delegate`` act on the actor's tasks from ``starts_on`` to ``ends_on`` (inclusive)."""
    delegator = getattr(actor, "employee", None)
    if delegator is None:
        raise ApplicationError(_("Only employees can delegate."))
    errors: dict[str, list[str]] = {}
    if delegate.pk == delegator.pk:
        errors["delegate"] = [_("Choose someone other than yourself.")]
    elif not delegate.active:
        errors["delegate"] = [_("This person has left.")]
    if ends_on < starts_on:
        errors["ends_on"] = [_("The end is before the start.")]
    elif ends_on < timezone.localdate():
        errors["ends_on"] = [_("The end is in the past.")]
    if errors:
        raise ApplicationError(_("Please correct the delegation."), fields=errors)
    delegation = Delegation.objects.create(delegator=delegator, delegate=delegate, starts_on=starts_on, ends_on=ends_on)
    if category_ids:
        delegation.categories.set(category_ids)
    audit_record(
        action="delegation.created",
        target=delegation,
        actor=actor,
        data={
            "delegate": delegate.name,
            "from": starts_on.isoformat(),
            "until": ends_on.isoformat(),
            "categories": sorted(category_ids or []),
        },
    )
    return delegation


@transaction.atomic
def delegation_end(*, delegation_id: int, actor: Any) -> Delegation:
    """Stop a delegation now (only its delegator can)."""
    delegation = Delegation.objects.select_for_update().filter(pk=delegation_id, delegator__user=actor).first()
    if delegation is None:
        raise NotFoundError(_("This delegation does not exist."))
    if delegation.active:
        delegation.active = False
        delegation.save(update_fields=["active"])
        audit_record(action="delegation.ended", target=delegation, actor=actor)
    return delegation
