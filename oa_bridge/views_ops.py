"""The OA bridge's operations screen, under /oa/admin/ops/ (administrators only; anyone else gets a 404).

How each connector's delivery is doing (backlog, oldest undelivered age, failure rate, paused), a
connection test in plain words, the events with their attempts and CloudEvent body, replay of one event
or of all that failed since a time. Writes go through oa_bridge.services.outbox.

The FilterSet and the reads below are written the selector way (each a fixed number of queries, pinned in
tests/oa_bridge/test_ops.py); they move to oa_bridge/filtersets.py and selectors.py once other screens of
this app need them too.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import CharField, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from oa_bridge.cloudevents import CONTENT_TYPE, envelope
from oa_bridge.connectors import HealthResult, connector_class, for_connector
from oa_bridge.models import Connector, ConnectorKind, DeliveryAttempt, OutboxEvent, OutboxStatus
from oa_bridge.services.connectors import connector_save_settings
from oa_bridge.services.outbox import backlog_figures, connector_set_paused, outbox_replay
from org.choices import Role
from org.selectors import user_roles
from reimbursement.models import Claim

PAGE_SIZE = 50
REPLAYABLE = (OutboxStatus.HELD, OutboxStatus.DEAD)
# DeliveryAttempt.outcome in words (see outbox.outcome_of).
OUTCOME_LABELS = {
    "delivered": gettext_lazy("delivered"),
    "retry": gettext_lazy("will retry"),
    "held": gettext_lazy("needs attention"),
    "dead": gettext_lazy("dead"),
}


def admin_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in administrators only; for everyone else the screen does not exist (404)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if Role.ADMIN not in user_roles(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


# --- reads -------------------------------------------------------------------------------------------------
AGE_CHOICES = [
    ("lt1h", gettext_lazy("Written in the last hour")),
    ("lt24h", gettext_lazy("Written in the last day")),
    ("gt15m", gettext_lazy("Older than 15 minutes")),
    ("gt1h", gettext_lazy("Older than an hour")),
    ("gt24h", gettext_lazy("Older than a day")),
]
_AGES = {
    "lt1h": ("gte", datetime.timedelta(hours=1)),
    "lt24h": ("gte", datetime.timedelta(days=1)),
    "gt15m": ("lt", datetime.timedelta(minutes=15)),
    "gt1h": ("lt", datetime.timedelta(hours=1)),
    "gt24h": ("lt", datetime.timedelta(days=1)),
}


class OutboxEventFilterSet(django_filters.FilterSet):
    """The event list's filters: connector, status, type, claim (id or number), age."""

    connector = django_filters.ModelChoiceFilter(
        queryset=Connector.objects.all(), field_name="connector", label=gettext_lazy("Connector")
    )
    status = django_filters.ChoiceFilter(choices=OutboxStatus.choices, label=gettext_lazy("Status"))
    type = django_filters.CharFilter(method="filter_type", label=gettext_lazy("Event type"))
    claim = django_filters.CharFilter(method="filter_claim", label=gettext_lazy("Claim"))
    age = django_filters.ChoiceFilter(choices=AGE_CHOICES, method="filter_age", label=gettext_lazy("Age"))

    class Meta:
        model = OutboxEvent
        fields: list[str] = []

    def filter_type(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        # "claim.submitted" and "com.baoxiao.claim.submitted" both find the event type.
        return queryset.filter(Q(type=value) | Q(type=f"com.baoxiao.{value}"))

    def filter_claim(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        # The subject is the claim id; a number (BX-2025-000042) is looked up in the same query.
        numbered = Claim.objects.filter(number__iexact=value).annotate(subject=Cast("pk", CharField()))
        return queryset.filter(Q(subject=value) | Q(subject__in=numbered.values("subject")))

    def filter_age(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        lookup, span = _AGES[value]
        return queryset.filter(**{f"created_at__{lookup}": timezone.now() - span})


def events_for_list() -> QuerySet[OutboxEvent]:
    """Outbox events for a list, newest first, with their connector and claim number; never the snapshot."""
    return (
        OutboxEvent.objects.select_related("connector")
        .defer("data")
        .annotate(claim_number=KT("data__claim__number"))
        .order_by("-created_at", "-pk")
    )


def connector_rows(figures: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every connector with its delivery figures: one query plus backlog_figures' three."""
    figures = figures if figures is not None else backlog_figures()
    now = timezone.now()
    rows = []
    for connector in Connector.objects.order_by("slug"):
        rows.append(_connector_row(connector, figures["connectors"].get(connector.slug), now))
    return rows


def _connector_row(connector: Connector, figures: dict[str, Any] | None, now: datetime.datetime) -> dict[str, Any]:
    figures = figures or {}
    oldest = figures.get("oldest_age_s") or 0
    rate = figures.get("failure_rate_1h")
    try:
        implementation = for_connector(connector)
        events_url = getattr(implementation, "events_url", connector.events_url)
        has_settings = implementation.settings_form is not None
    except LookupError:  # a kind whose implementation is not installed: show what is stored
        events_url, has_settings = connector.events_url, False
    return {
        "connector": connector,
        "has_settings": has_settings,
        "events_url": events_url if connector.deliver_events else "",
        "figures": figures,
        "oldest_at": now - datetime.timedelta(seconds=oldest) if figures.get("backlog") else None,
        "failure_percent": None if rate is None else round(rate * 100),
    }


# --- pages ---------------------------------------------------------------------------------------------------
class ReplayFailedForm(forms.Form):
    since = forms.DateTimeField(
        label=gettext_lazy("Failed since"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    connector = forms.ModelChoiceField(
        queryset=Connector.objects.order_by("slug"),
        required=False,
        empty_label=gettext_lazy("All connectors"),
        label=gettext_lazy("Connector"),
    )


@admin_only
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """Each connector's delivery at a glance, with pause/resume, a connection test and bulk replay."""
    figures = backlog_figures()
    now = timezone.now()
    oldest = figures["oldest_undelivered_age_s"]
    since = timezone.localtime(now) - datetime.timedelta(hours=24)
    context = {
        "rows": connector_rows(figures),
        "totals": figures,
        "oldest_at": now - datetime.timedelta(seconds=oldest) if figures["backlog"] else None,
        "alert_at": now - datetime.timedelta(seconds=settings.BAOXIAO_OUTBOX_ALERT_AGE_SECONDS),
        "degraded": oldest > settings.BAOXIAO_OUTBOX_ALERT_AGE_SECONDS,
        "replay_form": ReplayFailedForm(initial={"since": since.replace(second=0, microsecond=0)}),
        "addable_kinds": addable_kinds(),
    }
    return render(request, "oa_bridge/ops/overview.html", context)


@admin_only
@require_GET
def events(request: HttpRequest) -> HttpResponse:
    """The outbox, filtered by connector, status, type, claim and age; HTMX swaps the results only."""
    filterset = OutboxEventFilterSet(request.GET or None, queryset=events_for_list())
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else events_for_list()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filter_form": filterset.form,
        "query": query.urlencode(),
        "filtered": any(value for key, value in request.GET.items() if key != "page"),
        "status_choices": OutboxStatus.choices,
        "age_choices": AGE_CHOICES,
        "connectors": Connector.objects.order_by("slug").only("pk", "slug", "name"),
        "types": OutboxEvent.objects.order_by("type").values_list("type", flat=True).distinct(),
    }
    template = "oa_bridge/ops/partials/event_results.html" if request.htmx else "oa_bridge/ops/events.html"
    return render(request, template, context)


@admin_only
@require_GET
def event_detail(request: HttpRequest, pk: str) -> HttpResponse:
    """One event: where it goes, every attempt (status, latency, response, error), the exact CloudEvent."""
    event = get_object_or_404(OutboxEvent.objects.select_related("connector"), pk=pk)
    document = envelope(event)
    context = {
        "event": event,
        "attempts": [
            (attempt, OUTCOME_LABELS.get(attempt.outcome, attempt.outcome))
            for attempt in DeliveryAttempt.objects.filter(event=event).order_by("number")
        ],
        "body": json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        "content_type": CONTENT_TYPE,
        "claim_number": (event.data.get("claim") or {}).get("number", ""),
        "replayable": event.status in REPLAYABLE,
    }
    return render(request, "oa_bridge/ops/event.html", context)


@admin_only
@require_POST
def event_replay(request: HttpRequest, pk: str) -> HttpResponse:
    event = get_object_or_404(OutboxEvent.objects.only("pk", "status"), pk=pk)
    if outbox_replay(actor=request.user, event_ids=[str(event.pk)]):
        messages.success(request, _("The event is queued for delivery again."))
    else:
        messages.info(request, _("Only events that need attention or are dead can be replayed."))
    return redirect("oa_ops:event", pk=event.pk)


@admin_only
@require_POST
def replay_failed(request: HttpRequest) -> HttpResponse:
    """Every held or dead event with a failed attempt since the given time, for one connector or all."""
    form = ReplayFailedForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the time from which failed events should be sent again."))
        return redirect("oa_ops:overview")
    count = outbox_replay(
        actor=request.user, failed_since=form.cleaned_data["since"], connector=form.cleaned_data["connector"]
    )
    messages.success(
        request,
        ngettext(
            "%(count)d failed event is queued for delivery again.",
            "%(count)d failed events are queued for delivery again.",
            count,
        )
        % {"count": count},
    )
    return redirect("oa_ops:overview")


@admin_only
@require_POST
def connector_pause(request: HttpRequest, pk: int) -> HttpResponse:
    """Pause (``paused=1``) or resume delivery to a connector; resuming sends what waited."""
    connector = get_object_or_404(Connector, pk=pk)
    paused = request.POST.get("paused") == "1"
    connector = connector_set_paused(connector_id=connector.pk, paused=paused, actor=request.user)
    if request.htmx:
        row = _connector_row(connector, backlog_figures()["connectors"].get(connector.slug), timezone.now())
        return render(request, "oa_bridge/ops/partials/connector_row.html", {"row": row})
    if paused:
        messages.success(request, _("Delivery to %(name)s is paused.") % {"name": connector.name})
    else:
        messages.success(request, _("Delivery to %(name)s is resumed.") % {"name": connector.name})
    return redirect("oa_ops:overview")


@admin_only
@require_POST
def connector_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask the OA whether it can be reached with our credentials; answer in plain words."""
    connector = get_object_or_404(Connector, pk=pk)
    try:
        result = for_connector(connector).health()
    except LookupError:
        result = HealthResult(False, _("This kind of connector is not installed in this Baoxiao."))
    if request.htmx:
        return render(
            request, "oa_bridge/ops/partials/connection_test.html", {"result": result, "connector": connector}
        )
    if result.ok:
        messages.success(request, _("%(name)s answers: the connection works.") % {"name": connector.name})
    else:
        messages.error(request, _("%(name)s: %(problem)s") % {"name": connector.name, "problem": result.problem})
    return redirect(reverse("oa_ops:overview"))


@admin_only
def connector_settings(request: HttpRequest, pk: int | None = None, kind: str | None = None) -> HttpResponse:
    """Add a connector of a kind, or change one: the vendor console's fields, then "Test connection"."""
    connector = get_object_or_404(Connector, pk=pk) if pk is not None else Connector(kind=kind or "")
    try:
        form_class = connector_class(connector.kind).settings_form
    except LookupError:
        form_class = None
    if form_class is None:
        raise Http404("this kind of connector has no settings page")
    form = form_class(request.POST or None, instance=connector)
    if request.method == "POST" and form.is_valid():
        connector = connector_save_settings(
            connector=form.save(commit=False), options=form.options(), secrets=form.secrets(), actor=request.user
        )
        messages.success(request, _("%(name)s is saved. Test the connection below.") % {"name": connector.name})
        return redirect("oa_ops:connector_settings", pk=connector.pk)
    kind_label = dict(ConnectorKind.choices).get(connector.kind, connector.kind)
    return render(
        request,
        "oa_bridge/connectors/settings.html",
        {
            "form": form,
            "connector": connector,
            "kind_label": kind_label,
            "inbound_url": request.build_absolute_uri(reverse("oa_inbound", args=[connector.slug]))
            if connector.pk
            else "",
            "docs_path": f"docs/connectors/{connector.kind}.md",
        },
        status=400 if request.method == "POST" else 200,
    )


def addable_kinds() -> list[tuple[str, str]]:
    """The kinds with a settings page, for the "Add connector" menu."""
    kinds = []
    for value, label in ConnectorKind.choices:
        try:
            if connector_class(value).settings_form is not None:
                kinds.append((value, label))
        except LookupError:
            continue
    return kinds
