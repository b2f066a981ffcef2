from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from saas_server.auth.dependencies import PlatformAdmin
from saas_server.core import clock
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.openapi import errors
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.integrations import health, intake, odoo
from saas_server.integrations.models import EventStatus, InboundEvent, IntegrationProvider
from saas_server.integrations.schemas import (
    Acknowledgement,
    AttemptRead,
    EventDetail,
    EventRead,
    IntegrationsHealth,
    ProviderCreate,
    ProviderRead,
    ProviderUpdate,
)
from saas_server.integrations.service import (
    EventLog,
    EventNotFound,
    ProviderNotFound,
    ProviderService,
    intake_path,
)

router = PrefixedRouter(prefix="/api/v1", tags=["integrations"])

PROVIDER_LIST = ListSpec(
    ordering_fields={
        "name": IntegrationProvider.name,
        "created_at": IntegrationProvider.created_at,
        "kind": IntegrationProvider.kind,
    },
    default_ordering="name",
    search_fields=(IntegrationProvider.name, IntegrationProvider.api_base_url),
    tiebreaker=IntegrationProvider.id,
)
EVENT_LIST = ListSpec(
    ordering_fields={
        "created_at": InboundEvent.created_at,
        "event_type": InboundEvent.event_type,
        "status": InboundEvent.status,
        "provider": InboundEvent.source,
    },
    search_fields=(InboundEvent.event_id, InboundEvent.event_type),
    tiebreaker=InboundEvent.id,
)


async def get_provider_service(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> ProviderService:
    return ProviderService(session, runtime, client)


async def get_event_log(session: SessionDep, runtime: RuntimeDep, client: ClientDep) -> EventLog:
    return EventLog(session, runtime, client)


ProviderServiceDep = Annotated[ProviderService, Depends(get_provider_service)]
EventLogDep = Annotated[EventLog, Depends(get_event_log)]


def provider_read(provider: IntegrationProvider) -> ProviderRead:
    return ProviderRead(
        id=provider.id,
        name=provider.name,
        kind=provider.kind,
        webhook_url=provider.webhook_url,
        api_base_url=provider.api_base_url,
        auth_type=provider.auth_type,
        allowed_ips=list(provider.allowed_ips),
        is_active=provider.is_active,
        rate_limit=provider.rate_limit,
        intake_path=intake_path(provider.name),
        health_status=provider.health_status,
        created_at=provider.created_at,
        updated_at=provider.updated_at,
    )


def event_read(event: InboundEvent) -> EventRead:
    return EventRead(
        id=event.id,
        provider=event.source,
        event_type=event.event_type,
        event_id=event.event_id,
        status=event.status,
        attempts=event.attempts,
        tenant_id=event.tenant_id,
        next_attempt_at=event.next_attempt_at,
        processed_at=event.processed_at,
        last_error=event.last_error,
        created_at=event.created_at,
    )


# -- providers (platform admins) ---------------------------------------------------------------


@router.post(
    "/integrations/providers",
    status_code=status.HTTP_201_CREATED,
    response_model=ProviderRead,
    responses=errors(401, 403, 409, 422),
)
async def create_provider(
    body: ProviderCreate, principal: PlatformAdmin, service: ProviderServiceDep
) -> ProviderRead:
    """An integration provider; its ``secret_key`` is stored encrypted and never shown."""
    return provider_read(await service.create(principal.user.id, body.model_dump()))


@router.get("/integrations/providers", response_model=Page[ProviderRead])
async def list_providers(
    _: PlatformAdmin,
    service: ProviderServiceDep,
    params: ListParamsDep,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    is_active: bool | None = None,
) -> Page[ProviderRead]:
    stmt = apply_filters(
        select(IntegrationProvider),
        {IntegrationProvider.kind: kind, IntegrationProvider.is_active: is_active},
    )
    return await paginate(service.session, stmt, params, PROVIDER_LIST, provider_read)


@router.get(
    "/integrations/providers/{provider_id}",
    response_model=ProviderRead,
    responses=errors(401, 403, 404),
)
async def get_provider(
    provider_id: str, _: PlatformAdmin, service: ProviderServiceDep
) -> ProviderRead:
    return provider_read(await service.get(parse_id(provider_id, ProviderNotFound)))


@router.patch(
    "/integrations/providers/{provider_id}",
    response_model=ProviderRead,
    responses=errors(401, 403, 404, 409, 422),
)
async def update_provider(
    provider_id: str, body: ProviderUpdate, principal: PlatformAdmin, service: ProviderServiceDep
) -> ProviderRead:
    provider = await service.get(parse_id(provider_id, ProviderNotFound))
    changes = body.model_dump(exclude_unset=True)
    return provider_read(await service.update(principal.user.id, provider, changes))


@router.delete(
    "/integrations/providers/{provider_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404),
)
async def delete_provider(
    provider_id: str, principal: PlatformAdmin, service: ProviderServiceDep
) -> Response:
    provider = await service.get(parse_id(provider_id, ProviderNotFound))
    await service.delete(principal.user.id, provider)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- intake (signed by the sender, no bearer token) ----------------------------------------------

# The bodies are read raw (the signature covers the exact bytes); their shape, for the spec.
PROVIDER_EVENT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["event_type", "event_id"],
                "properties": {
                    "event_type": {"type": "string", "example": "user.created"},
                    "event_id": {"type": "string", "example": "evt_123"},
                    "data": {"type": "object"},
                },
            }
        }
    },
}
ODOO_EVENT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["database", "model", "event"],
                "properties": {
                    "database": {"type": "string"},
                    "model": {"type": "string", "example": "res.partner"},
                    "event": {"type": "string", "example": "create"},
                    "event_id": {"type": "string"},
                    "record_id": {"type": "integer"},
                    "data": {"type": "object"},
                },
            }
        }
    },
}


