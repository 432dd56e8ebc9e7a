"""Make someone an auditor, limit them to departments, or take that away (each change is audited)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from org.models import Department
from reimbursement.auditor import auditor_grant, auditor_revoke


class Command(BaseCommand):
    help = (
        "Give USERNAME the auditor role: read-only sight of every submitted claim. With --department CODE "
        "(repeatable), limit them to the claims of those departments and the departments below them. With "
        "--revoke, take the named departments away (taking the last one widens sight to every claim), or "
        "with no department the role and every grant."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--department",
            dest="departments",
            action="extend",
            nargs="+",
            default=[],
            metavar="CODE",
            help="A department code (as in the admin); repeat or list several.",
        )
        parser.add_argument("--revoke", action="store_true", help="Take away instead of granting.")

    def handle(self, *args, username: str, departments: list[str], revoke: bool, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        codes = list(dict.fromkeys(departments))
        found = {d.code: d for d in Department.objects.filter(code__in=codes)}
        unknown = [code for code in codes if code not in found]
        if unknown:
            raise CommandError(f"No department with the code {', '.join(unknown)}.")
        chosen = [found[code] for code in codes]
        if revoke:
            left = auditor_revoke(user=user, departments=chosen)
            if not chosen:
                self.stdout.write(self.style.SUCCESS(f"{username} is no longer an auditor."))
                return
        else:
            left = auditor_grant(user=user, departments=chosen)
        if left:
            self.stdout.write(self.style.SUCCESS(f"{username} audits the claims of: {', '.join(left)} (and below)."))
        else:
            self.stdout.write(self.style.WARNING(f"{username} audits every submitted claim (no department grant)."))
