"""Billing's API: the public plan list, subscriptions (both seed paths), and the tenant's
and user's subscription lists. Admin plan management is in ``admin_router.py``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import Select, select

from saas_server.auth.dependencies import CurrentPrincipal, PlatformAdmin
from saas_server.billing.models import (
    LIVE_STATUSES,
    BillingCycle,
    Plan,
    Seat,
    Subscription,
    SubscriptionStatus,
)
from saas_server.billing.preview import preview_change
from saas_server.billing.schemas import (
    PlanRead,
    Price,
    SeatChange,
    SeatCreate,
    SeatHolder,
    SubscriptionCancel,
    SubscriptionCreate,
    SubscriptionPreview,
    SubscriptionPreviewRequest,
    SubscriptionRead,
    SubscriptionReplace,
    SubscriptionUpdate,
)
from saas_server.billing.seats import SeatNotFound, add_seat, remove_seat, seat_count
from saas_server.billing.service import (
    BillingService,
    SubscriptionNotFound,
    plans_query,
    seats_of,
)
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.idempotency import IDEMPOTENCY_KEY, idempotent_response
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.directory.service import UserDirectory
from saas_server.tenants.dependencies import TenantAccessDep
from saas_server.tenants.models import Membership
from saas_server.users import service as users
from saas_server.users.models import User

router = PrefixedRouter(prefix="/api/v1", tags=["billing"])

PLAN_LIST = ListSpec(
    ordering_fields={
        "monthly_amount_cents": Plan.monthly_amount_cents,
        "code": Plan.code,
        "name": Plan.name,
        "created_at": Plan.created_at,
    },
    search_fields=(Plan.code, Plan.name, Plan.description),
    default_ordering="monthly_amount_cents",
    tiebreaker=Plan.id,
)
SUBSCRIPTION_LIST = ListSpec(
    ordering_fields={
        "created_at": Subscription.created_at,
        "start_date": Subscription.start_date,
        "current_period_end": Subscription.current_period_end,
        "status": Subscription.status,
    },
    tiebreaker=Subscription.id,
)


def plan_read(plan: Plan) -> PlanRead:
    return PlanRead(
        id=plan.id,
        code=plan.code,
        name=plan.name,
        description=plan.description,
        tier=plan.code,
        max_users=plan.max_users,
        storage_gb=plan.storage_gb,
        expiration_days=plan.expiration_days,
        expiration_reason=plan.expiration_reason,
        backup_policy=plan.backup_policy,
        rate_limit_class=plan.rate_limit_class,
        currency=plan.currency,
        prices=[
            Price(
                interval=BillingCycle.MONTHLY,
                amount_cents=plan.monthly_amount_cents,
                currency=plan.currency,
            ),
            Price(
                interval=BillingCycle.ANNUALLY,
                amount_cents=plan.annual_amount_cents,
                currency=plan.currency,
            ),
        ],
        seats_included=plan.seats_included,
        extra_seat_amount_cents=plan.extra_seat_amount_cents,
        trial_days=plan.trial_days,
        is_active=plan.is_active,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


async def get_billing_service(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> BillingService:
    return BillingService(session, runtime, client)


BillingServiceDep = Annotated[BillingService, Depends(get_billing_service)]


async def subscription_reads(
    service: BillingService, subscriptions: list[Subscription]
) -> list[SubscriptionRead]:
    """A page of subscriptions in two statements (their plans' codes, their seats)."""
    codes = await service.plan_codes([s.plan_id for s in subscriptions])
    seats = await seats_of(service.session, [s.id for s in subscriptions])
    reads = []
    for subscription in subscriptions:
        holders = seats[subscription.id]
        live = subscription.status in LIVE_STATUSES
        reads.append(
            SubscriptionRead(
                id=subscription.id,
                tenant_id=subscription.tenant_id,
                plan=codes[subscription.plan_id],
                status=subscription.status,
                is_active=subscription.status
                in (SubscriptionStatus.ACTIVE.value, SubscriptionStatus.TRIALING.value),
                start_date=subscription.start_date,
                end_date=subscription.end_date,
                renewal_date=(
                    subscription.current_period_end
                    if live and not subscription.cancel_at_period_end
                    else None
                ),
                billing_cycle=subscription.billing_cycle,
                user_count=len(holders),
                max_users=subscription.max_users,
                subscribed_user_ids=holders,
                has_available_seats=live and len(holders) < subscription.max_users,
                current_period_start=subscription.current_period_start,
                current_period_end=subscription.current_period_end,
                trial_end=subscription.trial_end,
                cancel_at_period_end=subscription.cancel_at_period_end,
                canceled_at=subscription.canceled_at,
                payment_method_id=subscription.payment_method_id,
                created_at=subscription.created_at,
                updated_at=subscription.updated_at,
            )
        )
    return reads


async def subscription_read(
    service: BillingService, subscription: Subscription
) -> SubscriptionRead:
    return (await subscription_reads(service, [subscription]))[0]


async def _page(service: BillingService, stmt: Select[Any], params: Any) -> Page[SubscriptionRead]:
    page = await paginate(service.session, stmt, params, SUBSCRIPTION_LIST, lambda s: s)
    return Page[SubscriptionRead](
        count=page.count,
        next=page.next,
        previous=page.previous,
        results=await subscription_reads(service, list(page.results)),
    )


async def _actor(service: BillingService, principal: Any) -> User:
    return await users.get_user(service.session, principal.user.id)


# -- plans ----------------------------------------------------------------------------------


@router.get("/billing/plans", response_model=Page[PlanRead])
async def list_plans(session: SessionDep, params: ListParamsDep) -> Page[PlanRead]:
    """The active plans, cheapest first: a pricing page reads it without logging in."""
    return await paginate(session, plans_query(active_only=True), params, PLAN_LIST, plan_read)


# -- subscriptions --------------------------------------------------------------------------


def _filtered(
    stmt: Select[Any],
    tenant_id: uuid.UUID | None,
    status_: SubscriptionStatus | None,
    is_active: bool | None,
) -> Select[Any]:
    stmt = apply_filters(
        stmt,
        {
            Subscription.tenant_id: tenant_id,
            Subscription.status: status_.value if status_ else None,
        },
    )
    active = (SubscriptionStatus.ACTIVE.value, SubscriptionStatus.TRIALING.value)
    if is_active is True:
        stmt = stmt.where(Subscription.status.in_(active))
    elif is_active is False:
        stmt = stmt.where(Subscription.status.not_in(active))
    return stmt


@router.get("/subscriptions", response_model=Page[SubscriptionRead])
@router.get("/billing/subscriptions", response_model=Page[SubscriptionRead])
async def list_subscriptions(
    principal: CurrentPrincipal,
    service: BillingServiceDep,
    params: ListParamsDep,
    tenant_id: uuid.UUID | None = None,
    status_: Annotated[SubscriptionStatus | None, Query(alias="status")] = None,
    is_active: bool | None = None,
) -> Page[SubscriptionRead]:
    """The subscriptions of the caller's tenants (every one for platform admins)."""
    actor = await _actor(service, principal)
    stmt = _filtered(service.visible_subscriptions(actor), tenant_id, status_, is_active)
    return await _page(service, stmt, params)


@router.get("/admin/subscriptions", response_model=Page[SubscriptionRead])
async def admin_list_subscriptions(
    admin: PlatformAdmin,
    service: BillingServiceDep,
    params: ListParamsDep,
    tenant_id: uuid.UUID | None = None,
    status_: Annotated[SubscriptionStatus | None, Query(alias="status")] = None,
    is_active: bool | None = None,
) -> Page[SubscriptionRead]:
    """Every subscription on the platform (platform admins)."""
    stmt = _filtered(select(Subscription), tenant_id, status_, is_active)
    return await _page(service, stmt, params)


async def _create(
    principal: Any, service: BillingService, body: SubscriptionCreate, request: Request
) -> JSONResponse:
    actor = await _actor(service, principal)

    async def work() -> SubscriptionRead:
        subscription = await service.create(
            actor,
            body.tenant_id,
            plan_code=body.plan,
            billing_cycle=body.billing_cycle.value,
            max_users=body.max_users,
            payment_method_id=body.payment_method_id,
        )
        return await subscription_read(service, subscription)

    # Both creating routes are one action: one key answers the same on either.
    return await idempotent_response(
        request, service.session, actor.id, status.HTTP_201_CREATED, work, path="subscriptions"
    )


@router.post("/subscriptions", response_model=SubscriptionRead, status_code=status.HTTP_201_CREATED)
async def create_subscription(
    principal: CurrentPrincipal,
    service: BillingServiceDep,
    body: SubscriptionCreate,
    request: Request,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> JSONResponse:
    return await _create(principal, service, body, request)


@router.post(
    "/billing/subscriptions",
    response_model=SubscriptionRead,
    status_code=status.HTTP_201_CREATED,
)
async def create_billing_subscription(
    principal: CurrentPrincipal,
    service: BillingServiceDep,
    body: SubscriptionCreate,
    request: Request,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> JSONResponse:
    return await _create(principal, service, body, request)


async def _reach(
    principal: Any, service: BillingService, subscription_id: str
) -> tuple[Any, Subscription]:
    actor = await _actor(service, principal)
    return await service.access_subscription(actor, parse_id(subscription_id, SubscriptionNotFound))


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionRead)
@router.get("/billing/subscriptions/{subscription_id}", response_model=SubscriptionRead)
async def get_subscription(
    subscription_id: str, principal: CurrentPrincipal, service: BillingServiceDep
) -> SubscriptionRead:
    _, subscription = await _reach(principal, service, subscription_id)
    return await subscription_read(service, subscription)


@router.put("/subscriptions/{subscription_id}", response_model=SubscriptionRead)
async def replace_subscription(
    subscription_id: str,
    body: SubscriptionReplace,
    principal: CurrentPrincipal,
    service: BillingServiceDep,
) -> SubscriptionRead:
    access, subscription = await _reach(principal, service, subscription_id)
    changed = await service.update(access, subscription, body.model_dump())
    return await subscription_read(service, changed)


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionRead)
@router.patch("/billing/subscriptions/{subscription_id}", response_model=SubscriptionRead)
async def update_subscription(
    subscription_id: str,
    body: SubscriptionUpdate,
    principal: CurrentPrincipal,
    service: BillingServiceDep,
) -> SubscriptionRead:
    access, subscription = await _reach(principal, service, subscription_id)
    changed = await service.update(access, subscription, body.model_dump(exclude_unset=True))
    return await subscription_read(service, changed)


@router.post("/subscriptions/{subscription_id}/cancel", response_model=SubscriptionRead)
@router.post("/billing/subscriptions/{subscription_id}/cancel", response_model=SubscriptionRead)
async def cancel_subscription(
    subscription_id: str,
    principal: CurrentPrincipal,
    service: BillingServiceDep,
    body: SubscriptionCancel | None = None,
) -> SubscriptionRead:
    """Cancel now (``at_period_end`` false, the default) or when the current period ends."""
    access, subscription = await _reach(principal, service, subscription_id)
    changed = await service.cancel(
        access, subscription, at_period_end=bool(body and body.at_period_end)
    )
    return await subscription_read(service, changed)


@router.delete("/subscriptions/{subscription_id}", response_model=SubscriptionRead)
async def delete_subscription(
    subscription_id: str, principal: CurrentPrincipal, service: BillingServiceDep
) -> SubscriptionRead:
    """Seed 003's DELETE: cancels at once (the row stays, for the invoices' sake)."""
    access, subscription = await _reach(principal, service, subscription_id)
    changed = await service.cancel(access, subscription, at_period_end=False)
    return await subscription_read(service, changed)


@router.get("/tenants/{tenant_id}/subscriptions", response_model=Page[SubscriptionRead])
async def list_tenant_subscriptions(
    access: TenantAccessDep,
    service: BillingServiceDep,
    params: ListParamsDep,
    status_: Annotated[SubscriptionStatus | None, Query(alias="status")] = None,
    is_active: bool | None = None,
) -> Page[SubscriptionRead]:
    stmt = _filtered(select(Subscription), access.tenant.id, status_, is_active)
    return await _page(service, stmt, params)


@router.get("/users/{user_id}/subscriptions", response_model=Page[SubscriptionRead])
async def list_user_subscriptions(
    user_id: str,
    principal: CurrentPrincipal,
    service: BillingServiceDep,
    params: ListParamsDep,
    status_: Annotated[SubscriptionStatus | None, Query(alias="status")] = None,
    is_active: bool | None = None,
) -> Page[SubscriptionRead]:
    """The subscriptions of the user's tenants that the caller may also see."""
    actor = await _actor(service, principal)
    directory = UserDirectory(service.session, service.runtime, service.client)
    user = await directory.get_visible(actor, parse_id(user_id, users.UserNotFound))
    stmt = service.visible_subscriptions(actor).where(
        Subscription.tenant_id.in_(
            select(Membership.tenant_id).where(Membership.user_id == user.id)
        )
    )
    return await _page(service, _filtered(stmt, None, status_, is_active), params)


# -- seats (seed 003) -----------------------------------------------------------------------


@router.get("/subscriptions/{subscription_id}/users", response_model=list[SeatHolder])
async def list_seats(
    subscription_id: str, principal: CurrentPrincipal, service: BillingServiceDep
) -> list[SeatHolder]:
    """The seat holders, oldest seat first (a seat is an active internal Odoo user)."""
    _, subscription = await _reach(principal, service, subscription_id)
    holders = (
        await service.session.execute(
            select(User)
            .join(Seat, Seat.user_id == User.id)
            .where(Seat.subscription_id == subscription.id)
            .order_by(Seat.created_at, Seat.id)
        )
    ).scalars()
    return [
        SeatHolder(id=u.id, name=u.full_name, email=u.email, is_active=u.is_active) for u in holders
    ]


@router.post(
    "/subscriptions/{subscription_id}/users",
    response_model=SeatChange,
    status_code=status.HTTP_201_CREATED,
)
async def add_subscription_user(
    subscription_id: str,
    body: SeatCreate,
    principal: CurrentPrincipal,
    service: BillingServiceDep,
) -> JSONResponse:
    """A seat for a member of the tenant: 201, or 200 when they hold one already; past
    ``max_users`` 402 ``BILLING_ERROR``."""
    access, subscription = await _reach(principal, service, subscription_id)
    _, created = await add_seat(service.session, access, subscription, body.user_id, service.client)
    change = SeatChange(
        subscription_id=subscription.id,
        user_id=body.user_id,
        user_count=await seat_count(service.session, subscription.id),
        max_users=subscription.max_users,
    )
    return JSONResponse(
        change.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


@router.delete("/subscriptions/{subscription_id}/users/{user_id}", response_model=SeatChange)
async def remove_subscription_user(
    subscription_id: str, user_id: str, principal: CurrentPrincipal, service: BillingServiceDep
) -> SeatChange:
    access, subscription = await _reach(principal, service, subscription_id)
    holder = parse_id(user_id, SeatNotFound)
    await remove_seat(service.session, access, subscription, holder, service.client)
    return SeatChange(
        subscription_id=subscription.id,
        user_id=holder,
        user_count=await seat_count(service.session, subscription.id),
        max_users=subscription.max_users,
    )


@router.post("/subscriptions/{subscription_id}/preview", response_model=SubscriptionPreview)
async def preview_subscription_change(
    subscription_id: str,
    body: SubscriptionPreviewRequest,
    principal: CurrentPrincipal,
    service: BillingServiceDep,
) -> SubscriptionPreview:
    """The prorated amounts a change of plan, seats or cycle would charge now, to the cent,
    without changing anything (what ``PATCH /subscriptions/{id}`` would invoice)."""
    access, subscription = await _reach(principal, service, subscription_id)
    preview = await preview_change(
        service, access, subscription, body.model_dump(exclude_unset=True)
    )
    return SubscriptionPreview.model_validate(preview)
