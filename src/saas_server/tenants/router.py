from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Query, Request, Response, status
from fastapi.responses import JSONResponse

from saas_server.auth.dependencies import CurrentPrincipal
from saas_server.core.idempotency import IDEMPOTENCY_KEY, idempotent_response
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.tenants.dependencies import (
    FollowableTenantAccessDep,
    TenantAccessDep,
    TenantServiceDep,
)
from saas_server.tenants.hooks import (
    tenant_backups,
    tenant_instances,
    tenant_metrics,
    tenant_subscription_counts,
)
from saas_server.tenants.models import (
    GONE_STATUSES,
    Invitation,
    Membership,
    Tenant,
    TenantRole,
    TenantStatus,
    TenantTier,
)
from saas_server.tenants.rules import owns
from saas_server.tenants.schemas import (
    InvitationAccept,
    InvitationAccepted,
    InvitationRead,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    OwnershipTransfer,
    TenantCreate,
    TenantRead,
    TenantUpdate,
)
from saas_server.tenants.service import (
    MemberNotFound,
    TenantAccess,
    TenantService,
    grace_ends_at,
)
from saas_server.tenants.tiers import grant_for
from saas_server.users import service as users
from saas_server.users.models import User

router = PrefixedRouter(prefix="/api/v1", tags=["tenants"])

TENANT_LIST = ListSpec(
    ordering_fields={
        "created_at": Tenant.created_at,
        "updated_at": Tenant.updated_at,
        "name": Tenant.name,
        "subdomain": Tenant.subdomain,
        "tier": Tenant.tier,
        "status": Tenant.status,
    },
    search_fields=(Tenant.name, Tenant.subdomain, Tenant.contact_email),
    tiebreaker=Tenant.id,
)
MEMBER_LIST = ListSpec(
    ordering_fields={
        "joined_at": Membership.created_at,
        "created_at": Membership.created_at,
        "email": User.email,
        "name": User.full_name,
        "role": Membership.role,
    },
    default_ordering="joined_at",
    search_fields=(User.email, User.full_name),
    tiebreaker=Membership.id,
)
INVITATION_LIST = ListSpec(
    ordering_fields={"created_at": Invitation.created_at, "email": Invitation.email},
    search_fields=(Invitation.email,),
    tiebreaker=Invitation.id,
)


def tenant_read(service: TenantService, tenant: Tenant, **counts: Any) -> TenantRead:
    base_domain = service.settings.base_domain
    return TenantRead.model_validate(
        {
            **{c: getattr(tenant, c) for c in TenantRead.model_fields if hasattr(tenant, c)},
            "metadata": tenant.metadata_,
            "domain": f"{tenant.subdomain}.{base_domain}" if base_domain else tenant.subdomain,
            "grace_ends_at": grace_ends_at(tenant, service.settings.subdomain_grace_days),
            **counts,
        }
    )


async def tier_limits(service: TenantService, tiers: set[str]) -> dict[str, dict[str, Any]]:
    """What each tier grants (its plan's), one look-up per distinct tier."""
    return {tier: asdict(await grant_for(service.session, tier)) for tier in tiers}


async def tenant_detail(
    service: TenantService, tenant: Tenant, *, owner: bool = False
) -> TenantRead:
    """The tenant with its counts, tier limits, production instance and backups."""
    placed = await tenant_instances.ask(service.session, service.runtime, [tenant], owner)
    instance = placed.get(tenant.id)
    return tenant_read(
        service,
        tenant,
        member_count=await service.member_count(tenant.id),
        subscription_count=(await tenant_subscription_counts.ask(service.session, [tenant.id]))[
            tenant.id
        ],
        limits=(await tier_limits(service, {tenant.tier}))[tenant.tier],
        instance=instance,
        backups=await tenant_backups.ask(service.session, tenant.id),
        metrics=await tenant_metrics.ask(service.session, tenant.id),
        estimated_completion=instance.estimated_completion if instance else None,
    )


