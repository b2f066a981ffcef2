"""Logging in to a tenant's Odoo through the platform (seed 004's client portal).

``POST /api/v1/auth/login`` with ``tenant`` authenticates against that tenant's Odoo, not
the platform's users; the portal package (above auth on the ladder) answers it through
these providers, connected in ``wiring.py``. Its tokens are told apart by their prefix, so
the refresh and logout routes hand them over too, and the platform's own bearer check never
takes one for a platform user's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.client import ClientInfo
from saas_server.core.hooks import Provider
from saas_server.core.runtime import Runtime

# Portal access tokens and refresh tokens start with these (the rest is a JWT / random).
PORTAL_ACCESS_PREFIX = "portal."
PORTAL_REFRESH_PREFIX = "prt_"

# (session, runtime, tenant subdomain, login, password, client) -> the login's answer.
tenant_login: Provider[[AsyncSession, Runtime, str, str, str, ClientInfo], dict[str, Any]] = (
    Provider("auth.tenant_login")
)
# (session, runtime, refresh token, client) -> a new pair, as the login answers it.
tenant_refresh: Provider[[AsyncSession, Runtime, str, ClientInfo], dict[str, Any]] = Provider(
    "auth.tenant_refresh"
)
# (session, runtime, access token or None, refresh token or None) -> the session ended.
tenant_logout: Provider[[AsyncSession, Runtime, str | None, str | None], None] = Provider(
    "auth.tenant_logout"
)


def is_portal_token(token: str | None) -> bool:
    return bool(token) and (
        token.startswith(PORTAL_ACCESS_PREFIX) or token.startswith(PORTAL_REFRESH_PREFIX)  # type: ignore[union-attr]
    )
