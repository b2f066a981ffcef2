from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Response, status

from saas_server.auth.dependencies import CurrentPrincipal
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.tenants.service import TenantNotFound
from saas_server.users import service as users
from saas_server.users.models import User
from saas_server.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from saas_server.webhooks.schemas import (
    AttemptRead,
    DeliveryRead,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
    ReplayRequest,
    ReplayResult,
    RotatedSecret,
)
from saas_server.webhooks.service import DeliveryNotFound, EndpointNotFound, WebhookService

router = PrefixedRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

ENDPOINT_LIST = ListSpec(
    ordering_fields={
        "created_at": WebhookEndpoint.created_at,
        "url": WebhookEndpoint.url,
        "status": WebhookEndpoint.status,
    },
    search_fields=(WebhookEndpoint.url, WebhookEndpoint.description),
    tiebreaker=WebhookEndpoint.id,
)
DELIVERY_LIST = ListSpec(
    ordering_fields={
        "created_at": WebhookDelivery.created_at,
        "status": WebhookDelivery.status,
        "event_type": WebhookDelivery.event_type,
    },
    search_fields=(WebhookDelivery.event_type,),
    tiebreaker=WebhookDelivery.id,
)


async def get_service(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> WebhookService:
    return WebhookService(session, runtime, client)


ServiceDep = Annotated[WebhookService, Depends(get_service)]


async def _actor(service: WebhookService, principal: CurrentPrincipal) -> User:
    return await users.get_user(service.session, principal.user.id)


def endpoint_read(endpoint: WebhookEndpoint) -> EndpointRead:
    return EndpointRead(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        events=endpoint.event_types,
        tenant_id=endpoint.tenant_id,
        owner_id=endpoint.owner_id,
        status=endpoint.status,
        disabled_reason=endpoint.disabled_reason,
        failing_since=endpoint.failing_since,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


@router.post("/endpoints", status_code=status.HTTP_201_CREATED, response_model=EndpointWithSecret)
async def create_endpoint(
    body: EndpointCreate, principal: CurrentPrincipal, service: ServiceDep
) -> EndpointWithSecret:
    endpoint, secret = await service.create(await _actor(service, principal), body)
    return EndpointWithSecret(**endpoint_read(endpoint).model_dump(), secret=secret)


@router.get("/endpoints", response_model=Page[EndpointRead])
async def list_endpoints(
    principal: CurrentPrincipal,
    service: ServiceDep,
    params: ListParamsDep,
    tenant_id: str | None = None,
    status_: Annotated[EndpointStatus | None, Query(alias="status")] = None,
) -> Page[EndpointRead]:
    stmt = await service.visible_endpoints(await _actor(service, principal))
    if tenant_id is not None:
        stmt = stmt.where(WebhookEndpoint.tenant_id == parse_id(tenant_id, TenantNotFound))
    if status_ is not None:  # e.g. the endpoints a 410 or days of failures disabled
        stmt = stmt.where(WebhookEndpoint.status == status_.value)
    return await paginate(service.session, stmt, params, ENDPOINT_LIST, endpoint_read)


@router.get("/endpoints/{endpoint_id}", response_model=EndpointRead)
async def get_endpoint(
    endpoint_id: str, principal: CurrentPrincipal, service: ServiceDep
) -> EndpointRead:
    actor = await _actor(service, principal)
    return endpoint_read(await service.get(actor, parse_id(endpoint_id, EndpointNotFound)))


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointRead)
async def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, principal: CurrentPrincipal, service: ServiceDep
) -> EndpointRead:
    actor = await _actor(service, principal)
    endpoint = await service.get(actor, parse_id(endpoint_id, EndpointNotFound), lock=True)
    return endpoint_read(await service.update(actor, endpoint, body))


@router.delete("/endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(
    endpoint_id: str, principal: CurrentPrincipal, service: ServiceDep
) -> Response:
    actor = await _actor(service, principal)
    endpoint = await service.get(actor, parse_id(endpoint_id, EndpointNotFound), lock=True)
    await service.delete(actor, endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/endpoints/{endpoint_id}/rotate-secret", response_model=RotatedSecret)
async def rotate_secret(
    endpoint_id: str, principal: CurrentPrincipal, service: ServiceDep
) -> RotatedSecret:
    actor = await _actor(service, principal)
    endpoint = await service.get(actor, parse_id(endpoint_id, EndpointNotFound), lock=True)
    secret, expires = await service.rotate_secret(actor, endpoint)
    return RotatedSecret(secret=secret, previous_secret_expires_at=expires)


@router.post(
    "/endpoints/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryRead,
)
async def test_endpoint(
    endpoint_id: str, principal: CurrentPrincipal, service: ServiceDep
) -> DeliveryRead:
    actor = await _actor(service, principal)
    endpoint = await service.get(actor, parse_id(endpoint_id, EndpointNotFound))
    return DeliveryRead.model_validate(await service.send_test(actor, endpoint))


@router.post(
    "/endpoints/{endpoint_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReplayResult,
)
async def replay(
    endpoint_id: str, body: ReplayRequest, principal: CurrentPrincipal, service: ServiceDep
) -> ReplayResult:
    actor = await _actor(service, principal)
    endpoint = await service.get(actor, parse_id(endpoint_id, EndpointNotFound))
    return ReplayResult(queued=await service.replay(actor, endpoint, body.since, body.until))


@router.get("/endpoints/{endpoint_id}/deliveries", response_model=Page[DeliveryRead])
async def list_deliveries(
    endpoint_id: str,
    principal: CurrentPrincipal,
    service: ServiceDep,
    params: ListParamsDep,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    event_type: str | None = None,
) -> Page[DeliveryRead]:
    actor = await _actor(service, principal)
    endpoint = await service.get(actor, parse_id(endpoint_id, EndpointNotFound))
    stmt = apply_filters(
        service.deliveries_of(endpoint),
        {
            WebhookDelivery.status: status_.value if status_ else None,
            WebhookDelivery.event_type: event_type,
        },
    )
    page = await paginate(service.session, stmt, params, DELIVERY_LIST, DeliveryRead.model_validate)
    attempts = await service.attempts_of([d.id for d in page.results])
    for delivery in page.results:
        delivery.attempts = [AttemptRead.model_validate(a) for a in attempts[delivery.id]]
    return page


@router.post(
    "/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryRead,
)
async def retry_delivery(
    delivery_id: str, principal: CurrentPrincipal, service: ServiceDep
) -> DeliveryRead:
    actor = await _actor(service, principal)
    delivery = await service.get_delivery(actor, parse_id(delivery_id, DeliveryNotFound))
    return DeliveryRead.model_validate(await service.retry(actor, delivery))
