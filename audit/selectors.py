"""Reading the audit trail."""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from audit.models import AuditEvent

ModelRef = type[models.Model] | str  # a model class or its "app_label.model_name"
# Changed with every save or never meaningful to a reader; the caller can pass its own list.
DEFAULT_HIDDEN_FIELDS = ("id", "created_at", "updated_at")
_NO_VALUE = {"None", ""}  # auditlog writes a missing value as the string "None"


def audit_events_for(target: models.Model) -> QuerySet[AuditEvent]:
    """Every audit event of one object, oldest first."""
    return AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk)).order_by("id")


@dataclass(frozen=True)
class FieldChange:
    """One field of a change: its name, a readable label and the values before and after, as text."""

    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class TimelineItem:
    """One line of a timeline: an audit event (``kind == "event"``) or a field change (``"change"``)."""

    kind: str
    at: datetime
    action: str  # an event's dotted action ("claim.submitted"); a change's "created", "changed" or "deleted"
    label: str
    actor: str  # "" when not known (a change made outside a request)
    target_type: str
    target_id: str
    target_label: str
    on_behalf_of: str = ""
    sequence: int | None = None  # an event's place in the hash chain
    details: tuple[tuple[str, str], ...] = ()  # an event's data as (key, text) pairs
    changes: tuple[FieldChange, ...] = field(default_factory=tuple)

    @property
    def is_event(self) -> bool:
        return self.kind == "event"


def timeline_for(
    target_type: ModelRef,
    target_id: int | str,
    *,
    related: Mapping[ModelRef, Iterable[int | str] | str] | None = None,
    action_labels: Mapping[str, Any] | None = None,
    field_labels: Mapping[str, Any] | None = None,
    hidden_fields: Iterable[str] = DEFAULT_HIDDEN_FIELDS,
) -> list[TimelineItem]:
    """The audit events and field changes (django-auditlog) of one object and its related objects, oldest
    first, in a fixed number of queries: content types (none once cached), events, changes, and one per
    model that changed foreign keys point at, to name them.

    ``related`` maps a model to the ids of its objects that belong to the timeline, or to the name of its
    foreign key to the target: then every object ever created pointing at the target counts, deleted ones
    included (found through their creation log entries). For a claim and its lines:
    ``timeline_for(Claim, claim.pk, related={ClaimLine: "claim"})``.

    ``action_labels`` turns actions into readable labels, ``field_labels`` field names; both optional.
    """
    target_model = _model(target_type)
    related_specs = [(_model(ref), spec) for ref, spec in (related or {}).items()]
    all_models = [target_model, *(model for model, _spec in related_specs)]
    content_types = ContentType.objects.get_for_models(*all_models, for_concrete_models=False)
    target_id = str(target_id)

    event_filter = Q(target_type=target_model._meta.label_lower, target_id=target_id)
    change_filter = Q(content_type=content_types[target_model], object_pk=target_id)
    hidden = {target_model: set(hidden_fields)}
    for model, spec in related_specs:
        content_type = content_types[model]
        hidden[model] = set(hidden_fields)
        if isinstance(spec, str):
            hidden[model].add(spec)
            ids: Any = LogEntry.objects.filter(
                content_type=content_type, action=LogEntry.Action.CREATE, **{f"changes__{spec}__1": target_id}
            ).values("object_pk")
        else:
            ids = [str(pk) for pk in spec]
        event_filter |= Q(target_type=model._meta.label_lower, target_id__in=ids)
        change_filter |= Q(content_type=content_type, object_pk__in=ids)

    events = list(AuditEvent.objects.filter(event_filter).order_by("sequence"))
    entries = list(LogEntry.objects.filter(change_filter).select_related("actor").order_by("timestamp", "id"))

    action_labels = action_labels or {}
    field_labels = field_labels or {}
    # A change's author by the name the audit events knew them by, without a query per person.
    names = {event.actor_id: event.actor_name for event in events if event.actor_id}
    model_of = {content_types[model].pk: model for model in all_models}
    display = _ForeignKeyNames(entries, model_of, hidden)

    event_items = (_event_item(event, action_labels) for event in events)
    change_items = (
        _change_item(entry, model_of[entry.content_type_id], names, field_labels, hidden, display) for entry in entries
    )
    return list(heapq.merge(event_items, change_items, key=lambda item: item.at))


