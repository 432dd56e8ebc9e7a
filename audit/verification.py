"""Checking the hash chain: every event in sequence order, in batches, so memory stays constant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from audit import chain
from audit.models import AuditEvent

GAP = "gap"
BROKEN_PREV_LINK = "broken prev link"
HASH_MISMATCH = "hash mismatch"


@dataclass(frozen=True)
class BrokenLink:
    """The first place where the chain does not hold."""

    sequence: int
    event_id: int
    problem: str  # GAP | BROKEN_PREV_LINK | HASH_MISMATCH
    detail: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_sequence: int
    head_hash: str
    broken: BrokenLink | None = None

    @property
    def whole(self) -> bool:
        return self.broken is None


def verify_chain(*, batch_size: int = 2000, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Walk the chain from the first event and stop at the first broken link.

    Per event, in this order: its sequence number follows the previous one (else rows were removed), its
    ``prev_hash`` is the previous event's hash (else rows were re-linked or replaced), and its hash is the
    HMAC of its fields (else the row was edited, or written with another key).
    """
    expected_sequence, expected_prev = 1, chain.GENESIS_HASH
    checked = 0
    events = AuditEvent.objects.order_by("sequence").iterator(chunk_size=batch_size)
    for event in events:
        broken = _check(event, expected_sequence, expected_prev)
        if broken is not None:
            return ChainReport(checked, expected_sequence - 1, expected_prev, broken)
        checked += 1
        expected_sequence, expected_prev = event.sequence + 1, event.hash
        if progress is not None and checked % batch_size == 0:
            progress(checked)
    return ChainReport(checked, expected_sequence - 1, expected_prev)


def _check(event: AuditEvent, expected_sequence: int, expected_prev: str) -> BrokenLink | None:
    if event.sequence != expected_sequence:
        missing = event.sequence - expected_sequence
        what = (
            f"sequence {expected_sequence} is missing"
            if missing == 1
            else f"sequences {expected_sequence} to {event.sequence - 1} are missing ({missing} events)"
        )
        return BrokenLink(event.sequence, event.pk, GAP, f"{what}: rows were removed before this one")
    if event.prev_hash != expected_prev:
        before = "the genesis value" if expected_sequence == 1 else f"the hash of sequence {expected_sequence - 1}"
        return BrokenLink(
            event.sequence,
            event.pk,
            BROKEN_PREV_LINK,
            f"prev_hash {event.prev_hash[:16]}… is not {before} ({expected_prev[:16]}…): "
            "the row before it was changed or replaced",
        )
    if event.hash != chain.event_hash(event):
        return BrokenLink(
            event.sequence,
            event.pk,
            HASH_MISMATCH,
            "the stored hash does not match the event's fields: the row was edited after it was written "
            "(or written with another key)",
        )
    return None
