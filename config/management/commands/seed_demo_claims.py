"""Give the demo company a little history of claims (run after seed_demo; `make run` does)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from config.demo_claims import seed_demo_claims


class Command(BaseCommand):
    help = (
        "Add ten demo claims in every state (draft, pending, returned, rejected, approved, paid in a batch) "
        "through the real services, so each demo login has something to look at. Does nothing when any "
        "claim exists."
    )

    def handle(self, *args, **options):
        added = seed_demo_claims()
        if added:
            self.stdout.write(self.style.SUCCESS(f"Demo history: {added} claims added."))
        else:
            self.stdout.write("Claims exist already; no demo history added.")
