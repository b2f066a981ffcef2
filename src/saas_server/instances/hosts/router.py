from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Response, status
from sqlalchemy import select

from saas_server.auth.dependencies import PlatformAdmin
from saas_server.core.deps import RuntimeDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.instances import service as instances
from saas_server.instances.hosts import standby
from saas_server.instances.hosts.load import instance_counts
from saas_server.instances.hosts.models import HostStatus, OdooHost
from saas_server.instances.hosts.schemas import HostAction, HostCreate, HostRead, HostUpdate
from saas_server.instances.hosts.service import HostNotFound, HostService

router = PrefixedRouter(prefix="/api/v1/admin/odoo-hosts", tags=["admin: odoo hosts"])


async def get_host_service(session: SessionDep, runtime: RuntimeDep) -> HostService:
    return HostService(session, runtime)


HostServiceDep = Annotated[HostService, Depends(get_host_service)]


async def host_read(
    service: HostService, host: OdooHost, count: int | None = None, standbys: int | None = None
) -> HostRead:
    return HostRead.model_validate(
        {
            **{f: getattr(host, f) for f in HostRead.model_fields if hasattr(host, f)},
            "instance_count": (
                count if count is not None else await service.instance_count(host.id)
            ),
            "standby_count": (
                standbys
                if standbys is not None
                else await standby.ready_count(service.session, host.id)
            ),
            "has_postgres_url": host.postgres_url_encrypted is not None,
        }
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=HostRead)
async def add_host(body: HostCreate, _: PlatformAdmin, service: HostServiceDep) -> HostRead:
    host = await service.add(**body.model_dump())
    await instances.resume_waiting(service.session, service.runtime, host.odoo_version)
    return await host_read(service, host, 0, 0)


HOST_LIST = ListSpec(
    ordering_fields={
        "name": OdooHost.name,
        "created_at": OdooHost.created_at,
        "odoo_version": OdooHost.odoo_version,
        "status": OdooHost.status,
        "capacity": OdooHost.capacity,
    },
    default_ordering="name",
    search_fields=(OdooHost.name, OdooHost.url),
    tiebreaker=OdooHost.id,
)


@router.get("", response_model=Page[HostRead])
async def list_hosts(
    _: PlatformAdmin,
    service: HostServiceDep,
    params: ListParamsDep,
    status: Annotated[HostStatus | None, Query()] = None,
    odoo_version: Annotated[str | None, Query(max_length=20)] = None,
) -> Page[HostRead]:
    """The hosts, as every list of the API is (conventions.md): paged, searchable, sortable."""
    stmt = apply_filters(
        select(OdooHost), {OdooHost.status: status, OdooHost.odoo_version: odoo_version}
    )
    page = await paginate(service.session, stmt, params, HOST_LIST, lambda host: host)
    counts = await instance_counts(service.session)
    standbys = await standby.ready_counts(service.session)
    return Page[HostRead](
        count=page.count,
        next=page.next,
        previous=page.previous,
        results=[
            await host_read(service, host, counts.get(host.id, 0), standbys.get(host.id, 0))
            for host in page.results
        ],
    )


@router.get("/{host_id}", response_model=HostRead)
async def get_host(host_id: str, _: PlatformAdmin, service: HostServiceDep) -> HostRead:
    return await host_read(service, await service.get(parse_id(host_id, HostNotFound)))


@router.patch("/{host_id}", response_model=HostRead)
async def update_host(
    host_id: str, body: HostUpdate, _: PlatformAdmin, service: HostServiceDep
) -> HostRead:
    host = await service.get(parse_id(host_id, HostNotFound))
    return await host_read(service, await service.update(host, body.model_dump(exclude_unset=True)))


@router.delete("/{host_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_host(host_id: str, _: PlatformAdmin, service: HostServiceDep) -> Response:
    await service.remove(await service.get(parse_id(host_id, HostNotFound)))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{host_id}/actions", response_model=HostRead)
async def host_action(
    host_id: str, body: HostAction, _: PlatformAdmin, service: HostServiceDep
) -> HostRead:
    host = await service.get(parse_id(host_id, HostNotFound))
    if body.action == "drain":
        await service.drain(host)
    elif body.action == "activate":
        await service.activate(host)
        await instances.resume_waiting(service.session, service.runtime, host.odoo_version)
    else:
        await service.check(host)
        await instances.resume_waiting(service.session, service.runtime, host.odoo_version)
    return await host_read(service, host)
