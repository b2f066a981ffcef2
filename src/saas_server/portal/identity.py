"""Portal logins: a client of a tenant logs in with their Odoo credentials (seed 004).

The tenant's Odoo checks the password (``/web/session/authenticate``); the platform then
issues its own tokens, bound to that tenant and the client's partner: an access token
(``portal.`` + a JWT signed with a key of its own, so no platform route takes it for a
user's) and an opaque refresh token (``prt_``..., stored hashed, rotated on every use).
Odoo's web session is kept encrypted and ended at logout.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.auth.tenant_login import PORTAL_ACCESS_PREFIX, PORTAL_REFRESH_PREFIX
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.crypto import derive_key, hash_token, new_token
from saas_server.core.errors import NotFound, Unauthorized
from saas_server.core.runtime import Runtime
from saas_server.portal.models import (
    PortalRefreshRotation,
    PortalSession,
    PortalStatus,
    PortalTenant,
)
from saas_server.portal.odoo_access import tenant_odoo
from saas_server.tenants.models import GONE_STATUSES, Tenant

ACCESS_TYPE = "portal_access"
SESSION_PURPOSE = b"portal-odoo-session"
ALGORITHM = "HS256"
# How many rotations a token presented again within its grace window may be behind.
MAX_GRACE_CHAIN = 5
# How many expired sealed successors one sweep clears.
STALE_SWEEP_LIMIT = 1000
_last_sweep: datetime | None = None


class PortalNotFound(NotFound):
    code = "TENANT_NOT_FOUND"
    message = "No client portal is open for this tenant"


class InvalidPortalLogin(Unauthorized):
    message = "Invalid email or password"


@dataclass(frozen=True)
class PortalClaims:
    session_id: uuid.UUID
    tenant_id: uuid.UUID
    partner_id: int
    commercial_id: int
    is_internal: bool


def _key(runtime: Runtime) -> bytes:
    return derive_key(runtime.secret_key, "portal-access-token")


def issue_access(runtime: Runtime, row: PortalSession) -> str:
    now = clock.now()
    payload = {
        "sub": str(row.id),
        "tid": str(row.tenant_id),
        "pid": row.partner_id,
        "cid": row.commercial_id,
        "int": bool(row.odoo_session.get("is_internal")),
        "type": ACCESS_TYPE,
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int(
            (now + timedelta(seconds=runtime.settings.access_token_ttl_seconds)).timestamp()
        ),
    }
    return PORTAL_ACCESS_PREFIX + jwt.encode(payload, _key(runtime), algorithm=ALGORITHM)


def decode_access(runtime: Runtime, token: str) -> PortalClaims:
    if not token.startswith(PORTAL_ACCESS_PREFIX):
        raise Unauthorized("Invalid access token")
    try:
        payload = jwt.decode(
            token[len(PORTAL_ACCESS_PREFIX) :],
            _key(runtime),
            algorithms=[ALGORITHM],
            # Expiry is checked below on the injected clock (core/clock.py), and so the moment
            # of issue is not checked against the machine's.
            options={
                "require": ["sub", "tid", "pid", "cid", "exp", "type"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid access token") from exc
    if payload.get("type") != ACCESS_TYPE:
        raise Unauthorized("Invalid access token")
    if int(payload["exp"]) <= clock.now().timestamp():
        raise Unauthorized("Access token expired")
    try:
        return PortalClaims(
            session_id=uuid.UUID(str(payload["sub"])),
            tenant_id=uuid.UUID(str(payload["tid"])),
            partner_id=int(payload["pid"]),
            commercial_id=int(payload["cid"]),
            is_internal=bool(payload.get("int")),
        )
    except (TypeError, ValueError) as exc:
        raise Unauthorized("Invalid access token") from exc


async def portal_tenant(session: AsyncSession, subdomain: str) -> Tenant:
    """The tenant of that subdomain whose portal is enabled (else 404)."""
    tenant = (
        await session.execute(
            select(Tenant)
            .join(PortalTenant, PortalTenant.tenant_id == Tenant.id)
            .where(
                func.lower(Tenant.subdomain) == subdomain.strip().lower(),
                Tenant.status.not_in(GONE_STATUSES),
                PortalTenant.status == PortalStatus.ENABLED.value,
            )
        )
    ).scalar_one_or_none()
    if tenant is None:
        raise PortalNotFound()
    return tenant


def _answer(
    runtime: Runtime, row: PortalSession, refresh_token: str, tenant: Tenant
) -> dict[str, Any]:
    info = row.odoo_session
    return {
        "access_token": issue_access(runtime, row),
        "refresh_token": refresh_token,
        "token_type": "bearer",
        "expires_in": runtime.settings.access_token_ttl_seconds,
        "user": {
            "id": str(row.id),
            "email": row.email,
            "login": row.login,
            "full_name": info.get("name"),
            "kind": "portal" if info.get("is_portal") else "odoo_user",
        },
        "tenant": {"id": str(tenant.id), "subdomain": tenant.subdomain},
        "odoo_session": {
            key: info.get(key)
            for key in (
                "uid",
                "partner_id",
                "commercial_partner_id",
                "db",
                "is_portal",
                "is_internal",
                "company_id",
                "lang",
                "tz",
                "name",
                "username",
            )
        },
    }


async def login(
    session: AsyncSession,
    runtime: Runtime,
    subdomain: str,
    login_name: str,
    password: str,
    client: ClientInfo,
) -> dict[str, Any]:
    tenant = await portal_tenant(session, subdomain)
    async with tenant_odoo(session, runtime, tenant.id) as odoo:
        logged = await odoo.driver.web_login(odoo.database, login_name, password)
        if logged is None:
            raise InvalidPortalLogin()
        [partner] = await odoo.driver.search_read(
            odoo.database,
            odoo.admin,
            "res.partner",
            [("id", "=", logged.partner_id)],
            ["email", "commercial_partner_id"],
            context={"active_test": False},
        ) or [{}]
    commercial = partner.get("commercial_partner_id")
    commercial_id = int(commercial[0]) if commercial else logged.partner_id
    refresh_token = PORTAL_REFRESH_PREFIX + new_token(32)
    now = clock.now()
    row = PortalSession(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        odoo_uid=logged.uid,
        partner_id=logged.partner_id,
        commercial_id=commercial_id,
        login=logged.login[:320],
        email=(partner.get("email") or None),
        odoo_session={
            "uid": logged.uid,
            "partner_id": logged.partner_id,
            "commercial_partner_id": commercial_id,
            "db": logged.db,
            "is_portal": logged.is_portal,
            "is_internal": logged.is_internal,
            "company_id": logged.company_id,
            "lang": logged.lang,
            "tz": logged.tz,
            "name": logged.name,
            "username": logged.login,
        },
        odoo_session_id_encrypted=runtime.secrets.encrypt(logged.session_id, SESSION_PURPOSE),
        refresh_token_hash=hash_token(refresh_token),
        created_at=now,
        refresh_expires_at=now + timedelta(days=runtime.settings.refresh_token_ttl_days),
    )
    session.add(row)
    await session.flush()
    return _answer(runtime, row, refresh_token, tenant)


class InvalidPortalRefresh(Unauthorized):
    message = "Invalid refresh token"
    keeps_changes = True  # a reused token's session stays revoked


def _successor_aad(token_hash: str) -> bytes:
    # Binds a sealed successor to the rotated token it was sealed for.
    return b"portal-refresh-successor:" + token_hash.encode()


async def refresh(
    session: AsyncSession, runtime: Runtime, refresh_token: str, client: ClientInfo
) -> dict[str, Any]:
    """A new pair for the session's live refresh token (rotated: the old one is kept as a
    rotation). A rotated token presented again ends the session (conventions: reuse of a
    rotated token revokes the whole family), unless within the reuse grace window of its
    rotation (``SAAS_REFRESH_REUSE_GRACE_SECONDS``, decision 0034): then it is answered with
    the same successor, as the platform's own refresh tokens are."""
    now = clock.now()
    presented = hash_token(refresh_token)
    row = (
        await session.execute(
            select(PortalSession)
            .where(PortalSession.refresh_token_hash == presented)
            .with_for_update()
        )
    ).scalar_one_or_none()
    successor: str | None = None
    if row is None:
        rotation = await session.get(PortalRefreshRotation, presented)
        if rotation is None:
            raise InvalidPortalRefresh()
        row = await session.get(PortalSession, rotation.session_id, with_for_update=True)
        if row is None or row.revoked_at is not None:
            raise InvalidPortalRefresh()
        successor = await _successor_in_grace(session, runtime, row, rotation)
        if successor is None:
            # A rotated token came back after its window: it leaked. End the session.
            rotation.successor_sealed = None
            row.revoked_at = now
            row.revoked_reason = "refresh_token_reuse"
            raise InvalidPortalRefresh()
    if row.revoked_at is not None or row.refresh_expires_at <= now:
        raise InvalidPortalRefresh()
    tenant = await session.get(Tenant, row.tenant_id)
    if tenant is None:
        raise InvalidPortalRefresh()
    if successor is None:
        successor = PORTAL_REFRESH_PREFIX + new_token(32)
        grace = runtime.settings.refresh_reuse_grace_seconds
        session.add(
            PortalRefreshRotation(
                token_hash=presented,
                session_id=row.id,
                rotated_at=now,
                successor_sealed=runtime.secrets.encrypt(successor, _successor_aad(presented))
                if grace > 0
                else None,
            )
        )
        row.refresh_token_hash = hash_token(successor)
        await _drop_stale_successors(session, runtime)
    await session.flush()
    return _answer(runtime, row, successor, tenant)


