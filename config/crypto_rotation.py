"""Re-encrypting every encrypted field under the current key (key rotation, design §4).

Rotation: put the new key first in BAOXIAO_FIELD_KEYS and keep the old ones after it (every key listed
decrypts, the first encrypts), deploy, run ``manage.py rotate_encryption_key``, then drop the old keys.
Each row is re-encrypted in its own short transaction under its row lock, bound to the same table, row
and field as before; a value that does not decrypt (damaged, moved from another row, unknown key) is
reported and left as it is, and the command fails so that the old key is not dropped too early.
The blind index key (BAOXIAO_BLIND_INDEX_KEY) is not rotated here: changing it means recomputing every
index from the clear values, a separate operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import models, transaction

from config import crypto


@dataclass(frozen=True)
class EncryptedField:
    """One encrypted column and the associated data (table, row, field) its values are bound to."""

    model: type[models.Model]
    name: str
    context: Callable[[models.Model], str]


@dataclass
class RotationReport:
    key_id: str
    checked: int = 0
    reencrypted: int = 0
    failures: list[str] = field(default_factory=list)


def encrypted_fields() -> list[EncryptedField]:
    """Every encrypted column of the project. A new one must be added here (tests/secrets checks that
    every column named ``*_encrypted`` is listed)."""
    from oa_bridge.credentials import _context as connector_context
    from oa_bridge.models import Connector
    from reimbursement.models import PayeeAccount
    from reimbursement.services.payee import context as payee_context

    return [
        EncryptedField(
            PayeeAccount, "account_number_encrypted", lambda a: payee_context(a, a.employee_id, "account_number")
        ),
        EncryptedField(PayeeAccount, "id_number_encrypted", lambda a: payee_context(a, a.employee_id, "id_number")),
        EncryptedField(Connector, "credentials_encrypted", connector_context),
    ]


def _stale_ids(spec: EncryptedField, key_id: str) -> Iterator[int]:
    """Ids of rows with a value not made by the current key (empty values are skipped)."""
    prefix = f"{crypto.TOKEN_PREFIX}.{key_id}."
    rows = spec.model.objects.exclude(**{spec.name: ""}).exclude(**{f"{spec.name}__startswith": prefix})
    yield from rows.order_by("pk").values_list("pk", flat=True).iterator()


def reencrypt_all(*, dry_run: bool = False) -> RotationReport:
    """Re-encrypt every value not yet under the current key; safe to run again (it then does nothing)."""
    report = RotationReport(key_id=crypto.current_key_id())
    for spec in encrypted_fields():
        label = f"{spec.model._meta.db_table}.{spec.name}"
        for pk in list(_stale_ids(spec, report.key_id)):
            report.checked += 1
            with transaction.atomic():
                row = spec.model.objects.select_for_update().filter(pk=pk).first()
                if row is None:
                    continue  # deleted meanwhile
                token = getattr(row, spec.name)
                try:
                    clear = crypto.decrypt(token, context=spec.context(row))
                except crypto.DecryptionError as exc:
                    report.failures.append(f"{label} row {pk}: {exc}")
                    continue
                if dry_run or crypto.key_id_of(token) == report.key_id:
                    continue
                setattr(row, spec.name, crypto.encrypt(clear, context=spec.context(row)))
                row.save(update_fields=[spec.name])
                report.reencrypted += 1
    return report
