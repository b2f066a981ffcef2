"""The /users API: accounts as platform admins, tenant managers and their owners see them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Response, status

from saas_server.auth.dependencies import CurrentPrincipal
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.directory.service import UserDirectory
from saas_server.tenants.models import Membership, Tenant
from saas_server.users import service as users
from saas_server.users.models import PlatformRole, User
from saas_server.users.schemas import UserCreate, UserRead, UserTenantRead, UserUpdate

router = PrefixedRouter(prefix="/api/v1/users", tags=["users"])

USER_LIST = ListSpec(
    ordering_fields={
        "created_at": User.created_at,
        "updated_at": User.updated_at,
        "email": User.email,
        "name": User.full_name,
        "full_name": User.full_name,
        "last_login": User.last_login_at,
    },
    search_fields=(User.email, User.full_name, User.first_name, User.last_name),
    tiebreaker=User.id,
)
TENANT_LIST = ListSpec(
    ordering_fields={"created_at": Tenant.created_at, "name": Tenant.name},
    search_fields=(Tenant.name, Tenant.subdomain),
    tiebreaker=Tenant.id,
)


async def get_directory(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> UserDirectory:
    return UserDirectory(session, runtime, client)


DirectoryDep = Annotated[UserDirectory, Depends(get_directory)]
UserIdPath = Annotated[str, Path(description="The user's id (UUID).")]


async def _actor(directory: UserDirectory, principal: CurrentPrincipal) -> User:
    return await users.get_user(directory.session, principal.user.id)


async def _target(directory: UserDirectory, actor: User, user_id: str) -> User:
    return await directory.get_visible(actor, parse_id(user_id, users.UserNotFound))


@router.get("", response_model=Page[UserRead])
async def list_users(
    principal: CurrentPrincipal,
    directory: DirectoryDep,
    params: ListParamsDep,
    is_active: bool | None = None,
    role: PlatformRole | None = None,
    tenant_id: uuid.UUID | None = None,
) -> Page[UserRead]:
    actor = await _actor(directory, principal)
    if tenant_id is not None:
        await directory.check_tenant_filter(actor, tenant_id)
    stmt = apply_filters(
        directory.visible_users(actor, tenant_id),
        {User.is_active: is_active, User.role: role.value if role else None},
    )
    return await paginate(directory.session, stmt, params, USER_LIST, UserRead.model_validate)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserRead)
async def create_user(
    body: UserCreate, principal: CurrentPrincipal, directory: DirectoryDep
) -> UserRead:
    user = await directory.create(await _actor(directory, principal), body)
    return UserRead.model_validate(user)


@router.get("/{user_id}", response_model=UserRead)
async def get_user(
    user_id: UserIdPath, principal: CurrentPrincipal, directory: DirectoryDep
) -> UserRead:
    actor = await _actor(directory, principal)
    return UserRead.model_validate(await _target(directory, actor, user_id))


@router.put("/{user_id}", response_model=UserRead)
@router.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: UserIdPath, body: UserUpdate, principal: CurrentPrincipal, directory: DirectoryDep
) -> UserRead:
    actor = await _actor(directory, principal)
    user = await directory.update(actor, await _target(directory, actor, user_id), body)
    return UserRead.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: UserIdPath, principal: CurrentPrincipal, directory: DirectoryDep
) -> Response:
    actor = await _actor(directory, principal)
    await directory.delete(actor, await _target(directory, actor, user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _user_tenants(
    directory: UserDirectory,
    principal: CurrentPrincipal,
    user_id: str,
    params: ListParamsDep,
    owned_only: bool,
) -> Page[UserTenantRead]:
    actor = await _actor(directory, principal)
    target = await _target(directory, actor, user_id)
    if not (actor.is_platform_admin or actor.id == target.id):
        raise users.UserNotFound()
    # (tenant, role) rows, so each tenant carries the user's role in it.
    rows = (
        directory.tenants.tenants_of_user(target.id, owned_only=owned_only)
        .add_columns(Membership.role)
        .join(
            Membership,
            (Membership.tenant_id == Tenant.id) & (Membership.user_id == target.id),
        )
    )
    base_domain = directory.runtime.settings.base_domain

    def to_item(row: tuple[Tenant, str]) -> UserTenantRead:
        tenant, role = row
        return UserTenantRead(
            id=tenant.id,
            name=tenant.name,
            subdomain=tenant.subdomain,
            domain=f"{tenant.subdomain}.{base_domain}" if base_domain else tenant.subdomain,
            tier=tenant.tier,
            status=tenant.status,
            is_active=tenant.is_active,
            role=role,
            owner_id=tenant.owner_id,
            created_at=tenant.created_at,
        )

    return await paginate(directory.session, rows, params, TENANT_LIST, to_item, rows=True)


@router.get("/{user_id}/tenants", response_model=Page[UserTenantRead])
async def user_tenants(
    user_id: UserIdPath, principal: CurrentPrincipal, directory: DirectoryDep, params: ListParamsDep
) -> Page[UserTenantRead]:
    return await _user_tenants(directory, principal, user_id, params, owned_only=False)


@router.get("/{user_id}/owned-tenants", response_model=Page[UserTenantRead])
async def user_owned_tenants(
    user_id: UserIdPath, principal: CurrentPrincipal, directory: DirectoryDep, params: ListParamsDep
) -> Page[UserTenantRead]:
    return await _user_tenants(directory, principal, user_id, params, owned_only=True)
