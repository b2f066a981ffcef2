"""Moves as platform admins ask for them: the checks that refuse a move, the move row and
its job in the caller's transaction, reading and retrying. Never commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.backups.archive import major_version
from saas_server.core.client import ClientInfo
from saas_server.core.errors import AppError, Conflict, NotFound
from saas_server.instances.hosts.load import instance_counts
from saas_server.instances.hosts.models import HostStatus, OdooHost
from saas_server.instances.lifecycle import Action as InstanceAction
from saas_server.instances.lifecycle import transition as instance_transition
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.instances.service import production_instance
from saas_server.moves.jobs import defer_move
from saas_server.moves.lifecycle import MOVE, MoveAction
from saas_server.moves.models import ACTIVE_MOVE_STATES, Move, MoveStatus
from saas_server.tenants.models import Tenant, TenantStatus


class MoveNotFound(NotFound):
    code = "MOVE_NOT_FOUND"
    message = "Move not found"


class MoveRefused(AppError):
    """The request itself cannot be a move (the host named, its version)."""

    status_code = 400
    code = "MOVE_REFUSED"
    message = "This move is refused"


def parked_name(database: str, move_id: uuid.UUID) -> str:
    """The source database's name while it is closed for the move (63 bytes at most)."""
    return f"{database[:40]}_moving_{move_id.hex[:8]}"


async def refuse_while_moving(session: AsyncSession, instance: Instance, action: Any) -> None:
    """``instance_changing``: no stop, start, restart or deletion while the instance moves
    (its database is parked under another name, or being switched to another host)."""
    running = (
        await session.execute(
            select(Move.id).where(
                Move.instance_id == instance.id, Move.status.in_(ACTIVE_MOVE_STATES)
            )
        )
    ).scalar_one_or_none()
    if running is not None:
        raise Conflict(
            "A move of this tenant to another host is under way; try again when it ends",
            details={"reason": "move_running", "move_id": str(running), "action": str(action)},
        )


def _moving_reason(reason: str | None, *, retry: bool = False) -> str:
    asked = "Move to another host retried" if retry else "Move to another host"
    return f"{asked}: {reason}" if reason else asked