async def tenant_list_items(service: TenantService, tenants: list[Tenant]) -> list[TenantRead]:
    """The page's tenants with the detail's instance, limits and member count.

    Two statements for the whole page, whatever its size. The instance's admin password
    stays out of lists: it is shown on the detail, to owners only."""
    ids = [tenant.id for tenant in tenants]
    members = await service.member_counts(ids)
    placed = await tenant_instances.ask(service.session, service.runtime, tenants, False)
    subscriptions = await tenant_subscription_counts.ask(service.session, ids)
    limits = await tier_limits(service, {tenant.tier for tenant in tenants})
    items = []
    for tenant in tenants:
        instance = placed.get(tenant.id)
        items.append(
            tenant_read(
                service,
                tenant,
                member_count=members[tenant.id],
                subscription_count=subscriptions[tenant.id],
                limits=limits[tenant.tier],
                instance=instance,
                estimated_completion=instance.estimated_completion if instance else None,
            )
        )
    return items


def is_owner(access: TenantAccess) -> bool:
    return owns(access.role)


def member_read(row: Any) -> MemberRead:
    membership, user = row
    return MemberRead(
        id=user.id,
        user_id=user.id,
        email=user.email,
        name=user.full_name,
        full_name=user.full_name,
        first_name=user.first_name,
        last_name=user.last_name,
        is_active=user.is_active,
        role=membership.role,
        joined_at=membership.created_at,
    )


# -- tenants ----------------------------------------------------------------------------------


@router.post("/tenants", status_code=status.HTTP_202_ACCEPTED, response_model=TenantRead)
async def create_tenant(
    body: TenantCreate,
    principal: CurrentPrincipal,
    service: TenantServiceDep,
    request: Request,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> JSONResponse:
    """Accept the tenant; its Odoo database is provisioned by a job (poll until ``ready``).
    Sent again with the same ``Idempotency-Key``: the first answer, and one tenant."""
    actor = await users.get_user(service.session, principal.user.id)

    async def work() -> TenantRead:
        tenant = await service.create_tenant(
            actor,
            name=body.name,
            subdomain=body.subdomain,
            tier=body.tier,
            settings=body.settings.model_dump(exclude_none=True),
            contact_email=body.contact_email,
            billing_address=body.billing_address,
            metadata=body.metadata,
            odoo_version=body.odoo_version,
            admin_email=body.admin_email,
            admin_password=body.admin_password,
            owner_id=body.owner_id,
        )
        return await tenant_detail(service, tenant, owner=True)

    return await idempotent_response(
        request, service.session, actor.id, status.HTTP_202_ACCEPTED, work
    )


@router.get("/tenants", response_model=Page[TenantRead])
async def list_tenants(
    principal: CurrentPrincipal,
    service: TenantServiceDep,
    params: ListParamsDep,
    status_: Annotated[TenantStatus | None, Query(alias="status")] = None,
    tier: TenantTier | None = None,
    is_active: bool | None = None,
    owner_id: uuid.UUID | None = None,
) -> Page[TenantRead]:
    stmt = service.visible_tenants(principal.user)
    if principal.confined_tenant_id is not None:  # an API key confined to one tenant
        stmt = stmt.where(Tenant.id == principal.confined_tenant_id)
    if status_ is None:
        stmt = stmt.where(Tenant.status.not_in(GONE_STATUSES))
    stmt = apply_filters(
        stmt,
        {
            Tenant.status: status_.value if status_ else None,
            Tenant.tier: tier.value if tier else None,
            Tenant.is_active: is_active,
            Tenant.owner_id: owner_id,
        },
    )
    page = await paginate(service.session, stmt, params, TENANT_LIST, lambda tenant: tenant)
    return Page[TenantRead](
        count=page.count,
        next=page.next,
        previous=page.previous,
        results=await tenant_list_items(service, page.results),
    )


@router.get("/tenants/{tenant_id}", response_model=TenantRead)
async def get_tenant(access: FollowableTenantAccessDep, service: TenantServiceDep) -> TenantRead:
    """A deleted tenant answers its owners (``deleting``, then ``deleted``) until
    ``grace_ends_at``; anyone else gets 404 from the moment it is deleted."""
    return await tenant_detail(service, access.tenant, owner=is_owner(access))


@router.put("/tenants/{tenant_id}", response_model=TenantRead)
@router.patch("/tenants/{tenant_id}", response_model=TenantRead)
async def update_tenant(
    body: TenantUpdate, access: TenantAccessDep, service: TenantServiceDep
) -> TenantRead:
    tenant = await service.update_tenant(access, body.changes())
    return await tenant_detail(service, tenant, owner=is_owner(access))


@router.delete(
    "/tenants/{tenant_id}", status_code=status.HTTP_202_ACCEPTED, response_model=TenantRead
)
async def delete_tenant(access: TenantAccessDep, service: TenantServiceDep) -> JSONResponse:
    tenant = await service.delete_tenant(access)
    body = (await tenant_detail(service, tenant, owner=is_owner(access))).model_dump(mode="json")
    return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED)


