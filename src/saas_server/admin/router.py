"""Platform operators' actions on a tenant, each with a reason kept in the audit trail."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import status
from fastapi.responses import JSONResponse
from pydantic import Field

from saas_server.audit import service as audit
from saas_server.auth.dependencies import PlatformAdmin
from saas_server.backups.router import backup_read
from saas_server.backups.schemas import BackupRead
from saas_server.backups.service import admin_backup
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.routing import PrefixedRouter
from saas_server.core.schemas import RequestSchema, Schema
from saas_server.instances.lifecycle import Action
from saas_server.instances.service import InstanceService, production_instance
from saas_server.moves.router import move_read
from saas_server.moves.schemas import MoveRead
from saas_server.moves.service import MoveService
from saas_server.tenants.service import TenantNotFound, TenantService
from saas_server.users import service as users

router = PrefixedRouter(prefix="/api/v1/admin", tags=["admin"])

INSTANCE_ACTIONS = {"stop": Action.STOP, "start": Action.START, "restart": Action.RESTART}


class TenantAction(RequestSchema):
    action: Literal["backup", "stop", "start", "restart", "migrate"]
    # migrate: the host the tenant moves to (moves/).
    target_host_id: uuid.UUID | None = None
    # Kept in the audit trail; asked for, but an action without one is not refused.
    reason: str | None = Field(default=None, max_length=500)


class TenantActionResult(Schema):
    """What an operator's action started: the backup (``backup``), the move (``migrate``)
    or the instance's new status (``stop``, ``start``, ``restart``)."""

    action: Literal["backup", "stop", "start", "restart", "migrate"]
    tenant_id: uuid.UUID
    backup: BackupRead | None = None
    move: MoveRead | None = None
    instance_status: str | None = None


@router.post(
    "/tenants/{tenant_id}/actions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TenantActionResult,
    response_model_exclude_unset=True,
)
async def tenant_action(
    tenant_id: str,
    body: TenantAction,
    principal: PlatformAdmin,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
) -> JSONResponse:
    actor = await users.get_user(session, principal.user.id)
    access = await TenantService(session, runtime, client).access(
        actor, parse_id(tenant_id, TenantNotFound)
    )
    tenant = access.tenant
    result: dict[str, Any] = {"action": body.action, "tenant_id": str(tenant.id)}
    if body.action == "backup":
        backup = await admin_backup(
            session, runtime, actor, tenant, body.reason or "Requested by an operator", client
        )
        result["backup"] = backup_read(backup).model_dump(mode="json")
    elif body.action == "migrate":
        move = await MoveService(session, client).request(
            tenant, body.target_host_id, reason=body.reason, actor_id=actor.id
        )
        result["move"] = move_read(move).model_dump(mode="json")
    else:
        instance = await production_instance(session, tenant.id)
        if instance is None:
            raise TenantNotFound()
        instance = await InstanceService(session, runtime).act(
            instance, INSTANCE_ACTIONS[body.action], actor.id
        )
        result["instance_status"] = instance.status
    await audit.record(
        session,
        action=f"admin.tenant.{body.action}",
        resource_type="tenant",
        resource_id=tenant.id,
        actor_id=actor.id,
        tenant_id=tenant.id,
        new_values={"action": body.action, "reason": body.reason},
        client=client,
    )
    return JSONResponse(result, status_code=status.HTTP_202_ACCEPTED)