class MoveService:
    def __init__(self, session: AsyncSession, client: ClientInfo | None = None) -> None:
        self.session = session
        self.client = client

    def moves(self) -> Select[Any]:
        return select(Move)

    async def get(self, move_id: uuid.UUID) -> Move:
        move = await self.session.get(Move, move_id)
        if move is None:
            raise MoveNotFound()
        return move

    async def request(
        self,
        tenant: Tenant,
        target_host_id: uuid.UUID | None,
        *,
        reason: str | None,
        actor_id: uuid.UUID | None,
    ) -> Move:
        """A pending move of the tenant's production database to ``target_host_id``, its
        job deferred in this transaction; refused (4xx) unless it can run now."""
        if target_host_id is None:
            raise MoveRefused(
                "A move needs a target_host_id", details={"reason": "target_host_missing"}
            )
        instance = await production_instance(self.session, tenant.id)
        if (
            instance is None
            or tenant.status != TenantStatus.READY.value
            or instance.status != InstanceStatus.READY.value
            or instance.host_id is None
        ):
            status = instance.status if instance else tenant.status
            raise Conflict(
                f"Only a ready tenant can move; this one is {status}",
                details={"reason": "tenant_not_ready", "status": status},
            )
        # Locked: a second request for this instance waits here, then finds the first move.
        instance = await self.session.get(Instance, instance.id, with_for_update=True)
        assert instance is not None and instance.host_id is not None
        running = (
            await self.session.execute(
                select(Move.id).where(
                    Move.instance_id == instance.id, Move.status.in_(ACTIVE_MOVE_STATES)
                )
            )
        ).scalar_one_or_none()
        if running is not None:
            raise Conflict(
                "A move of this tenant is already under way",
                details={"reason": "move_running", "move_id": str(running)},
            )
        target = await self._usable_target(instance, target_host_id)
        await instance_transition(
            self.session, instance, InstanceAction.MOVE, _moving_reason(reason), actor_id=actor_id
        )
        move = Move(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            instance_id=instance.id,
            source_host_id=instance.host_id,
            target_host_id=target.id,
            odoo_version=instance.odoo_version,
            source_database=instance.database_name,
            parked_database="",
            status=MoveStatus.PENDING.value,
            attempts=0,
            reason=reason,
            requested_by=actor_id,
        )
        move.parked_database = parked_name(instance.database_name, move.id)
        self.session.add(move)
        await self.session.flush()
        await defer_move(self.session, move)
        await audit.record(
            self.session,
            action="move.requested",
            resource_type="move",
            resource_id=move.id,
            actor_id=actor_id,
            tenant_id=tenant.id,
            new_values={
                "source_host_id": str(instance.host_id),
                "target_host_id": str(target.id),
                "reason": reason,
            },
            client=self.client,
        )
        return move

    async def _usable_target(self, instance: Instance, target_host_id: uuid.UUID) -> OdooHost:
        target = await self.session.get(OdooHost, target_host_id, with_for_update=True)
        if target is None:
            raise MoveRefused("No such host", details={"reason": "unknown_host"})
        if target.id == instance.host_id:
            raise MoveRefused("The tenant is on this host already", details={"reason": "same_host"})
        if major_version(target.odoo_version) != major_version(instance.odoo_version):
            raise MoveRefused(
                f"The host runs Odoo {target.odoo_version}; the tenant runs "
                f"{instance.odoo_version}",
                details={
                    "reason": "version_mismatch",
                    "host": target.odoo_version,
                    "instance": instance.odoo_version,
                },
            )
        if target.status != HostStatus.HEALTHY.value or target.draining:
            raise Conflict(
                f"The host is {target.status}; only a healthy host takes a tenant",
                details={"reason": "host_not_healthy", "status": target.status},
            )
        held = (await instance_counts(self.session)).get(target.id, 0)
        if held >= target.capacity:
            raise Conflict(
                "The host is full",
                details={"reason": "host_full", "capacity": target.capacity, "held": held},
            )
        return target

    async def retry(self, move: Move, actor_id: uuid.UUID | None) -> Move:
        """Run a failed move again: from the start after a rollback, or only the drop of
        the source copy when it failed past the switch."""
        locked = await self.session.get(Move, move.id, with_for_update=True)
        assert locked is not None
        MOVE.next_status(locked.status, MoveAction.RETRY)  # 409 unless failed
        instance = await self.session.get(Instance, locked.instance_id, with_for_update=True)
        if instance is not None:  # another move of it, asked for since this one failed
            await refuse_while_moving(self.session, instance, "retry")
        MOVE.apply(locked, MoveAction.RETRY)
        if locked.step is None:  # from the start: the same checks as a new move
            if instance is None or instance.status != InstanceStatus.READY.value:
                status = instance.status if instance else "deleted"
                raise Conflict(
                    f"Only a ready tenant can move; this one is {status}",
                    details={"reason": "tenant_not_ready", "status": status},
                )
            if locked.target_host_id is None:
                raise MoveRefused("The target host is gone", details={"reason": "unknown_host"})
            await self._usable_target(instance, locked.target_host_id)
            await instance_transition(
                self.session,
                instance,
                InstanceAction.MOVE,
                _moving_reason(locked.reason, retry=True),
                actor_id=actor_id,
            )
        # Past the point of no return only the source copy is left to drop: the tenant
        # lives on the target and its instance keeps its state.
        locked.error = None
        locked.completed_at = None
        await self.session.flush()
        await defer_move(self.session, locked)
        await audit.record(
            self.session,
            action="move.retried",
            resource_type="move",
            resource_id=locked.id,
            actor_id=actor_id,
            tenant_id=locked.tenant_id,
            new_values={"step": locked.step},
            client=self.client,
        )
        return locked
