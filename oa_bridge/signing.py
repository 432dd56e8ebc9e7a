"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}`` with the secret's bytes, sent as ``v1,<base64>``; several
space-separated signatures while a secret is rotated."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    """Why a request's signature was refused (logged and answered with 401/400)."""


def _key(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw.encode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def sign_headers(secrets: Iterable[str], msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The three headers for a request, one signature per secret (newest first)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
    }


def verify(secrets: Iterable[str], headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> str:
    """Check the signature of a raw body in constant time and the timestamp window; return the id."""
    msg_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not msg_id or not raw_timestamp or not signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not a number") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp is outside the ±5 minute window")
    offered = [part.split(",", 1)[1] for part in signatures.split() if part.startswith("v1,")]
    for secret in secrets:
        expected = signature(secret, msg_id, timestamp, body).split(",", 1)[1]
        # Compare against every offered signature without stopping early on a match.
        if any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered):
            return msg_id
    raise SignatureError("no signature matches")
