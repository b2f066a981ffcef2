"""Password hashing as Odoo does it with passlib (odoo-protocol.md section 6), without passlib.

Hashes are passlib's modular-crypt ``pbkdf2_sha512`` strings,
``$pbkdf2-sha512$<rounds>$<salt>$<checksum>`` with passlib's "adapted base64" (``.`` for ``+``,
no padding), so a hash written by the emulator verifies in real Odoo and the other way round.

Odoo's user context is ``CryptContext(['pbkdf2_sha512', 'plaintext'], deprecated=['auto'])``:
a plaintext value (written by SQL) still verifies, and any verified value that is plaintext or
has fewer rounds than the minimum is rehashed. The master password context is the same with
``deprecated=['plaintext']``; both behave identically for what the emulator needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

SCHEME_PREFIX = "$pbkdf2-sha512$"
# 17.0 and later (MIN_ROUNDS in res_users.py; the master password uses the same count).
DEFAULT_ROUNDS = 600_000
SALT_BYTES = 16

# pbkdf2 with 600,000 rounds costs about 0.35 s per check. Odoo caches only successful
# (uid, password) checks for RPC; the emulator additionally remembers the outcome of each
# (stored hash, candidate) pair it computed. That cache cannot change an answer (the key holds
# the stored hash itself, so a password changed by SQL or the ORM misses it) and spares the
# emulator's users, tests first, the repeated 0.35 s.
_VERIFIED: dict[tuple[str, bytes], bool] = {}
_VERIFIED_LIMIT = 4096
_VERIFIED_LOCK = threading.Lock()


def _ab64_encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("+", ".")


def _ab64_decode(text: str) -> bytes:
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(secret: str, rounds: int = DEFAULT_ROUNDS) -> str:
    salt = os.urandom(SALT_BYTES)
    checksum = hashlib.pbkdf2_hmac("sha512", secret.encode("utf-8"), salt, rounds)
    return f"{SCHEME_PREFIX}{rounds}${_ab64_encode(salt)}${_ab64_encode(checksum)}"


def is_hashed(value: str) -> bool:
    """What res.users' ``init`` treats as already hashed: the extended MCF ``$x$y$...``."""
    parts = value.split("$")
    return len(parts) >= 4 and value.startswith("$") and bool(parts[1]) and bool(parts[2])


def _parse(stored: str) -> tuple[int, bytes, bytes] | None:
    if not stored.startswith(SCHEME_PREFIX):
        return None
    try:
        rounds_text, salt_text, checksum_text = stored[len(SCHEME_PREFIX) :].split("$")
        return int(rounds_text), _ab64_decode(salt_text), _ab64_decode(checksum_text)
    except ValueError:
        return None


def _verify_uncached(secret: str, stored: str) -> bool:
    parsed = _parse(stored)
    if parsed is None:
        # passlib identifies anything else as the "plaintext" scheme: compared as is.
        return hmac.compare_digest(secret.encode("utf-8"), stored.encode("utf-8"))
    rounds, salt, checksum = parsed
    computed = hashlib.pbkdf2_hmac("sha512", secret.encode("utf-8"), salt, rounds)
    return hmac.compare_digest(computed, checksum)


def verify(secret: str, stored: str) -> bool:
    key = (stored, hashlib.sha256(secret.encode("utf-8")).digest())
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(key)
    if known is not None:
        return known
    result = _verify_uncached(secret, stored)
    with _VERIFIED_LOCK:
        if len(_VERIFIED) >= _VERIFIED_LIMIT:
            _VERIFIED.clear()
        _VERIFIED[key] = result
    return result


def verify_and_update(
    secret: str, stored: str, min_rounds: int = DEFAULT_ROUNDS
) -> tuple[bool, str | None]:
    """passlib's ``CryptContext.verify_and_update``: (valid, replacement hash or None)."""
    if not verify(secret, stored):
        return False, None
    parsed = _parse(stored)
    if parsed is None or parsed[0] < min_rounds:
        return True, hash_password(secret, min_rounds)
    return True, None
