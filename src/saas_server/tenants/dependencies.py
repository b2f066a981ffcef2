from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from saas_server.auth.dependencies import CurrentPrincipal
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.tenants.service import TenantAccess, TenantNotFound, TenantService
from saas_server.users import service as users


async def get_tenant_service(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> TenantService:
    return TenantService(session, runtime, client)


TenantServiceDep = Annotated[TenantService, Depends(get_tenant_service)]


async def get_tenant_access(
    tenant_id: Annotated[str, Path(description="The tenant's id (UUID).")],
    principal: CurrentPrincipal,
    service: TenantServiceDep,
) -> TenantAccess:
    # The caller's row is loaded in this request's session: tenant rules may change it.
    actor = await users.get_user(service.session, principal.user.id)
    return await service.access(actor, parse_id(tenant_id, TenantNotFound))


TenantAccessDep = Annotated[TenantAccess, Depends(get_tenant_access)]


async def get_followable_tenant_access(
    tenant_id: Annotated[str, Path(description="The tenant's id (UUID).")],
    principal: CurrentPrincipal,
    service: TenantServiceDep,
) -> TenantAccess:
    """As ``get_tenant_access``, and a tenant being deleted or deleted stays reachable to its
    owners until its grace period ends: to follow the deletion and recover its backup."""
    actor = await users.get_user(service.session, principal.user.id)
    return await service.access(actor, parse_id(tenant_id, TenantNotFound), include_deleted=True)


FollowableTenantAccessDep = Annotated[TenantAccess, Depends(get_followable_tenant_access)]
