"""Personal API keys: creating, listing and revoking them, and authenticating a request with
one (docs/decisions/0015-api-keys.md).

A key is ``saas_live_`` + 43 random URL-safe characters (256 bits): the prefix lets secret
scanners find leaked keys and lets the API tell a key from a JWT. Only an HMAC-SHA256 of the
key under a key derived from the platform's secret key is stored; the listing shows the
first characters (``prefix``) so owners can tell keys apart.

The management functions work in the caller's transaction and never commit. Authentication
reads the key on the principal cache's own connections (no request transaction), then checks
the route against the scope table (auth/scopes.py) in one place, for every route.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from fastapi import Request
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.auth import scopes as scope_table
from saas_server.auth.models import ApiKey
from saas_server.auth.principal_cache import principal_cache_of
from saas_server.auth.sessions import ApiKeyGrant, Principal
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.crypto import derive_key
from saas_server.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from saas_server.core.hooks import Provider
from saas_server.core.runtime import Runtime
from saas_server.core.security import AccessClaims
from saas_server.users.models import User

KEY_PREFIX = "saas_live_"
API_KEY_HEADER = "x-api-key"
KEY_RANDOM_BYTES = 32
# Characters of the key shown in lists: the prefix and this many random ones.
VISIBLE_RANDOM_CHARS = 8
HASH_PURPOSE = "api-keys"
# ``last_used_at`` is written at most this often per key (not on every request).
LAST_USED_EVERY = timedelta(minutes=1)
# Addresses remembered per key; a use from any other one is audited.
RECENT_IPS_KEPT = 10
# Key hash -> user id, for the rate limiter (a key's user never changes; a revoked key is
# still refused by the endpoint, so a stale entry costs nothing but a budget line).
MAX_REMEMBERED_KEY_USERS = 10_000

API_KEY_CREATED = "api_key.created"
API_KEY_REVOKED = "api_key.revoked"
API_KEY_USED_FROM_NEW_IP = "api_key.used_from_new_ip"

# Whether ``user`` may see tenant ``tenant_id`` (the tenants domain answers; it sits above).
tenant_visible_to: Provider[[AsyncSession, User, uuid.UUID], bool] = Provider(
    "auth.tenant_visible_to"
)


# The tenant a resource belongs to (None: no such resource), by resource kind
# (auth/scopes.py RESOURCE_PARAMETERS) and raw id: the owning domain answers.
resource_tenant: Provider[[Runtime, str, str], uuid.UUID | None] = Provider("auth.resource_tenant")


class ApiKeyNotFound(NotFound):
    code = "API_KEY_NOT_FOUND"
    message = "API key not found"


class ConfinedTenantNotFound(NotFound):
    """Another tenant's id, seen through a key confined to one tenant: answered as the
    tenants domain answers an invisible tenant."""

    code = "TENANT_NOT_FOUND"
    message = "Tenant not found"


class ConfinedResourceNotFound(NotFound):
    """Another tenant's resource, seen through a key confined to one tenant: answered as
    its domain answers an invisible one (code and message per kind)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind.capitalize()} not found")
        self.code = f"{kind.upper()}_NOT_FOUND"


@dataclass(frozen=True)
class CreatedApiKey:
    key: ApiKey
    secret: str  # shown once, never stored


@lru_cache(maxsize=4)
def _hash_key_for(secret_key: str) -> bytes:
    return derive_key(secret_key, HASH_PURPOSE)


def hash_api_key(secret_key: str, raw: str) -> str:
    return hmac.new(_hash_key_for(secret_key), raw.encode(), hashlib.sha256).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


# -- management (the caller's transaction) ---------------------------------------------------


