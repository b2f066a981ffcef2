"""``/api/v1/api-keys``: a user's personal API keys, managed from a login session only."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, status

from saas_server.auth.api_key_schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from saas_server.auth.api_keys import ApiKeyNotFound, ApiKeys
from saas_server.auth.dependencies import CurrentPrincipal
from saas_server.auth.models import ApiKey
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.openapi import errors
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.users import service as users

router = PrefixedRouter(prefix="/api/v1/api-keys", tags=["api keys"])

API_KEY_LIST = ListSpec(
    ordering_fields={
        "created_at": ApiKey.created_at,
        "last_used_at": ApiKey.last_used_at,
        "expires_at": ApiKey.expires_at,
        "name": ApiKey.name,
    },
    search_fields=(ApiKey.name, ApiKey.prefix),
    tiebreaker=ApiKey.id,
)


async def get_api_keys(session: SessionDep, runtime: RuntimeDep, client: ClientDep) -> ApiKeys:
    return ApiKeys(session, runtime, client)


ApiKeysDep = Annotated[ApiKeys, Depends(get_api_keys)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=errors(401, 403, 404, 422),
)
async def create_api_key(
    body: ApiKeyCreate, principal: CurrentPrincipal, service: ApiKeysDep
) -> ApiKeyCreated:
    owner = await users.get_user(service.session, principal.user.id)
    created = await service.create(
        owner,
        name=body.name,
        scopes=body.scopes,
        tenant_id=body.tenant_id,
        expires_at=body.expires_at,
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(created.key).model_dump(), key=created.secret)


@router.get("", response_model=Page[ApiKeyRead], responses=errors(401, 403))
async def list_api_keys(
    principal: CurrentPrincipal, service: ApiKeysDep, params: ListParamsDep
) -> Page[ApiKeyRead]:
    return await paginate(
        service.session,
        service.listed(principal.user.id),
        params,
        API_KEY_LIST,
        ApiKeyRead.model_validate,
    )


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404))
async def revoke_api_key(key_id: str, principal: CurrentPrincipal, service: ApiKeysDep) -> None:
    owner = await users.get_user(service.session, principal.user.id)
    await service.revoke(owner, parse_id(key_id, ApiKeyNotFound))
