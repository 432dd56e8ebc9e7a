"""Feishu's callback crypto, as its documentation and lark-oapi (``core/utils/decryptor.py``,
``event/dispatcher_handler.py``) do it.

* An encrypted body is ``{"encrypt": "<base64>"}``: key = SHA-256(encrypt key), the first 16 bytes of the
  decoded payload are the IV, AES-256-CBC, PKCS#7 padding.
* ``X-Lark-Signature`` = hex SHA-256(``X-Lark-Request-Timestamp`` + ``X-Lark-Request-Nonce`` + encrypt
  key + raw body). Feishu signs only when an encrypt key is set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16


class DecryptError(ValueError):
    """The body cannot be decrypted with this key (wrong key, damaged or forged payload)."""


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode()).digest()


def decrypt(encrypted: str, encrypt_key: str) -> str:
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("the encrypted body is not base64") from None
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise DecryptError("the encrypted body has an invalid length")
    decryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(raw[:BLOCK])).decryptor()
    padded = decryptor.update(raw[BLOCK:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode()
    except (ValueError, UnicodeDecodeError):
        raise DecryptError("the body does not decrypt with this encrypt key") from None


def encrypt(plaintext: str, encrypt_key: str, *, iv: bytes | None = None) -> str:
    """What Feishu does before sending (used by the tests and the fake server)."""
    iv = iv or os.urandom(BLOCK)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def signature_matches(timestamp: str, nonce: str, encrypt_key: str, body: bytes, offered: str) -> bool:
    return hmac.compare_digest(signature(timestamp, nonce, encrypt_key, body), offered or "")


def token_matches(expected: str, offered: object) -> bool:
    return isinstance(offered, str) and bool(offered) and hmac.compare_digest(expected.encode(), offered.encode())
