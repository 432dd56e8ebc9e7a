"""manage.py rotate_encryption_key: re-encrypt every encrypted field under the first key of
BAOXIAO_FIELD_KEYS (config/crypto_rotation.py says how to rotate a key)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from config.crypto_rotation import reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt every encrypted value under the current field key (the first in BAOXIAO_FIELD_KEYS)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only check that every old value decrypts; change nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        report = reencrypt_all(dry_run=dry_run)
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        count = report.checked - len(report.failures) if dry_run else report.reencrypted
        self.stdout.write(f"Current key {report.key_id}: {report.checked} old value(s) found, {count} {verb}.")
        if report.failures:
            for failure in report.failures:
                self.stderr.write(f"  does not decrypt: {failure}")
            raise CommandError(
                f"{len(report.failures)} value(s) did not decrypt and were left as they are; keep the old keys in "
                "BAOXIAO_FIELD_KEYS until they are repaired (re-enter them through the application)."
            )
