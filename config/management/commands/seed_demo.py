"""Load the demo company. Safe to run again: existing rows are left exactly as they are."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from config.demo import seed_demo
from org.demo.company import DEMO_PASSWORD, SHOWCASE_LOGINS


class Command(BaseCommand):
    help = (
        "Load the demo company (9 departments on 3 levels, 32 employees with managers and heads, finance, "
        "auditor and admin logins, expense categories, policy rules and recent exchange rates) and print "
        "the demo logins. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args, quiet_logins: bool = False, **options):
        added = seed_demo()
        if any(added.values()):
            summary = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in added.items() if count)
            self.stdout.write(self.style.SUCCESS(f"Demo company loaded: {summary} added."))
        else:
            self.stdout.write("Demo company already loaded; nothing changed.")
        if not quiet_logins:
            self.stdout.write(f"\nDemo logins (password for every one: {DEMO_PASSWORD}):")
            for username, what in SHOWCASE_LOGINS:
                self.stdout.write(f"  {username:<12} {what}")
            self.stdout.write("")
