"""manage.py send_compliance_report [--month YYYY-MM]: the monthly compliance mail, by hand."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError

from reports import services


class Command(BaseCommand):
    help = (
        "Mail the compliance report of one month (default: the previous month) to every finance user, with "
        "the reports as an XLSX workbook. A month already sent is not sent again (the beat task on the 1st "
        "and this command share that record)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", help="the month to report on, as YYYY-MM (default: the previous month)")

    def handle(self, *args, month: str | None = None, **options):
        if month:
            try:
                when = datetime.date.fromisoformat(f"{month}-01")
            except ValueError:
                raise CommandError(f"--month {month!r}: give the month as YYYY-MM, e.g. 2026-10") from None
        else:
            when = services.previous_month()
        if services.monthly_report_send(month=when):
            self.stdout.write(self.style.SUCCESS(f"Compliance report {when:%Y-%m} sent to finance."))
        else:
            self.stdout.write(f"Compliance report {when:%Y-%m} was already sent (or is being sent): nothing done.")
