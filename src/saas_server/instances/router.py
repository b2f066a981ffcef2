from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from saas_server.auth.dependencies import CurrentPrincipal
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.errors import Forbidden
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.instances.lifecycle import Action
from saas_server.instances.models import Instance, InstanceStatus, InstanceTransition
from saas_server.instances.schemas import InstanceAction, InstanceRead, TransitionRead
from saas_server.instances.service import InstanceNotFound, InstanceService
from saas_server.tenants.dependencies import TenantAccessDep
from saas_server.tenants.models import Tenant
from saas_server.tenants.rules import member_tenants, owned_tenant_ids, owns
from saas_server.tenants.service import TenantNotFound, TenantService
from saas_server.users import service as users

router = PrefixedRouter(prefix="/api/v1", tags=["instances"])

INSTANCE_LIST = ListSpec(
    ordering_fields={
        "created_at": Instance.created_at,
        "updated_at": Instance.updated_at,
        "status": Instance.status,
        "database": Instance.database_name,
    },
    search_fields=(Instance.database_name,),
    tiebreaker=Instance.id,
)


async def get_instance_service(session: SessionDep, runtime: RuntimeDep) -> InstanceService:
    return InstanceService(session, runtime)


InstanceServiceDep = Annotated[InstanceService, Depends(get_instance_service)]


async def instance_read(
    service: InstanceService, instance: Instance, *, owner: bool
) -> InstanceRead:
    tenant = await service.session.get(Tenant, instance.tenant_id)
    assert tenant is not None
    host = await service.host_of(instance)
    return InstanceRead.model_validate(
        service.summary(instance, host, tenant.subdomain, with_password=owner)
    )


async def _visible_instance(
    service: InstanceService, principal: CurrentPrincipal, instance_id: str, client: ClientDep
) -> tuple[Instance, bool, bool]:
    """The instance if the caller may see it: (instance, is_owner, can_manage)."""
    instance = await service.session.get(Instance, parse_id(instance_id, InstanceNotFound))
    if instance is None:
        raise InstanceNotFound()
    actor = await users.get_user(service.session, principal.user.id)
    try:
        access = await TenantService(service.session, service.runtime, client).access(
            actor, instance.tenant_id
        )
    except TenantNotFound:
        raise InstanceNotFound() from None
    return instance, owns(access.role), access.can_manage


@router.get("/instances", response_model=Page[InstanceRead])
async def list_instances(
    principal: CurrentPrincipal,
    service: InstanceServiceDep,
    params: ListParamsDep,
    status_: Annotated[InstanceStatus | None, Query(alias="status")] = None,
    tenant_id: uuid.UUID | None = None,
) -> Page[InstanceRead]:
    stmt = select(Instance)
    if not principal.user.is_platform_admin:
        stmt = stmt.where(Instance.tenant_id.in_(member_tenants(principal.user.id)))
    if principal.confined_tenant_id is not None:  # an API key confined to one tenant
        stmt = stmt.where(Instance.tenant_id == principal.confined_tenant_id)
    stmt = apply_filters(
        stmt, {Instance.tenant_id: tenant_id, Instance.status: status_.value if status_ else None}
    )
    owned = await owned_tenant_ids(service.session, principal.user.id)
    page = await paginate(service.session, stmt, params, INSTANCE_LIST, lambda i: i)
    return Page[InstanceRead](
        count=page.count,
        next=page.next,
        previous=page.previous,
        results=[await instance_read(service, i, owner=i.tenant_id in owned) for i in page.results],
    )


@router.get("/instances/{instance_id}", response_model=InstanceRead)
async def get_instance(
    instance_id: str, principal: CurrentPrincipal, service: InstanceServiceDep, client: ClientDep
) -> InstanceRead:
    instance, owner, _ = await _visible_instance(service, principal, instance_id, client)
    return await instance_read(service, instance, owner=owner)


@router.get("/instances/{instance_id}/transitions", response_model=list[TransitionRead])
async def instance_transitions(
    instance_id: str, principal: CurrentPrincipal, service: InstanceServiceDep, client: ClientDep
) -> list[TransitionRead]:
    instance, _, _ = await _visible_instance(service, principal, instance_id, client)
    rows = await service.session.execute(
        select(InstanceTransition)
        .where(InstanceTransition.instance_id == instance.id)
        .order_by(InstanceTransition.at, InstanceTransition.id)
    )
    return [TransitionRead.model_validate(t) for t in rows.scalars()]


@router.post("/instances/{instance_id}/actions", response_model=InstanceRead)
async def instance_action(
    instance_id: str,
    body: InstanceAction,
    principal: CurrentPrincipal,
    service: InstanceServiceDep,
    client: ClientDep,
) -> JSONResponse:
    instance, owner, can_manage = await _visible_instance(service, principal, instance_id, client)
    if not can_manage:
        raise Forbidden("Only the tenant's owners and admins may do this")
    await service.act(instance, Action(body.action), principal.user.id)
    body_out = (await instance_read(service, instance, owner=owner)).model_dump(mode="json")
    code = status.HTTP_202_ACCEPTED if body.action == "retry" else status.HTTP_200_OK
    return JSONResponse(body_out, status_code=code)


@router.get("/tenants/{tenant_id}/instances", response_model=Page[InstanceRead])
async def tenant_instances(
    access: TenantAccessDep, service: InstanceServiceDep, params: ListParamsDep
) -> Page[InstanceRead]:
    stmt = select(Instance).where(Instance.tenant_id == access.tenant.id)
    page = await paginate(service.session, stmt, params, INSTANCE_LIST, lambda i: i)
    owner = owns(access.role)
    return Page[InstanceRead](
        count=page.count,
        next=page.next,
        previous=page.previous,
        results=[await instance_read(service, i, owner=owner) for i in page.results],
    )