class ApiKeys:
    def __init__(self, session: AsyncSession, runtime: Runtime, client: ClientInfo) -> None:
        self.session = session
        self.runtime = runtime
        self.client = client

    async def create(
        self,
        owner: User,
        *,
        name: str,
        scopes: list[str],
        tenant_id: uuid.UUID | None = None,
        expires_at: datetime | None = None,
    ) -> CreatedApiKey:
        unknown = sorted(set(scopes) - set(scope_table.SCOPES))
        if unknown:
            raise ValidationFailed(
                "Unknown scope", details={"scopes": [f"unknown scope: {s}" for s in unknown]}
            )
        now = clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationFailed(
                "The expiry is in the past", details={"expires_at": ["must be in the future"]}
            )
        if tenant_id is not None and not await tenant_visible_to.ask(
            self.session, owner, tenant_id
        ):
            raise ConfinedTenantNotFound()
        secret = new_api_key()
        key = ApiKey(
            user_id=owner.id,
            tenant_id=tenant_id,
            name=name,
            prefix=secret[: len(KEY_PREFIX) + VISIBLE_RANDOM_CHARS],
            key_hash=hash_api_key(self.runtime.secret_key, secret),
            scopes=sorted(set(scopes)),
            created_at=now,
            expires_at=expires_at,
            recent_ips=[],
        )
        self.session.add(key)
        await self.session.flush()
        await audit.record(
            self.session,
            action=API_KEY_CREATED,
            resource_type="api_key",
            resource_id=key.id,
            actor_id=owner.id,
            tenant_id=tenant_id,
            new_values={
                "name": name,
                "prefix": key.prefix,
                "scopes": key.scopes,
                "tenant_id": tenant_id,
                "expires_at": expires_at,
            },
            client=self.client,
        )
        return CreatedApiKey(key=key, secret=secret)

    def listed(self, owner_id: uuid.UUID) -> Select[ApiKey]:
        """The owner's keys not revoked (expired ones included: their owner sees why a
        script stopped working)."""
        return select(ApiKey).where(ApiKey.user_id == owner_id, ApiKey.revoked_at.is_(None))

    async def revoke(self, owner: User, key_id: uuid.UUID) -> None:
        key = (
            await self.session.execute(
                select(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.user_id == owner.id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if key is None or key.revoked_at is not None:
            raise ApiKeyNotFound()
        key.revoked_at = clock.now()
        await audit.record(
            self.session,
            action=API_KEY_REVOKED,
            resource_type="api_key",
            resource_id=key.id,
            actor_id=owner.id,
            tenant_id=key.tenant_id,
            old_values={"name": key.name, "prefix": key.prefix},
            client=self.client,
        )


# -- authentication ------------------------------------------------------------------------


async def authenticate_api_key(request: Request, raw: str) -> Principal:
    """The caller presenting key ``raw`` on ``request``: 401 for an unknown, revoked or
    expired key or a suspended user; 403 when the matched route is outside the key's scopes
    or tenant (404 for another tenant's id). Records the use (rarely a write)."""
    runtime: Runtime = request.app.state.runtime
    loaded = await principal_cache_of(runtime).load_api_key(hash_api_key(runtime.secret_key, raw))
    if loaded is None:
        raise Unauthorized("Invalid API key")
    cached, row = loaded
    now = clock.now()
    if row.revoked_at is not None:
        raise Unauthorized("This API key has been revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("This API key has expired")
    if not cached.is_active:
        raise Unauthorized("This account is suspended")
    grant = ApiKeyGrant(id=row.id, scopes=frozenset(row.scopes), tenant_id=row.tenant_id)
    await check_route(runtime, grant, request)
    ip = request.client.host if request.client else None
    if _use_worth_recording(row.last_used_at, row.recent_ips, ip, now):
        await _record_use(runtime, row.id, ip, request)
    claims = AccessClaims(
        user_id=cached.user_id,
        session_id=row.id,
        jti=f"api-key:{row.id}",
        issued_at=row.created_at,
        expires_at=row.expires_at or datetime.max.replace(tzinfo=now.tzinfo),
    )
    return Principal(session_id=row.id, claims=claims, cached=cached, api_key=grant)


async def check_route(runtime: Runtime, grant: ApiKeyGrant, request: Request) -> None:
    """The one place where a key's scopes and tenant meet the route it calls."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    method = request.method.upper()
    if method == "HEAD":
        method = "GET"
    needed = scope_table.ROUTE_SCOPES.get((method, path)) if path else None
    if needed is None or needed == scope_table.SESSION_ONLY:
        raise Forbidden("This endpoint cannot be called with an API key")
    if needed != scope_table.PUBLIC and needed not in grant.scopes:
        raise Forbidden(
            f"This API key lacks the scope {needed!r}", details={"required_scope": needed}
        )
    if grant.tenant_id is None:
        return
    params = request.path_params
    named = params.get(scope_table.TENANT_PARAMETER)
    if named is not None:
        if str(named).lower() != str(grant.tenant_id):
            raise ConfinedTenantNotFound()
        return
    if (method, path) in scope_table.TENANT_QUERY_ROUTES:
        queried = request.query_params.getlist(scope_table.TENANT_PARAMETER)
        if any(value.strip().lower() != str(grant.tenant_id) for value in queried):
            raise ConfinedTenantNotFound()
        return
    for parameter, kind in scope_table.RESOURCE_PARAMETERS.items():
        if parameter in params:
            if await resource_tenant.ask(runtime, kind, str(params[parameter])) != grant.tenant_id:
                raise ConfinedResourceNotFound(kind)
            return
    if (method, path) not in scope_table.TENANT_LESS_FOR_CONFINED_KEYS:
        raise Forbidden("This API key is confined to one tenant")


def _use_worth_recording(
    last_used_at: datetime | None, recent_ips: list[str], ip: str | None, now: datetime
) -> bool:
    if ip is not None and ip not in recent_ips:
        return True
    return last_used_at is None or now - last_used_at >= LAST_USED_EVERY


async def _record_use(
    runtime: Runtime, key_id: uuid.UUID, ip: str | None, request: Request
) -> None:
    """``last_used_at`` and the recent addresses, in a transaction of their own (the request
    may be a read that opens none); a new address is audited once, under the row's lock."""
    now = clock.now()
    async with runtime.db.transaction() as session:
        key = await session.get(ApiKey, key_id, with_for_update=True)
        if key is None or key.revoked_at is not None:
            return
        key.last_used_at = now
        key.last_used_ip = ip
        if ip is not None and ip not in key.recent_ips:
            key.recent_ips = [*key.recent_ips, ip][-RECENT_IPS_KEPT:]
            user_agent = request.headers.get("user-agent")
            await audit.record(
                session,
                action=API_KEY_USED_FROM_NEW_IP,
                resource_type="api_key",
                resource_id=key.id,
                actor_id=key.user_id,
                tenant_id=key.tenant_id,
                new_values={"ip": ip, "prefix": key.prefix},
                client=ClientInfo(ip=ip, user_agent=user_agent[:400] if user_agent else None),
            )


# -- rate limiting ---------------------------------------------------------------------------

_key_users: OrderedDict[str, uuid.UUID] = OrderedDict()


async def api_key_user(runtime: Runtime, raw: str) -> uuid.UUID | None:
    """The user a key belongs to (revoked or not), for the rate limiter: a key's calls count
    against its user's budget. Remembered per process: a key never changes user."""
    if not looks_like_api_key(raw):
        return None  # no query for whatever else a client sends
    key_hash = hash_api_key(runtime.secret_key, raw)
    found = _key_users.get(key_hash)
    if found is not None:
        return found
    loaded = await principal_cache_of(runtime).load_api_key(key_hash)
    if loaded is None:
        return None
    _key_users[key_hash] = loaded[0].user_id
    while len(_key_users) > MAX_REMEMBERED_KEY_USERS:
        _key_users.popitem(last=False)
    return loaded[0].user_id
