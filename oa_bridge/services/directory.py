"""Directory pull: the OA's org chart into ours (design.md §3 "Directory pull").

A run first fetches everything (all departments, then all users, page by page) and writes nothing, so a
page that fails half-way leaves the org chart as it was. Then one transaction applies the records
through org.services.org_directory_apply, matched by external id. More deactivations than the
connector's threshold share stop the run before anything is written; an admin can confirm it. After the
commit, open approval tasks of people who left or moved are re-resolved.

A SyncRun moves like this (anything else is refused)::

    running ──► succeeded
      │  └────► failed
      └───────► needs_confirmation ──(an admin confirms)──► running

Full and incremental: a full run reads the whole directory and deactivates people it no longer lists;
an incremental run reads the users changed since the last successful run (and all departments, which
are few) and deactivates nobody for being absent. Scheduled runs are incremental between full runs that
happen at least every FULL_SYNC_EVERY.
"""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.services import audit_record
from config.errors import ConflictError
from oa_bridge.connectors import for_connector
from oa_bridge.connectors.base import _short
from oa_bridge.models import Connector, SyncRun
from org.models import Employee, EmployeeExternalId
from org.services import DirectoryApplyResult, employee_set_active, org_directory_apply

logger = logging.getLogger(__name__)

Status = SyncRun.Status

# A run still "running" after this was lost with its worker (tasks are killed after 300 s; a queue
# can wait a while): the beat marks it failed so the connector is synced again.
STALE_AFTER = datetime.timedelta(minutes=30)
# Scheduled runs are incremental, with a full one (which is the only one that notices removals) at
# least this often.
FULL_SYNC_EVERY = datetime.timedelta(hours=24)
# The OA's clock and ours differ a little; re-reading a few unchanged records costs nothing.
INCREMENTAL_OVERLAP = datetime.timedelta(minutes=2)
ERRORS_SHOWN = 20
_CHUNK = 500


# --- starting runs ----------------------------------------------------------------------------------------
def directory_sync_start(*, connector_id: int, incremental: bool | None = None, actor=None) -> SyncRun:
    """Record a run and queue it after commit (the screen's "Sync now"). A run already going is
    returned instead of starting a second one. ``incremental`` None: what the schedule would do."""
    with transaction.atomic():
        connector = Connector.objects.select_for_update().get(pk=connector_id)
        running = _running(connector, timezone.now())
        if running is not None:
            return running
        run = _start(connector, incremental=incremental)
        if actor is not None:
            audit_record(action="directory.sync.requested", target=connector, actor=actor, data={"run": run.pk})
    return run


def directory_sync_due(*, now: datetime.datetime | None = None) -> list[int]:
    """Start a run for each connector whose interval has elapsed (the beat, every minute).

    Safe to run twice at once: each connector is claimed under a row lock and ``last_sync_at`` moves
    forward before the lock is released, so the second caller finds it not due.
    """
    now = now or timezone.now()
    _fail_stale_runs(now)
    started = []
    for connector_id in Connector.objects.filter(enabled=True, directory_enabled=True).values_list("pk", flat=True):
        with transaction.atomic():
            connector = Connector.objects.select_for_update(skip_locked=True).filter(pk=connector_id).first()
            if connector is None or not _due(connector, now) or _running(connector, now) is not None:
                continue
            started.append(_start(connector, incremental=None, now=now).pk)
    return started


def directory_sync(*, connector_id: int, incremental: bool = False) -> SyncRun:
    """Run a sync to the end in this process (tests, the benchmark, a shell)."""
    run = SyncRun.objects.create(connector_id=connector_id, incremental=incremental)
    return directory_sync_run(run_id=run.pk)


def _start(connector: Connector, *, incremental: bool | None, now: datetime.datetime | None = None) -> SyncRun:
    from oa_bridge.tasks import sync_directory

    now = now or timezone.now()
    if incremental is None:
        incremental = _last_success(connector, full_only=True, since=now - FULL_SYNC_EVERY) is not None
    run = SyncRun.objects.create(connector=connector, incremental=incremental, message=_("Queued."))
    connector.last_sync_at = now
    connector.save(update_fields=["last_sync_at"])
    transaction.on_commit(lambda: sync_directory.delay(run.pk), robust=True)
    return run


