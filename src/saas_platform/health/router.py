from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from saas_platform import __version__
from saas_platform.core import clock
from saas_platform.core.deps import RuntimeDep
from saas_platform.core.routing import PrefixedRouter
from saas_platform.health.service import detailed_health

router = PrefixedRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, Any]:
    """Liveness: answers without touching the database."""
    return {"status": "ok", "version": __version__, "timestamp": clock.isoformat(clock.now())}


@router.get("/health/detailed")
async def health_detailed(runtime: RuntimeDep) -> JSONResponse:
    ok, body = await detailed_health(runtime)
    body["version"] = __version__
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(
        request.app.state.metrics.render(),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )
