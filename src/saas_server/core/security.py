"""Password hashing (argon2) and access tokens (JWT, HS256 pinned)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, lru_cache

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from saas_server.core import clock
from saas_server.core.crypto import derive_key
from saas_server.core.errors import Unauthorized

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
# Verified tokens remembered per process: about one per client active within a token's
# lifetime (15 minutes), bounded so a flood of valid tokens cannot grow memory.
VERIFIED_TOKENS_MEMO_SIZE = 10_000


class PasswordHasher:
    def __init__(self) -> None:
        self._hash = PasswordHash((Argon2Hasher(),))

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str | None) -> bool:
        """Check a password; with no hash (unknown user), spend the same time and say no."""
        if password_hash is None:
            self._hash.verify(password, self._dummy_hash)
            return False
        try:
            return self._hash.verify(password, password_hash)
        except Exception:  # a malformed stored hash is a failed check, not a 500
            return False

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hash.hash(uuid.uuid4().hex)


password_hasher = PasswordHasher()


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    jti: str
    issued_at: datetime
    expires_at: datetime


class AccessTokens:
    """Short-lived bearer tokens. The algorithm is pinned: ``none`` or RS/ES tokens are refused."""

    def __init__(
        self, secret_key: str, ttl_seconds: int, *, memo_size: int = VERIFIED_TOKENS_MEMO_SIZE
    ) -> None:
        self._key = derive_key(secret_key, "access-token")
        self.ttl_seconds = ttl_seconds
        # A client presents the same token on every request for its whole lifetime, and
        # checking the signature and parsing the claims costs more than the rest of a cached
        # authentication. Only tokens that verified are remembered (lru_cache stores no
        # exception), and the expiry, which depends on the time, is checked on every call.
        self._verified = lru_cache(maxsize=memo_size)(self._verify)

    def issue(self, user_id: uuid.UUID, session_id: uuid.UUID) -> str:
        issued = clock.now()
        payload = {
            "sub": str(user_id),
            "sid": str(session_id),
            "type": ACCESS_TOKEN_TYPE,
            "jti": uuid.uuid4().hex,
            "iat": int(issued.timestamp()),
            "exp": int((issued + timedelta(seconds=self.ttl_seconds)).timestamp()),
        }
        return jwt.encode(payload, self._key, algorithm=JWT_ALGORITHM)

    def decode(self, token: str) -> AccessClaims:
        claims = self._verified(token)
        if claims.expires_at <= clock.now():
            raise Unauthorized("Access token expired")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        """The claims of a token signed with our key, whatever the time; raises otherwise."""
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                # ``decode`` checks the expiry against the injected clock, not the wall clock.
                options={
                    "require": ["sub", "sid", "exp", "iat", "jti", "type"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid access token") from exc
        if payload.get("type") != ACCESS_TOKEN_TYPE:
            raise Unauthorized("Invalid access token")
        try:
            expires_at = datetime.fromtimestamp(int(payload["exp"]), clock.now().tzinfo)
            issued_at = datetime.fromtimestamp(int(payload["iat"]), clock.now().tzinfo)
            claims = AccessClaims(
                user_id=uuid.UUID(str(payload["sub"])),
                session_id=uuid.UUID(str(payload["sid"])),
                jti=str(payload["jti"]),
                issued_at=issued_at,
                expires_at=expires_at,
            )
        except (TypeError, ValueError) as exc:
            raise Unauthorized("Invalid access token") from exc
        return claims