def _model(ref: ModelRef) -> type[models.Model]:
    return apps.get_model(ref) if isinstance(ref, str) else ref


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _event_item(event: AuditEvent, action_labels: Mapping[str, Any]) -> TimelineItem:
    data = event.data if isinstance(event.data, dict) else {"data": event.data}
    return TimelineItem(
        kind="event",
        at=event.occurred_at,
        action=event.action,
        label=str(action_labels.get(event.action, event.action)),
        actor=event.actor_name,
        on_behalf_of=event.on_behalf_of_name,
        target_type=event.target_type,
        target_id=event.target_id,
        target_label=event.target_label,
        sequence=event.sequence,
        details=tuple((str(key), _text(value)) for key, value in data.items()),
    )


_CHANGE_ACTIONS = {
    LogEntry.Action.CREATE: "created",
    LogEntry.Action.UPDATE: "changed",
    LogEntry.Action.DELETE: "deleted",
}


def _change_label(action: str, model: type[models.Model]) -> str:
    kind = capfirst(model._meta.verbose_name)
    if action == "created":
        return _("%(kind)s added") % {"kind": kind}
    if action == "deleted":
        return _("%(kind)s removed") % {"kind": kind}
    return _("%(kind)s changed") % {"kind": kind}


def _change_item(
    entry: LogEntry,
    model: type[models.Model],
    names: Mapping[int, str],
    field_labels: Mapping[str, Any],
    hidden: Mapping[type[models.Model], set[str]],
    display: _ForeignKeyNames,
) -> TimelineItem:
    action = _CHANGE_ACTIONS.get(entry.action, "changed")
    actor = ""
    if entry.actor_id:
        actor = names.get(entry.actor_id) or entry.actor.get_full_name() or entry.actor.get_username()
    changes = []
    for name, values in (entry.changes_dict or {}).items():
        if name in hidden[model] or not isinstance(values, list | tuple) or len(values) != 2:
            continue
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:  # a field removed since: keep its history, under its name
            model_field, label = None, field_labels.get(name) or name
        else:
            if not model_field.concrete:  # auditlog also lists reverse relations; they say nothing
                continue
            label = field_labels.get(name) or capfirst(model_field.verbose_name)
        before, after = (display.value(model_field, value) for value in values)
        if before or after or action == "changed":  # an added or removed object's empty fields say nothing
            changes.append(FieldChange(name, str(label), before, after))
    return TimelineItem(
        kind="change",
        at=entry.timestamp,
        action=action,
        label=_change_label(action, model),
        actor=actor,
        target_type=model._meta.label_lower,
        target_id=entry.object_pk,
        target_label=entry.object_repr,
        changes=tuple(changes),
    )


class _ForeignKeyNames:
    """Names for the foreign-key and choice values in log entries: one query per model pointed at."""

    def __init__(
        self,
        entries: list[LogEntry],
        model_of: Mapping[int, type[models.Model]],
        hidden: Mapping[type[models.Model], set[str]],
    ) -> None:
        wanted: dict[type[models.Model], set[str]] = defaultdict(set)
        for entry in entries:
            model = model_of[entry.content_type_id]
            for name, values in (entry.changes_dict or {}).items():
                model_field = _foreign_key(model, name)
                if model_field is None or name in hidden[model] or not isinstance(values, list | tuple):
                    continue
                wanted[model_field.related_model].update(str(v) for v in values if str(v) not in _NO_VALUE)
        self.names: dict[type[models.Model], dict[str, str]] = {}
        for related_model, pks in wanted.items():
            found = related_model._default_manager.filter(pk__in=list(pks))
            self.names[related_model] = {str(obj.pk): str(obj) for obj in found}

    def value(self, model_field: models.Field | None, value: Any) -> str:
        text = "" if value is None else str(value)
        if text in _NO_VALUE:
            return ""
        if model_field is None:
            return text
        if model_field.is_relation:
            return self.names.get(model_field.related_model, {}).get(text, f"#{text}")
        choices = getattr(model_field, "flatchoices", None)
        if choices:
            return str(dict((str(key), label) for key, label in choices).get(text, text))
        return text


def _foreign_key(model: type[models.Model], name: str) -> models.Field | None:
    try:
        model_field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return model_field if model_field.many_to_one or model_field.one_to_one else None
