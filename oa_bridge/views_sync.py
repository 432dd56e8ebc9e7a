"""The directory sync screen, under /oa/admin/sync/ (administrators only; anyone else gets a 404).

Runs per connector with their counts, "Sync now" (queues the task and opens the run's page, which polls
its status with HTMX every 2 s) and the confirmation of a run the deactivation threshold stopped.

The reads below are small and local to this screen (one query each, related rows joined); they move to
oa_bridge/selectors.py when the app gets one.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.errors import ApplicationError
from oa_bridge.models import Connector, SyncRun
from oa_bridge.services.directory import directory_sync_confirm, directory_sync_start
from org.choices import Role
from org.selectors import user_roles

RECENT_RUNS = 10
PAGE_SIZE = 50


def _admin_only(request: HttpRequest) -> None:
    if Role.ADMIN not in user_roles(request.user):
        raise Http404


def _confirmable(run: SyncRun) -> bool:
    """Only the newest run of its connector can be confirmed (an older one would apply stale data)."""
    if run.status != SyncRun.Status.NEEDS_CONFIRMATION:
        return False
    return not SyncRun.objects.filter(connector_id=run.connector_id, pk__gt=run.pk).exists()


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Every connector with its latest runs; those that pull the directory first."""
    _admin_only(request)
    connectors = list(Connector.objects.order_by("-directory_enabled", "slug"))
    # The latest runs of every connector in one query: numbered per connector, newest first.
    numbered = SyncRun.objects.annotate(
        number=Window(RowNumber(), partition_by=F("connector"), order_by=F("pk").desc())
    )
    recent: dict[int, list[SyncRun]] = {c.pk: [] for c in connectors}
    for run in numbered.filter(number__lte=RECENT_RUNS).order_by("-pk"):
        recent[run.connector_id].append(run)
    rows = [{"connector": c, "runs": recent[c.pk]} for c in connectors]
    return render(request, "oa_bridge/sync/index.html", {"rows": rows})


@login_required
def connector_runs(request: HttpRequest, slug: str) -> HttpResponse:
    """All runs of one connector, newest first."""
    _admin_only(request)
    connector = get_object_or_404(Connector, slug=slug)
    page = Paginator(SyncRun.objects.filter(connector=connector).order_by("-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "oa_bridge/sync/connector.html", {"connector": connector, "page": page})


@login_required
@require_POST
def sync_now(request: HttpRequest, slug: str) -> HttpResponse:
    """Queue a run (or find the one already going) and open its page."""
    _admin_only(request)
    connector = get_object_or_404(Connector, slug=slug)
    mode = request.POST.get("mode")
    incremental = {"full": False, "incremental": True}.get(mode)
    run = directory_sync_start(connector_id=connector.pk, incremental=incremental, actor=request.user)
    return redirect("oa_sync:run", pk=run.pk)


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run; while it is running its status part reloads itself every 2 s."""
    _admin_only(request)
    run = get_object_or_404(SyncRun.objects.select_related("connector"), pk=pk)
    context = {"run": run, "confirmable": _confirmable(run)}
    if request.htmx:
        return render(request, "oa_bridge/sync/_run_status.html", context)
    return render(request, "oa_bridge/sync/run.html", context)


@login_required
@require_POST
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply a run the threshold stopped, up to the deactivations it showed."""
    _admin_only(request)
    run = get_object_or_404(SyncRun, pk=pk)
    try:
        directory_sync_confirm(run_id=run.pk, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Confirmed: the sync runs again and applies the deactivations."))
    return redirect("oa_sync:run", pk=run.pk)
