"""Login sessions: who is calling (``authenticate``), token rotation, logout, revocation."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update

from saas_server.audit import service as audit
from saas_server.auth.models import AuthSession, RefreshToken
from saas_server.auth.principal_cache import CachedPrincipal, principal_cache_of
from saas_server.auth.tokens import AuthBase
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.crypto import hash_token, new_token
from saas_server.core.errors import Unauthorized
from saas_server.core.runtime import Runtime
from saas_server.core.security import AccessClaims
from saas_server.users import service as users
from saas_server.users.models import User

# How many rotations a token presented again within its grace window may be behind.
_MAX_GRACE_CHAIN = 5
# How many expired sealed successors one sweep clears; a process sweeps at most once per
# grace window (at least once a second), from a refresh.
_STALE_SWEEP_LIMIT = 1000
_last_sweep: datetime | None = None


def _successor_aad(token_id: uuid.UUID) -> bytes:
    # Binds a sealed successor to the row it was sealed for: copied to another row, it opens
    # nowhere.
    return b"refresh-successor:" + token_id.bytes


class InvalidRefreshToken(Unauthorized):
    message = "Invalid or expired refresh token"
    keeps_changes = True  # a reused token's family stays revoked


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    session_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ApiKeyGrant:
    """What a request authenticated with an API key may do, besides what its user may
    (auth/api_keys.py)."""

    id: uuid.UUID
    scopes: frozenset[str]
    tenant_id: uuid.UUID | None


@dataclass(frozen=True)
class Principal:
    """The caller of an authenticated request.

    ``user`` is a detached copy of the caller's row as it was when the request was
    authenticated, usually served from memory (auth/principal_cache.py): read it, never
    change it. Code that changes the user, or needs columns the copy lacks (the password
    hash), loads the row into its session (``users.get_user(session, principal.user.id)``).
    """

    session_id: uuid.UUID
    claims: AccessClaims
    cached: CachedPrincipal
    # Set when the caller authenticated with an API key (then ``session_id`` is the key's id).
    api_key: ApiKeyGrant | None = None

    @property
    def confined_tenant_id(self) -> uuid.UUID | None:
        """The one tenant an API key is confined to, if any: lists narrow to it."""
        return self.api_key.tenant_id if self.api_key is not None else None

    @functools.cached_property
    def user(self) -> User:
        # Made on first use: an answer rendered from the cache entry needs no copy.
        return self.cached.user()

    def rendered(self, name: str, render: Callable[[User], bytes]) -> bytes:
        """``render(user)`` for the caller, remembered with the cached principal."""
        return self.cached.rendered(name, render)


async def authenticate(runtime: Runtime, access_token: str) -> Principal:
    """The caller presenting ``access_token``; 401 for a bad or expired token, an ended
    session, a suspended account.

    Needs no database session: on a principal-cache hit it costs no query at all, and a
    miss reads on the cache's own connection, so a request that only asks who is calling
    opens no transaction.
    """
    claims = runtime.access_tokens.decode(access_token)
    found = await principal_cache_of(runtime).get(claims.session_id)
    if found is None or found.user_id != claims.user_id:
        raise Unauthorized("Invalid access token")
    if found.session_ended:
        raise Unauthorized("This session has ended")
    if not found.is_active:
        raise Unauthorized("This account is suspended")
    return Principal(session_id=claims.session_id, claims=claims, cached=found)


async def still_authenticated(runtime: Runtime, principal: Principal) -> bool:
    """Whether ``principal`` may still be served, for a request that lasts (an event
    stream): its key not revoked nor expired, or its login session not ended; its user not
    suspended. The access token's own expiry is not checked again: it was valid when the
    stream opened, and a client keeps a stream across token refreshes; ending the session
    (logout) ends the stream."""
    cache = principal_cache_of(runtime)
    if principal.api_key is not None:
        loaded = await cache.load_api_key_by_id(principal.api_key.id)
        if loaded is None:
            return False
        found, key = loaded
        if key.expires_at is not None and key.expires_at <= clock.now():
            return False
    else:
        found_session = await cache.get(principal.session_id)
        if found_session is None:
            return False
        found = found_session
    return not found.session_ended and found.is_active


class Sessions(AuthBase):
    """Login sessions: starting one, refreshing its tokens, ending it."""

    async def refresh(self, refresh_token: str, client: ClientInfo) -> IssuedTokens:
        now = clock.now()
        row = (
            await self.session.execute(
                select(RefreshToken, AuthSession)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .where(RefreshToken.token_hash == hash_token(refresh_token))
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            raise InvalidRefreshToken()
        token, auth_session = row
        if auth_session.revoked_at is not None or token.expires_at <= now:
            raise InvalidRefreshToken()
        successor: str | None = None
        if token.rotated_at is not None:
            successor = await self._successor_in_grace(token)
            if successor is None:
                # A rotated token presented again, after its grace window, means it leaked:
                # end the whole family.
                token.successor_sealed = None
                self._revoke(auth_session, "refresh_token_reuse")
                raise InvalidRefreshToken()
        user = await users.get_user(self.session, auth_session.user_id)
        if not user.is_active:
            raise InvalidRefreshToken()
        auth_session.last_used_at = now
        if successor is None:
            token.rotated_at = now
            successor = await self._add_refresh_token(auth_session)
            if self._grace_seconds > 0:
                token.successor_sealed = self.runtime.secrets.encrypt(
                    successor, _successor_aad(token.id)
                )
        await self._drop_stale_successors()
        return IssuedTokens(
            access_token=self.access_tokens.issue(user.id, auth_session.id),
            refresh_token=successor,
            expires_in=self.access_tokens.ttl_seconds,
            user=user,
            session_id=auth_session.id,
        )

    @property
    def _grace_seconds(self) -> float:
        return float(self.settings.refresh_reuse_grace_seconds)

    async def _successor_in_grace(self, token: RefreshToken) -> str | None:
        """The live token ``token`` was rotated to, when it is presented again within the
        reuse grace window (docs/decisions/0034-refresh-reuse-grace.md): two requests of one
        client that refreshed at once with it, on different API processes. Following the
        chain when the successor was itself rotated within its window; None otherwise."""
        now = clock.now()
        grace = timedelta(seconds=self._grace_seconds)
        for _ in range(_MAX_GRACE_CHAIN):
            if (
                grace <= timedelta(0)
                or token.rotated_at is None
                or token.successor_sealed is None
                or now - token.rotated_at > grace
            ):
                return None
            try:
                raw = self.runtime.secrets.decrypt(token.successor_sealed, _successor_aad(token.id))
            except (ValueError, InvalidTag):
                return None
            successor = (
                await self.session.execute(
                    select(RefreshToken)
                    .where(RefreshToken.token_hash == hash_token(raw))
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if (
                successor is None
                or successor.session_id != token.session_id
                or successor.expires_at <= now
            ):
                return None
            if successor.rotated_at is None:
                return raw
            token = successor
        return None

    async def _drop_stale_successors(self) -> None:
        """Forget the sealed successors whose grace window has passed (any session's: a few
        rows at most, found by a partial index), so none is kept much longer than its window.
        At most once per window in a process: a refresh then pays no extra statement. Rows
        another transaction holds are left for the next sweep."""
        global _last_sweep
        now = clock.now()
        window = timedelta(seconds=max(self._grace_seconds, 1.0))
        # (A clock that went back, as a test's may, sweeps at once.)
        if _last_sweep is not None and _last_sweep <= now < _last_sweep + window:
            return
        _last_sweep = now
        cutoff = now - timedelta(seconds=self._grace_seconds)
        stale = (
            select(RefreshToken.id)
            .where(RefreshToken.successor_sealed.is_not(None), RefreshToken.rotated_at < cutoff)
            .limit(_STALE_SWEEP_LIMIT)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id.in_(stale))
            .values(successor_sealed=None)
            .execution_options(synchronize_session=False)
        )

    async def logout(
        self,
        principal: Principal | None,
        refresh_token: str | None,
        client: ClientInfo | None = None,
    ) -> None:
        ended: list[AuthSession] = []
        if principal is not None:
            auth_session = await self.session.get(AuthSession, principal.session_id)
            if auth_session is not None and auth_session.revoked_at is None:
                self._revoke(auth_session, "logout")
                ended.append(auth_session)
        if refresh_token:
            found = (
                await self.session.execute(
                    select(AuthSession)
                    .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
                    .where(RefreshToken.token_hash == hash_token(refresh_token))
                )
            ).scalar_one_or_none()
            # Only the caller's own sessions: a token of someone else's is ignored.
            if found is not None and (principal is None or found.user_id == principal.user.id):
                if found.revoked_at is None:
                    ended.append(found)
                self._revoke(found, "logout")
        for auth_session in ended:
            await audit.record(
                self.session,
                action=audit.AUTH_LOGOUT,
                resource_type="user",
                resource_id=auth_session.user_id,
                actor_id=auth_session.user_id,
                new_values={"session_id": auth_session.id},
                client=client,
            )

    async def authenticate(self, access_token: str) -> Principal:
        return await authenticate(self.runtime, access_token)

    async def revoke_all_sessions(self, user_id: uuid.UUID, reason: str) -> None:
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=clock.now(), revoked_reason=reason)
        )

    async def _start_session(self, user: User, client: ClientInfo) -> IssuedTokens:
        now = clock.now()
        auth_session = AuthSession(
            user_id=user.id,
            expires_at=now + timedelta(days=self.settings.refresh_token_ttl_days),
            last_used_at=now,
            ip_address=client.ip,
            user_agent=client.user_agent,
        )
        self.session.add(auth_session)
        await self.session.flush()
        refresh = await self._add_refresh_token(auth_session)
        return IssuedTokens(
            access_token=self.access_tokens.issue(user.id, auth_session.id),
            refresh_token=refresh,
            expires_in=self.access_tokens.ttl_seconds,
            user=user,
            session_id=auth_session.id,
        )

    async def _add_refresh_token(self, auth_session: AuthSession) -> str:
        now = clock.now()
        expires = now + timedelta(days=self.settings.refresh_token_ttl_days)
        raw = new_token(32)
        self.session.add(
            RefreshToken(
                session_id=auth_session.id,
                token_hash=hash_token(raw),
                created_at=now,
                expires_at=expires,
            )
        )
        auth_session.expires_at = expires
        await self.session.flush()
        return raw

    def _revoke(self, auth_session: AuthSession, reason: str) -> None:
        if auth_session.revoked_at is None:
            auth_session.revoked_at = clock.now()
            auth_session.revoked_reason = reason
