"""Platform admins' view of tenant moves (requested with the admin tenant action
``migrate``, admin/router.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status
from fastapi.responses import JSONResponse

from saas_server.auth.dependencies import PlatformAdmin
from saas_server.core.deps import ClientDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.moves.models import Move, MoveStatus
from saas_server.moves.schemas import MoveActionRequest, MoveRead
from saas_server.moves.service import MoveNotFound, MoveService

router = PrefixedRouter(prefix="/api/v1/admin", tags=["admin"])

MOVE_LIST = ListSpec(
    ordering_fields={
        "created_at": Move.created_at,
        "completed_at": Move.completed_at,
        "status": Move.status,
        "login_refused_ms": Move.login_refused_ms,
    },
    search_fields=(Move.reason, Move.source_database, Move.target_database),
    tiebreaker=Move.id,
)


def move_read(move: Move) -> MoveRead:
    return MoveRead.model_validate(move)


@router.get("/moves", response_model=Page[MoveRead])
async def list_moves(
    principal: PlatformAdmin,
    session: SessionDep,
    params: ListParamsDep,
    tenant_id: uuid.UUID | None = None,
    status_: Annotated[MoveStatus | None, Query(alias="status")] = None,
    host_id: uuid.UUID | None = None,
) -> Page[MoveRead]:
    stmt = apply_filters(
        MoveService(session).moves(),
        {Move.tenant_id: tenant_id, Move.status: status_.value if status_ else None},
    )
    if host_id is not None:
        stmt = stmt.where((Move.source_host_id == host_id) | (Move.target_host_id == host_id))
    return await paginate(session, stmt, params, MOVE_LIST, move_read)


@router.get("/moves/{move_id}", response_model=MoveRead)
async def get_move(principal: PlatformAdmin, session: SessionDep, move_id: str) -> MoveRead:
    return move_read(await MoveService(session).get(parse_id(move_id, MoveNotFound)))


@router.post(
    "/moves/{move_id}/actions", status_code=status.HTTP_202_ACCEPTED, response_model=MoveRead
)
async def move_action(
    principal: PlatformAdmin,
    session: SessionDep,
    client: ClientDep,
    move_id: str,
    body: MoveActionRequest,
) -> JSONResponse:
    service = MoveService(session, client)
    move = await service.get(parse_id(move_id, MoveNotFound))
    move = await service.retry(move, principal.user.id)
    return JSONResponse(move_read(move).model_dump(mode="json"), status_code=202)
