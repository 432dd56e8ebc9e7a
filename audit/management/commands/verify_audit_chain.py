"""Check that no audit event was edited, removed or re-linked since it was written."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verification import verify_chain


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain from the first event to the last, in batches (constant memory), "
        "recomputing each event's HMAC with BAOXIAO_AUDIT_HMAC_KEY. Stops at the first broken link and names "
        "it: sequence number, event id and what differs (a gap: rows removed; a broken prev link: the row "
        "before was changed or replaced; a hash mismatch: the row itself was edited). Exit status 0 when the "
        "chain is whole, 1 when it is broken. Record the printed head (sequence and hash) elsewhere: removing "
        "events from the end of the chain can only be seen against such a record."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=2000,
            help="Events read from the database at a time (default 2000).",
        )

    def handle(self, *args, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        verbose = options["verbosity"] > 1
        report = verify_chain(
            batch_size=batch_size,
            progress=(lambda n: self.stdout.write(f"  {n} events checked")) if verbose else None,
        )
        if report.broken is not None:
            link = report.broken
            raise CommandError(
                f"Audit chain broken at sequence {link.sequence} (event id {link.event_id}): "
                f"{link.problem}: {link.detail}. {report.checked} events before it are intact.",
                returncode=1,
            )
        if report.checked == 0:
            self.stdout.write(self.style.SUCCESS("Audit chain whole: no events yet."))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit chain whole: {report.checked} events, sequence 1 to {report.head_sequence}; "
                f"head hash {report.head_hash}."
            )
        )
