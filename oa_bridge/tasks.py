"""Outbox delivery and sweeping (thin: they call oa_bridge.services.outbox)."""

from __future__ import annotations

from celery import shared_task

from oa_bridge.services import outbox


@shared_task(name="oa_bridge.tasks.deliver_event", ignore_result=True, acks_late=True)
def deliver_event(event_id: str) -> str | None:
    """One delivery attempt; an event that is not due (already delivered, leased) is skipped quietly."""
    return outbox.outbox_deliver(event_id=event_id)


@shared_task(name="oa_bridge.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Re-enqueue due events: retries, expired leases, messages the broker lost."""
    return outbox.outbox_sweep()


@shared_task(name="oa_bridge.tasks.refetch_directory_entry", ignore_result=True)
def refetch_directory_entry(connector_id: int, kind: str, external_id: str) -> None:
    """Re-read one user or department after the OA said it changed (targeted, not a full sync)."""
    from oa_bridge.services.directory import directory_refetch

    directory_refetch(connector_id=connector_id, kind=kind, external_id=external_id)


@shared_task(name="oa_bridge.tasks.sync_directory", ignore_result=True, acks_late=True)
def sync_directory(run_id: int, allow_deactivations: int | None = None) -> None:
    """Run one queued directory sync; a run already finished (a redelivered message) is left alone."""
    from oa_bridge.services.directory import directory_sync_run

    directory_sync_run(run_id=run_id, allow_deactivations=allow_deactivations)


@shared_task(name="oa_bridge.tasks.sync_due_directories", ignore_result=True)
def sync_due_directories() -> list[int]:
    """The beat, every minute: start a run for each connector whose sync interval has elapsed."""
    from oa_bridge.services.directory import directory_sync_due

    return directory_sync_due()