async def _successor_in_grace(
    session: AsyncSession,
    runtime: Runtime,
    row: PortalSession,
    rotation: PortalRefreshRotation,
) -> str | None:
    """The session's live refresh token, when ``rotation``'s token is presented again within
    its grace window (following the successors rotated within theirs, a few at most)."""
    now = clock.now()
    grace = timedelta(seconds=runtime.settings.refresh_reuse_grace_seconds)
    for _ in range(MAX_GRACE_CHAIN):
        if grace <= timedelta(0) or rotation.successor_sealed is None:
            return None
        if now - rotation.rotated_at > grace:
            return None
        try:
            raw = runtime.secrets.decrypt(
                rotation.successor_sealed, _successor_aad(rotation.token_hash)
            )
        except (ValueError, InvalidTag):
            return None
        if hash_token(raw) == row.refresh_token_hash:
            return raw
        following = await session.get(PortalRefreshRotation, hash_token(raw))
        if following is None or following.session_id != row.id:
            return None
        rotation = following
    return None


async def _drop_stale_successors(session: AsyncSession, runtime: Runtime) -> None:
    """Forget the sealed successors whose grace window has passed (any session's, found by
    a partial index), at most once per window in a process, as the platform's refresh
    does."""
    global _last_sweep
    now = clock.now()
    grace = runtime.settings.refresh_reuse_grace_seconds
    window = timedelta(seconds=max(grace, 1.0))
    if _last_sweep is not None and _last_sweep <= now < _last_sweep + window:
        return
    _last_sweep = now
    stale = (
        select(PortalRefreshRotation.token_hash)
        .where(
            PortalRefreshRotation.successor_sealed.is_not(None),
            PortalRefreshRotation.rotated_at < now - timedelta(seconds=grace),
        )
        .limit(STALE_SWEEP_LIMIT)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await session.execute(
        update(PortalRefreshRotation)
        .where(PortalRefreshRotation.token_hash.in_(stale))
        .values(successor_sealed=None)
        .execution_options(synchronize_session=False)
    )


async def live_session(session: AsyncSession, claims: PortalClaims) -> PortalSession:
    row = await session.get(PortalSession, claims.session_id)
    if row is None or row.revoked_at is not None or row.tenant_id != claims.tenant_id:
        raise Unauthorized("The session has ended")
    return row


async def logout(
    session: AsyncSession, runtime: Runtime, access_token: str | None, refresh_token: str | None
) -> None:
    """End the portal session (by either token) and Odoo's web session with it."""
    row: PortalSession | None = None
    if access_token:
        claims = decode_access(runtime, access_token)
        row = await session.get(PortalSession, claims.session_id, with_for_update=True)
    elif refresh_token:
        row = (
            await session.execute(
                select(PortalSession)
                .where(PortalSession.refresh_token_hash == hash_token(refresh_token))
                .with_for_update()
            )
        ).scalar_one_or_none()
    if row is None:
        raise Unauthorized("Invalid token")
    if row.revoked_at is not None:
        return
    row.revoked_at = clock.now()
    row.revoked_reason = "logout"
    odoo_session_id = runtime.secrets.decrypt(row.odoo_session_id_encrypted, SESSION_PURPOSE)
    try:
        async with tenant_odoo(session, runtime, row.tenant_id) as odoo:
            await odoo.driver.web_logout(odoo_session_id)
    except Exception:
        return


def rate_budget(runtime: Runtime, token: str) -> tuple[str, str] | None:
    """The rate-limit budget of a portal token (core's rate-limit middleware asks, through
    the runtime's parts): 100 calls a minute per portal session by default."""
    if not token.startswith(PORTAL_ACCESS_PREFIX):
        return None
    try:
        claims = decode_access(runtime, token)
    except Unauthorized:
        return None
    return f"portal:{claims.session_id}", runtime.settings.portal_rate_limit_user
