"""What a registration asking for a tenant gets from the tenants domain.

Auth declares the providers (``auth/registration.py``: ``SIGNUP_SUBDOMAIN``,
``SIGNUP_TENANT``); :func:`connect` answers them, called by ``saas_server.wiring``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.auth.registration import SIGNUP_SUBDOMAIN, SIGNUP_TENANT
from saas_server.auth.schemas import SignupTenant
from saas_server.core.client import ClientInfo
from saas_server.core.runtime import Runtime
from saas_server.tenants.rules import subdomain_of
from saas_server.tenants.service import TenantService, check_subdomain_available
from saas_server.users.models import User


async def signup_subdomain(session: AsyncSession, runtime: Runtime, asked: str) -> str:
    """The subdomain ``asked`` names (``acme`` of ``acme.<base domain>``), if it is free."""
    subdomain = subdomain_of(asked, runtime.settings.base_domain)
    await check_subdomain_available(
        session, subdomain, grace_days=runtime.settings.subdomain_grace_days
    )
    return subdomain


async def create_signup_tenant(
    session: AsyncSession,
    runtime: Runtime,
    owner: User,
    name: str,
    subdomain: str,
    client: ClientInfo | None,
) -> SignupTenant:
    tenant = await TenantService(session, runtime, client).create_tenant(
        owner, name=name, subdomain=subdomain
    )
    return SignupTenant(
        id=tenant.id, name=tenant.name, subdomain=tenant.subdomain, status=tenant.status
    )


def connect() -> None:
    SIGNUP_SUBDOMAIN.provide(signup_subdomain)
    SIGNUP_TENANT.provide(create_signup_tenant)