def _due(connector: Connector, now: datetime.datetime) -> bool:
    interval = datetime.timedelta(minutes=max(1, connector.sync_interval_minutes))
    return connector.last_sync_at is None or now - connector.last_sync_at >= interval


def _running(connector: Connector, now: datetime.datetime) -> SyncRun | None:
    return (
        SyncRun.objects.filter(connector=connector, status=Status.RUNNING, started_at__gt=now - STALE_AFTER)
        .order_by("-pk")
        .first()
    )


def _fail_stale_runs(now: datetime.datetime) -> int:
    return SyncRun.objects.filter(status=Status.RUNNING, started_at__lte=now - STALE_AFTER).update(
        status=Status.FAILED, finished_at=now, message=_("No worker finished this run; it was given up.")
    )


def _last_success(
    connector: Connector, *, full_only: bool = False, since: datetime.datetime | None = None
) -> SyncRun | None:
    runs = SyncRun.objects.filter(connector=connector, status=Status.SUCCEEDED)
    if full_only:
        runs = runs.filter(incremental=False)
    if since is not None:
        runs = runs.filter(started_at__gte=since)
    return runs.order_by("-started_at").first()


# --- one run --------------------------------------------------------------------------------------------
def directory_sync_run(*, run_id: int, allow_deactivations: int | None = None) -> SyncRun | None:
    """Fetch the whole directory (or the changes), then apply it in one transaction.

    ``allow_deactivations``: an admin confirmed this many deactivations (the number the run showed);
    up to that many go through even above the threshold. A run that is not ``running`` (done already,
    a redelivered task) is returned untouched.
    """
    now = timezone.now()
    # Claim the run: the first caller moves started_at to now (the duration and the next incremental
    # run's starting point are from here, not from when it was queued).
    note = ""
    if allow_deactivations is not None:
        note = SyncRun.objects.filter(pk=run_id).values_list("message", flat=True).first() or ""
    claimed = SyncRun.objects.filter(pk=run_id, status=Status.RUNNING, finished_at__isnull=True).update(
        started_at=now, message=note, deactivated=0
    )
    run = SyncRun.objects.select_related("connector").filter(pk=run_id).first()
    if not claimed or run is None:
        return run
    connector = run.connector
    since = None
    if run.incremental:
        last = _last_success(connector)
        if last is None:
            run.incremental = False  # nothing to be incremental from: read everything
            run.save(update_fields=["incremental"])
        else:
            since = last.started_at - INCREMENTAL_OVERLAP
    try:
        client = for_connector(connector)
        departments = list(client.iter_departments())
        run.departments_seen = len(departments)
        users = list(client.iter_users(updated_since=since.isoformat() if since else None))
        run.users_seen = len(users)
    except Exception as exc:  # any failure of the OA or of its data ends the run, named; nothing was written
        logger.warning("directory sync %s of %s: fetching failed: %s", run.pk, connector.slug, exc)
        return _finish(run, Status.FAILED, _("Fetching the directory failed, nothing was changed: %(error)s"), exc)
    try:
        result = _apply(run, client, departments, users, allow_deactivations=allow_deactivations)
    except Exception as exc:  # a database error: the transaction rolled back, nothing was written
        logger.exception("directory sync %s of %s: applying failed", run.pk, connector.slug)
        return _finish(run, Status.FAILED, _("Applying the directory failed, nothing was changed: %(error)s"), exc)
    if result is not None and not result.refused:
        _reassign_tasks(run, result.deactivated_ids + result.moved_ids)
    return run