# What Odoo's own webhook action sends with (it cannot sign): saas.webhook_action_url's query.
ODOO_ACTION_QUERY = [
    {
        "name": "db",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "The database of a post from Odoo's webhook action.",
    },
    {
        "name": "token",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "The token of saas.webhook_action_url, for posts without a signature.",
    },
    {
        "name": "event",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "example": "write"},
        "description": "The event of a post from Odoo's webhook action (default: changed).",
    },
]


def _acknowledge(result: intake.Intake) -> JSONResponse:
    if result.duplicate:
        body = Acknowledgement(status="duplicate", event_id=result.event_id)
        return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_200_OK)
    body = Acknowledgement(status="accepted", id=result.id, event_id=result.event_id)
    return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/integrations/webhooks/{provider}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Acknowledgement,
    responses={
        **errors(401, 404, 422, 429),
        200: {"model": Acknowledgement, "description": "A repeated event_id"},
    },
    openapi_extra={"requestBody": PROVIDER_EVENT_BODY},
)
async def receive_webhook(
    provider: str, request: Request, session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> JSONResponse:
    """A provider's webhook: signed with its secret (docs/integrations.md), stored once per
    ``event_id``, answered 202 at once and processed by a job."""
    body = await request.body()
    result = await intake.receive_provider_webhook(
        session, runtime, provider, body, request.headers, client.ip
    )
    return _acknowledge(result)


@router.post(
    "/odoo/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Acknowledgement,
    responses={
        **errors(401, 422),
        200: {"model": Acknowledgement, "description": "A repeated event"},
    },
    tags=["odoo"],
    openapi_extra={"requestBody": ODOO_EVENT_BODY, "parameters": ODOO_ACTION_QUERY},
)
async def receive_odoo_webhook(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    """A tenant's Odoo posting an event, signed with its instance's secret
    (``X-Odoo-Signature``, hex HMAC-SHA256 of the raw body), or sent by Odoo's own webhook
    action to the URL of ``saas.webhook_action_url`` (``db`` and ``token`` in the query)."""
    body = await request.body()
    return _acknowledge(
        await odoo.receive_odoo_webhook(
            session, runtime, body, request.headers, request.query_params
        )
    )


# -- the event log (platform admins) -----------------------------------------------------------


def _end_of(day: datetime) -> datetime:
    # A bare date means the whole day; a full timestamp is taken as is.
    if (day.hour, day.minute, day.second, day.microsecond) == (0, 0, 0, 0):
        return day + timedelta(days=1) - timedelta(microseconds=1)
    return day


@router.get("/integrations/events", response_model=Page[EventRead])
async def list_events(
    _: PlatformAdmin,
    log: EventLogDep,
    params: ListParamsDep,
    provider: Annotated[str | None, Query(max_length=63)] = None,
    event_type: Annotated[str | None, Query(max_length=200)] = None,
    status_: Annotated[EventStatus | None, Query(alias="status")] = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Page[EventRead]:
    stmt = apply_filters(
        select(InboundEvent),
        {
            InboundEvent.source: provider,
            InboundEvent.event_type: event_type,
            InboundEvent.status: status_,
        },
    )
    if date_from is not None:
        stmt = stmt.where(InboundEvent.created_at >= clock.as_utc(date_from))
    if date_to is not None:
        stmt = stmt.where(InboundEvent.created_at <= _end_of(clock.as_utc(date_to)))
    return await paginate(log.session, stmt, params, EVENT_LIST, event_read)


async def _detail(log: EventLog, event: InboundEvent) -> EventDetail:
    attempts = await log.attempts(event)
    return EventDetail(
        **event_read(event).model_dump(),
        payload=event.payload,
        result=event.result,
        attempt_log=[AttemptRead.model_validate(a) for a in attempts],
    )


@router.get(
    "/integrations/events/{event_id}", response_model=EventDetail, responses=errors(401, 403, 404)
)
async def get_event(event_id: str, _: PlatformAdmin, log: EventLogDep) -> EventDetail:
    """The event, its payload and every processing attempt with its error."""
    return await _detail(log, await log.get(parse_id(event_id, EventNotFound)))


@router.post(
    "/integrations/events/{event_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventDetail,
    responses=errors(401, 403, 404, 409),
)
async def retry_event(event_id: str, principal: PlatformAdmin, log: EventLogDep) -> EventDetail:
    """One more attempt now, for a failed, unhandled or waiting event (409 once processed)."""
    event = await log.get(parse_id(event_id, EventNotFound))
    return await _detail(log, await log.retry(principal.user.id, event))


# -- health ---------------------------------------------------------------------------------------


@router.get("/integrations/health", response_model=IntegrationsHealth)
async def integrations_health(_: PlatformAdmin, session: SessionDep) -> IntegrationsHealth:
    """Each active provider's last check and an overall status (seed 002's shape)."""
    return await health.health_report(session)
