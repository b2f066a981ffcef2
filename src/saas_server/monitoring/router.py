"""``GET /api/v1/tenants/{id}/metrics``: a tenant's sampled resource usage, as a list of
metrics or as one metric's series; ``GET /api/v1/tenants/{id}/logs``: its log. The tenant's
owners and admins, and platform admins; anyone else gets the 404 of a tenant they cannot
see."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from saas_server.core.deps import RuntimeDep, SessionDep
from saas_server.core.pagination import ListParamsDep
from saas_server.core.routing import PrefixedRouter
from saas_server.monitoring import service
from saas_server.monitoring.logs import LogQuery, tenant_logs
from saas_server.tenants.dependencies import TenantAccessDep
from saas_server.tenants.service import TenantAccess, TenantNotFound

router = PrefixedRouter(prefix="/api/v1", tags=["monitoring"])


def require_operator(access: TenantAccess) -> None:
    """Owners and admins of the tenant, or platform admins. A plain member is told the
    tenant is not there, as anyone else would be (ids do not leak)."""
    if not access.can_manage:
        raise TenantNotFound()


@router.get("/tenants/{tenant_id}/metrics")
async def tenant_metrics(
    access: TenantAccessDep,
    session: SessionDep,
    metric: str | None = None,
    granularity: Literal["minute", "hour", "day"] = "hour",
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> dict[str, Any]:
    require_operator(access)
    tenant_id = access.tenant.id
    if metric is None:
        return {
            "tenant_id": str(tenant_id),
            "metrics": await service.metric_list(session, tenant_id),
        }
    body = await service.series(session, tenant_id, metric, granularity, date_from, date_to)
    return {"tenant_id": str(tenant_id), **body}


@router.get("/tenants/{tenant_id}/logs")
async def tenant_log(
    access: TenantAccessDep,
    session: SessionDep,
    runtime: RuntimeDep,
    params: ListParamsDep,
    level: Literal["info", "warning", "error"] | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> dict[str, Any]:
    """The platform's events for the tenant and its Odoo's login records, newest first
    (``search`` matches the event and the message)."""
    require_operator(access)
    query = LogQuery(level=level, date_from=date_from, date_to=date_to, search=params.search)
    return await tenant_logs(session, runtime, access.tenant.id, query, params)
