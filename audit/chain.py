"""The hash chain that makes the audit trail tamper-evident.

Every AuditEvent carries a sequence number, the hash of its predecessor and its own hash: an HMAC-SHA256
over a canonical serialisation of its fields plus that previous hash. The key lives outside the database
(BAOXIAO_AUDIT_HMAC_KEY; in development generated once into var/), so someone who can write to the table
can still not forge a row that verifies, and a row edited, removed or re-linked breaks the chain at that
point (``manage.py verify_audit_chain``).

Appending is serialised: on PostgreSQL by a transaction-level advisory lock with a fixed key, held until
the writer's transaction ends, so concurrent writers take consecutive sequence numbers in commit order; on
SQLite every write transaction already holds the database's write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import UTC
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections

from config.env import ConfigError, env_str

# The predecessor of the first event.
GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key for the chain: any fixed bigint no other code uses ("baoxaudt" in ASCII).
ADVISORY_LOCK_KEY = 0x62616F7861756474
# Bumped if the canonical form ever changes; part of what is hashed, so old rows keep verifying.
CANONICAL_VERSION = 1
KEY_VARIABLE = "BAOXIAO_AUDIT_HMAC_KEY"
MIN_KEY_BYTES = 32


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _development_key() -> str:
    path = settings.VAR_DIR / "audit_hmac_key"
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode())
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache(maxsize=1)
def hmac_key() -> bytes:
    """The chain key; production refuses to run without it (audit's ready() asks for it at start-up)."""
    raw = env_str(KEY_VARIABLE)
    if not raw:
        if settings.PRODUCTION:
            raise ConfigError(
                f"BAOXIAO_ENV=production needs {KEY_VARIABLE}: 32 random bytes in base64url, kept apart from "
                "the database (docs/configuration.md)"
            )
        raw = _development_key()
    try:
        key = _b64decode(raw)
    except ValueError:
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"{KEY_VARIABLE}: use at least {MIN_KEY_BYTES} random bytes in base64url")
    return key


def reset_key_cache() -> None:
    """Forget the loaded key (after the environment changed, e.g. in a test)."""
    hmac_key.cache_clear()


def normalise_data(data: dict[str, Any]) -> dict[str, Any]:
    """The event's data as the JSON column gives it back (Decimal and datetime become strings), so the
    hash computed before the insert matches the one recomputed from the stored row."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _number(value: int | float) -> str:
    # PostgreSQL's jsonb keeps numbers as numeric and may hand 1e+16 back as 10000000000000000 (or 1.0 as
    # 1.0, -0.0 as 0): write every number as its plain normalised decimal so both forms hash the same.
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return "0" if number == 0 else format(number.normalize(), "f")


def _encode(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, numbers normalised, strings as they are (UTF-8)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{_encode(item)}" for key, item in items) + "}"
    raise TypeError(f"cannot put {type(value).__name__} into an audit event's hash")


def canonical_bytes(event: Any) -> bytes:
    """What the hash covers: every field of the event except its database id and its own hash.

    ``event`` is an AuditEvent, or the historical model of a migration: only the attributes are read.
    """
    occurred_at = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    fields = {
        "v": CANONICAL_VERSION,
        "sequence": event.sequence,
        "uuid": str(event.uuid),
        "occurred_at": occurred_at,
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "on_behalf_of_name": event.on_behalf_of_name,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }
    return _encode(fields).encode()


def event_hash(event: Any) -> str:
    """HMAC-SHA256 of the canonical form, hex."""
    return hmac.new(hmac_key(), canonical_bytes(event), hashlib.sha256).hexdigest()


def lock_chain(using: str) -> None:
    """Take the chain's append lock until the current transaction ends (call inside one)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    # SQLite: the write transaction (BEGIN IMMEDIATE, config.env) already excludes every other writer.
