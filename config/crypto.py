"""Field encryption at rest (design §4): AES-256-GCM with the table, row and field as associated data,
key ids for rotation, and an HMAC blind index for equality look-ups of encrypted values.

Keys come from BAOXIAO_FIELD_KEYS ("kid:base64key,kid:base64key", the first encrypts, all decrypt) and
BAOXIAO_BLIND_INDEX_KEY. In development both are generated once into var/ when unset.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from config.env import ConfigError

TOKEN_PREFIX = "v1"  # noqa: S105 - a format marker, not a secret


class DecryptionError(Exception):
    """The ciphertext is damaged, belongs to another row or field, or its key is unknown."""


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _parse_keys(raw: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        kid, _, encoded = item.strip().partition(":")
        try:
            key = _b64decode(encoded)
        except ValueError:
            key = b""
        if not kid or len(key) != 32:
            raise ConfigError("BAOXIAO_FIELD_KEYS: each entry is kid:<32 bytes in base64url>, comma separated")
        keys[kid] = key
    return keys


def _development_keys() -> tuple[str, str]:
    path = settings.VAR_DIR / "field_keys.json"
    if not path.exists():
        data = {
            "field_keys": f"dev1:{_b64encode(os.urandom(32))}",
            "blind_index_key": _b64encode(os.urandom(32)),
        }
        path.write_text(json.dumps(data))
        path.chmod(0o600)
    data = json.loads(path.read_text())
    return data["field_keys"], data["blind_index_key"]


@lru_cache(maxsize=1)
def _key_material() -> tuple[str, dict[str, bytes], bytes]:
    raw_keys = os.environ.get("BAOXIAO_FIELD_KEYS", "").strip()
    raw_index = os.environ.get("BAOXIAO_BLIND_INDEX_KEY", "").strip()
    if not raw_keys or not raw_index:
        if settings.PRODUCTION:
            raise ConfigError("BAOXIAO_ENV=production needs BAOXIAO_FIELD_KEYS and BAOXIAO_BLIND_INDEX_KEY")
        raw_keys, raw_index = _development_keys()
    keys = _parse_keys(raw_keys)
    current = raw_keys.split(",")[0].split(":")[0].strip()
    return current, keys, _b64decode(raw_index)


def reset_key_cache() -> None:
    """Forget loaded keys (after the environment changed, e.g. in a key-rotation test)."""
    _key_material.cache_clear()


def current_key_id() -> str:
    return _key_material()[0]


def encrypt(plaintext: str, *, context: str) -> str:
    """Encrypt with the current key; ``context`` ("table:row:field") binds the token to its place."""
    kid, keys, _ = _key_material()
    nonce = os.urandom(12)
    sealed = AESGCM(keys[kid]).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{TOKEN_PREFIX}.{kid}.{_b64encode(nonce + sealed)}"


def decrypt(token: str, *, context: str) -> str:
    """Decrypt a token made by :func:`encrypt` for the same context, with whichever key made it."""
    try:
        prefix, kid, body = token.split(".", 2)
    except ValueError:
        raise DecryptionError("not an encrypted value") from None
    _, keys, _ = _key_material()
    if prefix != TOKEN_PREFIX or kid not in keys:
        raise DecryptionError(f"unknown key id {kid!r}")
    raw = _b64decode(body)
    try:
        return AESGCM(keys[kid]).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag:
        raise DecryptionError("ciphertext does not match its key or its place") from None


def key_id_of(token: str) -> str:
    return token.split(".", 2)[1] if token.count(".") >= 2 else ""


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed hash for equality look-ups without decrypting; ``purpose`` separates the index spaces."""
    _, _, index_key = _key_material()
    normalised = "".join(value.split()).upper()
    return hmac.new(index_key, f"{purpose}\x00{normalised}".encode(), hashlib.sha256).hexdigest()
