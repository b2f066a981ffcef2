from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request
from sse_starlette import EventSourceResponse

from saas_server.auth.dependencies import CurrentPrincipal
from saas_server.core.deps import RuntimeDep
from saas_server.core.ids import parse_id
from saas_server.core.routing import PrefixedRouter
from saas_server.realtime import service
from saas_server.realtime.hub import EventHub
from saas_server.tenants.base import TenantNotFound

router = PrefixedRouter(prefix="/api/v1/events", tags=["events"])

# What a client reads (documented in the OpenAPI document).
STREAM_EXAMPLE = (
    ": ready\n\n"
    "id: 1042\n"
    "event: tenant.created\n"
    'data: {"type": "tenant.created", "timestamp": "2026-01-15T09:30:00Z", '
    '"data": {"tenant_id": "3f2b8c1e-7d4a-4e9b-a6c5-1b2d3e4f5a6b", "name": "Acme Corp", '
    '"subdomain": "acme", "tier": "starter"}}\n\n'
)

# A comment line this often keeps proxies from closing an idle stream.
PING_SECONDS = 15


def hub_of(request: Request, runtime_database_url: str) -> EventHub:
    """The process's hub (app.py opens it in the lifespan; without one, made here)."""
    hub: EventHub | None = getattr(request.app.state, "event_hub", None)
    if hub is None:
        hub = request.app.state.event_hub = EventHub(runtime_database_url)
    return hub


@router.get(
    "/stream",
    summary="The caller's events as Server-Sent Events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `id` (resume with `Last-Event-ID`), `event` "
            "(the type), `data` (the webhook body); a `: ready` comment once the replay is "
            "sent, `: ping` comments to keep the connection open",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": STREAM_EXAMPLE,
                }
            },
        }
    },
)
async def stream_events(
    request: Request,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    tenant_id: Annotated[
        str | None,
        Query(
            description="Only this tenant's events (a key confined to one tenant: that "
            "tenant's, whether given or not)"
        ),
    ] = None,
    last_event_id: Annotated[
        int | None, Query(ge=0, description="Resume after this id (as the header)")
    ] = None,
    last_event_id_header: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
) -> EventSourceResponse:
    """Each message: `id` (resume with `Last-Event-ID`), `event` (the type) and `data`, the
    body the webhooks send: `{"type", "timestamp", "data"}`. The same visibility as
    webhooks; a reconnecting client is replayed its events of the last 24 hours (at most
    1,000) after the id it gives."""
    narrowed = None
    if tenant_id is not None:
        narrowed = parse_id(tenant_id, TenantNotFound)
    # A key confined to one tenant sees that tenant's events only (auth refused any other
    # ``tenant_id`` already): without one, the stream narrows to it (decision 0019).
    narrowed = narrowed or principal.confined_tenant_id
    if narrowed is not None:
        await service.require_tenant(runtime, principal.user.id, narrowed)
    resume = last_event_id_header if last_event_id_header is not None else last_event_id
    return EventSourceResponse(
        service.stream(
            runtime,
            hub_of(request, runtime.database_url),
            principal,
            tenant_id=narrowed,
            last_event_id=resume,
        ),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