def _apply(run: SyncRun, client, departments, users, *, allow_deactivations: int | None) -> DirectoryApplyResult | None:
    connector = run.connector
    with transaction.atomic():
        # One apply per connector at a time; a second run waits here and then applies its own fetch.
        Connector.objects.select_for_update().get(pk=connector.pk)
        if SyncRun.objects.filter(pk=run.pk).values_list("status", flat=True).first() != Status.RUNNING:
            return None
        linked_active = EmployeeExternalId.objects.filter(connector=connector.slug, employee__active=True).count()
        limit = linked_active * connector.deactivation_threshold_percent // 100
        if allow_deactivations is not None:
            limit = max(limit, allow_deactivations)
        result = org_directory_apply(
            source=connector.slug,
            departments=departments,
            people=users,
            full=not run.incremental,
            max_deactivations=limit,
            keep=getattr(client, "directory_keeps", frozenset()),
        )
        run.added = result.departments_added + result.people_added
        run.changed = result.departments_changed + result.people_changed
        run.errors = len(result.errors)
        if result.refused:
            run.deactivated = result.planned_deactivations  # what it would do: shown to the admin to confirm
            share = round(100 * result.planned_deactivations / max(1, linked_active))
            message = _(
                "This sync would deactivate %(count)s of %(total)s active people (%(share)s%%), more than the "
                "%(threshold)s%% safety threshold. Nothing was changed; an administrator can confirm it."
            ) % {
                "count": result.planned_deactivations,
                "total": linked_active,
                "share": share,
                "threshold": connector.deactivation_threshold_percent,
            }
            run.added = run.changed = 0
            _finish(run, Status.NEEDS_CONFIRMATION, message, errors=result.errors)
            return result
        run.deactivated = len(result.deactivated_ids)
        _finish(run, Status.SUCCEEDED, _summary(result), errors=result.errors)
        left = Employee.objects.filter(pk__in=result.deactivated_ids[:100]).values_list("name", flat=True)
        audit_record(
            action="directory.synced",
            target=connector,
            data={
                "run": run.pk,
                "incremental": run.incremental,
                "added": run.added,
                "changed": run.changed,
                "deactivated": run.deactivated,
                "errors": run.errors,
                "deactivated_people": sorted(left),
            },
        )
    return result


def _summary(result: DirectoryApplyResult) -> str:
    return _(
        "Departments: %(d_added)s added, %(d_changed)s changed. "
        "People: %(p_added)s added, %(p_changed)s changed, %(p_left)s deactivated."
    ) % {
        "d_added": result.departments_added,
        "d_changed": result.departments_changed,
        "p_added": result.people_added,
        "p_changed": result.people_changed,
        "p_left": len(result.deactivated_ids),
    }


def _finish(
    run: SyncRun, status: str, message: str, exc: Exception | None = None, *, errors: list[str] = ()
) -> SyncRun:
    if exc is not None:
        message %= {"error": _short(exc)}
    lines = [run.message, message] if run.message else [message]
    if errors:
        lines.append(
            ngettext("%(count)s record could not be applied:", "%(count)s records could not be applied:", len(errors))
            % {"count": len(errors)}
        )
        lines += [f"- {error}" for error in errors[:ERRORS_SHOWN]]
        if len(errors) > ERRORS_SHOWN:
            lines.append(_("… and %(count)s more.") % {"count": len(errors) - ERRORS_SHOWN})
    run.status, run.message, run.finished_at = status, "\n".join(lines), timezone.now()
    run.save(
        update_fields=[
            "status",
            "message",
            "finished_at",
            "departments_seen",
            "users_seen",
            "added",
            "changed",
            "deactivated",
            "errors",
        ]
    )
    return run


def _reassign_tasks(run: SyncRun | None, employee_ids: list[int]) -> int:
    """Re-resolve the open tasks of people who left or moved (after the commit: each claim is locked
    in its own transaction by the approvals service)."""
    from approvals.choices import TaskStatus
    from approvals.models import ApprovalTask
    from approvals.services import tasks_reassign_for

    holders: set[int] = set()
    for start in range(0, len(employee_ids), _CHUNK):
        chunk = employee_ids[start : start + _CHUNK]
        holders |= set(
            ApprovalTask.objects.filter(
                assignee_id__in=chunk, status__in=(TaskStatus.PENDING, TaskStatus.WAITING)
            ).values_list("assignee_id", flat=True)
        )
    moved = 0
    for employee in Employee.objects.filter(pk__in=holders):
        try:
            moved += tasks_reassign_for(employee=employee)
        except Exception:  # one claim that cannot be re-resolved must not hide the others
            logger.exception("reassigning the open tasks of employee %s failed", employee.pk)
    if moved and run is not None:
        run.message += "\n" + ngettext(
            "%(count)s open approval task reassigned.", "%(count)s open approval tasks reassigned.", moved
        ) % {"count": moved}
        run.save(update_fields=["message"])
    return moved


