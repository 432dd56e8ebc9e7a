"""The callback crypto DingTalk and WeCom share (WeCom's "WXBizMsgCrypt", DingTalk's "DingCallbackCrypto").

* signature: hex SHA-1 of the sorted concatenation of (token, timestamp, nonce, encrypted text);
* key: base64-decode(EncodingAESKey + "="), 32 bytes; IV: the key's first 16 bytes; AES-256-CBC;
* padding: PKCS#7 to a multiple of **32** bytes (not the AES block size of 16);
* plaintext: 16 random bytes | 4-byte big-endian length | message | receiver id (WeCom: the corp id;
  DingTalk: the app key, or the corp id / suite key for older apps).

Checked against both vendors' published sample vectors in tests/oa_bridge/test_bizmsgcrypt.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import string
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CryptoError(Exception):
    """A callback that fails the signature, decryption, or receiver check; the message says which."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    parts = sorted([token, str(timestamp), str(nonce), encrypted])
    # SHA-1 is what DingTalk and WeCom sign with (their protocol, not our choice); AES-CBC protects the body.
    return hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324  # nosec B324


def _key(aes_key: str) -> bytes:
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("the AES key is not 43 characters of base64") from None
    if len(key) != 32:
        raise CryptoError("the AES key must be 43 characters (32 bytes once decoded)")
    return key


class BizMsgCrypt:
    """One callback configuration: the token, the EncodingAESKey and the receiver id it must carry."""

    def __init__(self, token: str, aes_key: str, receiver_id: str):
        self.token = token
        self.key = _key(aes_key)
        self.receiver_id = receiver_id

    # --- low level ------------------------------------------------------------------------------------
    def encrypt(self, message: str | bytes, *, random_prefix: bytes | None = None) -> str:
        data = message.encode() if isinstance(message, str) else message
        plain = (random_prefix or os.urandom(16)) + struct.pack(">I", len(data)) + data + self.receiver_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> tuple[bytes, str]:
        """(message, receiver id) of an encrypted text; CryptoError when it does not decrypt cleanly."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("the encrypted text is not base64") from None
        if not raw or len(raw) % 16:
            raise CryptoError("the encrypted text has a wrong length")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("the encrypted text does not decrypt with this AES key (bad padding)")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CryptoError("the decrypted text is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CryptoError("the decrypted text's length field is wrong")
        message, receiver = plain[20 : 20 + length], plain[20 + length :]
        try:
            return message, receiver.decode()
        except UnicodeDecodeError:
            raise CryptoError("the receiver id is not text") from None

    # --- what a callback needs -----------------------------------------------------------------------
    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, (msg_signature or "").lower()):
            raise CryptoError("the signature does not match (wrong token, or the request was changed)")

    def open(
        self, msg_signature: str, timestamp: str, nonce: str, encrypted: str, *, also: tuple[str, ...] = ()
    ) -> bytes:
        """Verify, decrypt and check the receiver id (ours, or one of ``also``); the message bytes."""
        self.verify(msg_signature, timestamp, nonce, encrypted)
        message, receiver = self.decrypt(encrypted)
        accepted = [self.receiver_id, *also]
        if not any(r and hmac.compare_digest(receiver.encode(), r.encode()) for r in accepted):
            raise CryptoError(f"the message is for receiver {receiver!r}, not {self.receiver_id!r}")
        return message

    def seal(self, message: str | bytes, *, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        """An encrypted, signed message: {encrypt, msg_signature, timestamp, nonce}."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8))
        encrypted = self.encrypt(message)
        return {
            "encrypt": encrypted,
            "msg_signature": signature(self.token, timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
