from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from saas_server import __version__
from saas_server.auth.dependencies import get_optional_principal, oauth2_scheme
from saas_server.core import clock
from saas_server.core.deps import RuntimeDep
from saas_server.core.errors import Forbidden, Unauthorized
from saas_server.core.routing import PrefixedRouter
from saas_server.health.platform import prometheus_text
from saas_server.health.schemas import HealthDetailed
from saas_server.health.service import detailed_health

router = PrefixedRouter(tags=["health"])


async def monitoring_reader(
    request: Request, runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> None:
    """Paths, free disk, host names and queue sizes are for operators: a platform admin's
    access token or API key (scope ``admin:read``, auth/scopes.py), or the configured
    ``SAAS_MONITORING_TOKEN`` (for scrapers and probes)."""
    configured = runtime.settings.monitoring_token
    if (
        token
        and configured is not None
        and hmac.compare_digest(token.encode(), configured.get_secret_value().encode())
    ):
        return
    # A login token or a key, in either header: the key's scope is checked there.
    principal = await get_optional_principal(request)
    if principal is None:
        raise Unauthorized(
            "Authentication required: a platform admin's token or key, or the monitoring token"
        )
    if not principal.user.is_platform_admin:
        raise Forbidden("Platform administrators only")


MonitoringReader = Depends(monitoring_reader)


@router.get("/health")
async def health() -> dict[str, Any]:
    """Liveness: answers without touching the database. Public."""
    return {"status": "ok", "version": __version__, "timestamp": clock.isoformat(clock.now())}


@router.get(
    "/health/detailed",
    dependencies=[MonitoringReader],
    response_model=HealthDetailed,
    responses={503: {"model": HealthDetailed, "description": "A required part is down"}},
)
async def health_detailed(runtime: RuntimeDep) -> JSONResponse:
    """Each part's status; for platform admins or the monitoring token."""
    ok, body = await detailed_health(runtime)
    body["version"] = __version__
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False, dependencies=[MonitoringReader])
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """This process's HTTP figures, then the platform's from the database (job queue,
    tenants by status, provisioning and backup durations)."""
    async with runtime.db.engine.connect() as conn:
        platform = await prometheus_text(conn)
    return Response(
        request.app.state.metrics.render() + platform,
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )
