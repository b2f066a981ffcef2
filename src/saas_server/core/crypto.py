"""Secrets at rest and tokens: authenticated encryption, token hashing, random tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so no two uses of the secret key share key material."""
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


class SecretBox:
    """AES-256-GCM with a random nonce; the output is ``v1.`` + urlsafe base64(nonce||ct)."""

    PREFIX = "v1."

    def __init__(self, secret_key: str, purpose: str = "secrets-at-rest") -> None:
        self._aead = AESGCM(derive_key(secret_key, purpose))

    def encrypt(self, plaintext: str | bytes, associated_data: bytes | None = None) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, data, associated_data)
        return self.PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt_bytes(self, token: str, associated_data: bytes | None = None) -> bytes:
        if not token.startswith(self.PREFIX):
            raise ValueError("unknown ciphertext format")
        raw = base64.urlsafe_b64decode(token[len(self.PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], associated_data)

    def decrypt(self, token: str, associated_data: bytes | None = None) -> str:
        return self.decrypt_bytes(token, associated_data).decode()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """Tokens are high-entropy, so a plain SHA-256 is the right store (no slow hash needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