# --- confirming a stopped run ------------------------------------------------------------------------------
def directory_sync_confirm(*, run_id: int, actor) -> SyncRun:
    """An admin confirms a run stopped by the threshold: it is fetched again and applied, with up to
    the number of deactivations it showed. Confirming twice queues it once."""
    from oa_bridge.tasks import sync_directory

    with transaction.atomic():
        run = SyncRun.objects.select_for_update().select_related("connector").get(pk=run_id)
        if run.status == Status.RUNNING:
            return run
        if run.status != Status.NEEDS_CONFIRMATION:
            raise ConflictError(_("Only a run that needs confirmation can be confirmed."))
        if SyncRun.objects.filter(connector=run.connector_id, pk__gt=run.pk).exists():
            raise ConflictError(_("A newer sync has run since; confirm that one if it needs it."))
        allowed = run.deactivated
        employee = getattr(actor, "employee", None)
        who = getattr(employee, "name", "") or actor.get_username()
        run.status = Status.RUNNING
        run.started_at, run.finished_at = timezone.now(), None  # not "stale" because it waited for the admin
        run.message = _("Confirmed by %(name)s: up to %(count)s deactivations.") % {"name": who, "count": allowed}
        run.save(update_fields=["status", "started_at", "finished_at", "message"])
        audit_record(
            action="directory.sync.confirmed",
            target=run.connector,
            actor=actor,
            data={"run": run.pk, "deactivations": allowed},
        )
        transaction.on_commit(lambda: sync_directory.delay(run.pk, allow_deactivations=allowed), robust=True)
    return run


# --- one record -----------------------------------------------------------------------------------------
def directory_refetch(*, connector_id: int, kind: str, external_id: str) -> str:
    """Re-read one user or department after the OA said it changed, and apply it (no SyncRun: the next
    incremental run still starts from the last full or incremental run)."""
    connector = Connector.objects.filter(pk=connector_id, enabled=True, directory_enabled=True).first()
    if connector is None:
        return "skipped: the connector is gone or does not pull the directory"
    client = for_connector(connector)
    keep = getattr(client, "directory_keeps", frozenset())
    if kind == "user":
        record = client.fetch_user(external_id)
        if record is None:
            return _refetch_gone(connector, external_id)
        result = org_directory_apply(source=connector.slug, departments=[], people=[record], full=False, keep=keep)
    elif kind == "department":
        fetch = getattr(client, "fetch_department", None)
        if fetch is not None:
            record = fetch(external_id)
        else:  # the generic contract has no single-department endpoint; departments are few
            record = next((d for d in client.iter_departments() if d.external_id == external_id), None)
        if record is None:
            return "department not found: the next full sync deactivates it"
        result = org_directory_apply(source=connector.slug, departments=[record], people=[], full=False, keep=keep)
    else:
        return f"unknown kind {kind!r}"
    _reassign_tasks(None, result.deactivated_ids + result.moved_ids)
    outcome = f"{kind} {external_id}: {result.people_added + result.departments_added} added, "
    outcome += (
        f"{result.people_changed + result.departments_changed} changed, {len(result.deactivated_ids)} deactivated"
    )
    if result.errors:
        outcome += "; " + "; ".join(result.errors)
    logger.info("directory refetch from %s: %s", connector.slug, outcome)
    return outcome


def _refetch_gone(connector: Connector, external_id: str) -> str:
    """The OA no longer knows this person: they left. One person is never a mass deactivation."""
    link = EmployeeExternalId.objects.filter(connector=connector.slug, external_id=external_id).first()
    if link is None:
        return f"user {external_id}: unknown here and in the OA"
    employee = employee_set_active(employee=link.employee, active=False)
    _reassign_tasks(None, [employee.pk])
    return f"user {external_id}: gone from the OA, deactivated"