# -- members ----------------------------------------------------------------------------------


@router.get("/tenants/{tenant_id}/users", response_model=Page[MemberRead])
async def list_members(
    access: TenantAccessDep,
    service: TenantServiceDep,
    params: ListParamsDep,
    role: TenantRole | None = None,
) -> Page[MemberRead]:
    stmt = apply_filters(
        service.members_query(access.tenant.id), {Membership.role: role.value if role else None}
    )
    return await paginate(service.session, stmt, params, MEMBER_LIST, member_read, rows=True)


@router.post(
    "/tenants/{tenant_id}/users",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberRead,
    responses={
        202: {
            "model": InvitationRead,
            "description": "The address has no account: invited (the invitation)",
        }
    },
)
async def add_member(
    body: MemberCreate, access: TenantAccessDep, service: TenantServiceDep
) -> JSONResponse:
    """Add an existing user (201, the member), or invite an address with no account (202)."""
    membership, invitation, user = await service.add_member(
        access, email=body.email, user_id=body.user_id, role=body.role
    )
    if invitation is not None:
        payload = InvitationRead.model_validate(invitation).model_dump(mode="json")
        return JSONResponse(payload, status_code=status.HTTP_202_ACCEPTED)
    assert membership is not None and user is not None
    member = member_read((membership, user)).model_dump(mode="json")
    return JSONResponse(member, status_code=status.HTTP_201_CREATED)


@router.get("/tenants/{tenant_id}/users/{user_id}", response_model=MemberRead)
async def get_member(
    user_id: str, access: TenantAccessDep, service: TenantServiceDep
) -> MemberRead:
    member_id = parse_id(user_id, MemberNotFound)
    row = (
        await service.session.execute(
            service.members_query(access.tenant.id).where(Membership.user_id == member_id)
        )
    ).one_or_none()
    if row is None:
        raise MemberNotFound()
    return member_read(row)


@router.put("/tenants/{tenant_id}/users/{user_id}", response_model=MemberRead)
@router.patch("/tenants/{tenant_id}/users/{user_id}", response_model=MemberRead)
async def change_member_role(
    user_id: str, body: MemberUpdate, access: TenantAccessDep, service: TenantServiceDep
) -> MemberRead:
    member_id = parse_id(user_id, MemberNotFound)
    membership = await service.change_role(access, member_id, body.role)
    user = await users.get_user(service.session, member_id)
    return member_read((membership, user))


@router.delete("/tenants/{tenant_id}/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    user_id: str, access: TenantAccessDep, service: TenantServiceDep
) -> Response:
    await service.remove_member(access, parse_id(user_id, MemberNotFound))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/tenants/{tenant_id}/transfer-ownership", response_model=TenantRead)
async def transfer_ownership(
    body: OwnershipTransfer, access: TenantAccessDep, service: TenantServiceDep
) -> TenantRead:
    tenant = await service.transfer_ownership(access, body.user_id)
    return await tenant_detail(service, tenant)


# -- invitations ------------------------------------------------------------------------------


@router.get("/tenants/{tenant_id}/invitations", response_model=Page[InvitationRead])
async def list_invitations(
    access: TenantAccessDep, service: TenantServiceDep, params: ListParamsDep
) -> Page[InvitationRead]:
    access.require_manager()
    return await paginate(
        service.session,
        service.invitations_query(access.tenant.id),
        params,
        INVITATION_LIST,
        InvitationRead.model_validate,
    )


@router.delete(
    "/tenants/{tenant_id}/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def revoke_invitation(
    invitation_id: uuid.UUID, access: TenantAccessDep, service: TenantServiceDep
) -> Response:
    await service.revoke_invitation(access, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/invitations/accept", response_model=InvitationAccepted)
async def accept_invitation(
    body: InvitationAccept, principal: CurrentPrincipal, service: TenantServiceDep
) -> InvitationAccepted:
    actor = await users.get_user(service.session, principal.user.id)
    tenant, membership = await service.accept_invitation(actor, body.token)
    return InvitationAccepted(tenant=await tenant_detail(service, tenant), role=membership.role)
