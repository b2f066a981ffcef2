"""Platform admins manage plans: ``/api/v1/admin/plans`` (lives in billing, not admin)."""

from __future__ import annotations

from fastapi import Response, status

from saas_server.auth.dependencies import PlatformAdmin
from saas_server.billing.models import Plan
from saas_server.billing.router import PLAN_LIST, plan_read
from saas_server.billing.schemas import PlanCreate, PlanRead, PlanUpdate
from saas_server.billing.service import (
    PlanNotFound,
    create_plan,
    delete_plan,
    get_plan,
    plans_query,
    update_plan,
)
from saas_server.core.deps import ClientDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, Page, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.users import service as users

router = PrefixedRouter(prefix="/api/v1/admin/plans", tags=["admin", "billing"])


@router.get("", response_model=Page[PlanRead])
async def list_all_plans(
    admin: PlatformAdmin,
    session: SessionDep,
    params: ListParamsDep,
    is_active: bool | None = None,
) -> Page[PlanRead]:
    """Every plan, archived ones included unless ``is_active`` narrows it."""
    stmt = plans_query(active_only=False)
    if is_active is not None:
        stmt = stmt.where(Plan.is_active.is_(is_active))
    return await paginate(session, stmt, params, PLAN_LIST, plan_read)


@router.post("", response_model=PlanRead, status_code=status.HTTP_201_CREATED)
async def create(
    body: PlanCreate, admin: PlatformAdmin, session: SessionDep, client: ClientDep
) -> PlanRead:
    actor = await users.get_user(session, admin.user.id)
    fields = body.model_dump(mode="json")
    return plan_read(await create_plan(session, actor, fields, client))


@router.get("/{plan_id}", response_model=PlanRead)
async def get(plan_id: str, admin: PlatformAdmin, session: SessionDep) -> PlanRead:
    return plan_read(await get_plan(session, parse_id(plan_id, PlanNotFound)))


@router.patch("/{plan_id}", response_model=PlanRead)
@router.put("/{plan_id}", response_model=PlanRead)
async def update(
    plan_id: str, body: PlanUpdate, admin: PlatformAdmin, session: SessionDep, client: ClientDep
) -> PlanRead:
    actor = await users.get_user(session, admin.user.id)
    plan = await get_plan(session, parse_id(plan_id, PlanNotFound))
    changes = body.model_dump(mode="json", exclude_unset=True)
    nulls = [field for field, value in changes.items() if value is None and field != "description"]
    for field in nulls:
        del changes[field]
    return plan_read(await update_plan(session, actor, plan, changes, client))


@router.delete("/{plan_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(
    plan_id: str, admin: PlatformAdmin, session: SessionDep, client: ClientDep
) -> Response:
    actor = await users.get_user(session, admin.user.id)
    plan = await get_plan(session, parse_id(plan_id, PlanNotFound))
    await delete_plan(session, actor, plan, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
