"""Who calls a portal route, what they may see, and seed 004's HTTP rules (rate limits,
caching headers, conditional GETs).

A portal token (a client of a tenant, logged in with their Odoo credentials) sees that
tenant and only its own commercial entity's records; an Odoo employee's token, or a platform
user who is a member of the tenant (choosing it with ``?tenant_id=``), sees every client's.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from saas_server.auth.dependencies import get_principal, oauth2_scheme
from saas_server.auth.tenant_login import is_portal_token
from saas_server.core.deps import RuntimeDep, SessionDep
from saas_server.core.errors import NotFound, ValidationFailed
from saas_server.core.runtime import Runtime
from saas_server.portal.identity import decode_access, live_session, portal_tenant
from saas_server.portal.models import PortalStatus, PortalTenant
from saas_server.tenants.service import tenant_visible_to
from saas_server.users import service as users

PUBLIC_MAX_AGE = 3600


class PortalTenantNotFound(NotFound):
    code = "TENANT_NOT_FOUND"
    message = "Tenant not found"


@dataclass(frozen=True)
class PortalCaller:
    tenant_id: uuid.UUID
    # The client whose records the caller sees; None: every client (the agency's people).
    commercial_id: int | None
    partner_id: int | None
    # Whose settings these are ("partner:<id>" or "user:<uuid>").
    subject: str

    @property
    def is_client(self) -> bool:
        return self.commercial_id is not None


# The portal's routes (router.py): seed 004 limits them to 100 calls a minute per user and 20
# per anonymous address, counted by the API's rate-limit middleware (``route_budget``) instead
# of the plan's or the general anonymous budget, so the X-RateLimit-* headers describe these.
# A portal token has its own budget already (identity.rate_budget).
PORTAL_PATHS = (
    "/api/v1/projects",
    "/api/v1/portal/",
    "/api/v1/blog/",
    "/api/v1/files/",
    "/api/v1/notifications",
    "/api/v1/settings",
    "/api/v1/odoo/sync",
)


def _portal_path(path: str) -> bool:
    return any(
        path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")
        for prefix in PORTAL_PATHS
    )


def route_budget(
    runtime: Runtime, path: str, user_id: uuid.UUID | None, ip: str
) -> tuple[str, str] | None:
    """The budget of a call to a portal route (the rate-limit middleware asks, through the
    runtime's parts): the user's portal budget, or the anonymous address's."""
    if not _portal_path(path):
        return None
    if user_id is not None:
        return f"portal:{user_id}", runtime.settings.portal_rate_limit_user
    return f"portal-anon:{ip}", runtime.settings.portal_rate_limit_anonymous


async def get_caller(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    # Declares the bearer scheme in the OpenAPI document (a portal token or a user's).
    token: Annotated[str | None, Depends(oauth2_scheme)],
    tenant_id: Annotated[
        str | None,
        Query(description="The tenant (UUID); required for its members, implied for clients."),
    ] = None,
) -> PortalCaller:
    if token and is_portal_token(token):
        claims = decode_access(runtime, token)
        await live_session(session, claims)
        if tenant_id is not None and tenant_id != str(claims.tenant_id):
            raise PortalTenantNotFound()
        portal = await session.get(PortalTenant, claims.tenant_id)
        if portal is None or portal.status != PortalStatus.ENABLED.value:
            raise PortalTenantNotFound()
        # Counted by the API's rate-limit middleware (identity.rate_budget).
        return PortalCaller(
            tenant_id=claims.tenant_id,
            commercial_id=None if claims.is_internal else claims.commercial_id,
            partner_id=claims.partner_id,
            subject=f"partner:{claims.partner_id}",
        )
    principal = await get_principal(request)
    assert principal is not None
    if tenant_id is None:
        raise ValidationFailed.for_field("tenant_id", "The tenant whose portal to read.")
    try:
        wanted = uuid.UUID(tenant_id)
    except ValueError:
        raise PortalTenantNotFound() from None
    user = await users.get_user(session, principal.user.id)
    if not await tenant_visible_to(session, user, wanted):
        raise PortalTenantNotFound()
    portal = await session.get(PortalTenant, wanted)
    if portal is None or portal.status != PortalStatus.ENABLED.value:
        raise PortalTenantNotFound()
    return PortalCaller(
        tenant_id=wanted, commercial_id=None, partner_id=None, subject=f"user:{principal.user.id}"
    )


PortalCallerDep = Annotated[PortalCaller, Depends(get_caller)]


async def public_tenant_id(
    request: Request,
    session: SessionDep,
    tenant: Annotated[
        str | None, Query(max_length=63, description="The tenant's subdomain (else the Host's).")
    ] = None,
) -> uuid.UUID:
    """The tenant of a public (no login) route: ``?tenant=`` or the first label of the
    request's host (``acme.portal.example`` -> ``acme``). 20 calls a minute per address
    (:func:`route_budget`)."""
    subdomain = tenant or (request.url.hostname or "").split(".")[0]
    found = await portal_tenant(session, subdomain)
    return found.id


PublicTenantDep = Annotated[uuid.UUID, Depends(public_tenant_id)]


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def conditional(
    request: Request,
    body: Any,
    *,
    last_modified: datetime | None = None,
    public: bool = False,
    etag_of: Any = None,
) -> Response:
    """A JSON answer with ``ETag`` (the body's hash, or ``etag_of``'s when the body carries
    something that changes on every call, such as when it was made) and ``Last-Modified``,
    or ``304`` when the client's copy is current (``If-None-Match`` first, else
    ``If-Modified-Since``)."""
    content = _encode(body)
    tagged = content if etag_of is None else _encode(etag_of)
    etag = '"' + hashlib.sha256(tagged).hexdigest()[:40] + '"'
    headers = caching_headers(etag, last_modified, public=public)
    if not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


def caching_headers(
    etag: str, last_modified: datetime | None, *, public: bool = False
) -> dict[str, str]:
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={PUBLIC_MAX_AGE}" if public else "private, no-cache",
    }
    if not public:
        headers["Vary"] = "Authorization"
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(_whole_second(last_modified), usegmt=True)
    return headers


def _whole_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """Whether the client's copy (``If-None-Match`` first, else ``If-Modified-Since``) is
    current."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag in tags or "*" in tags
    if last_modified is not None and (since := request.headers.get("if-modified-since")):
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return moment.tzinfo is not None and _whole_second(last_modified) <= moment
    return False
