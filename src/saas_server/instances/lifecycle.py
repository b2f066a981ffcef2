"""The instance lifecycle as one transition table: ``(state, action) -> next state``.

Every state change goes through :func:`transition`, which refuses anything the table does
not allow (409 ``CONFLICT``) and records the change with its time and reason. The state
diagram in docs/instance-lifecycle.md is generated from this table (``saas docs
lifecycles``; core/lifecycle.py).
"""

from __future__ import annotations

import enum
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.lifecycle import Lifecycle
from saas_server.instances.models import Instance, InstanceStatus, InstanceTransition
from saas_server.tenants.lifecycle import follow_instance
from saas_server.tenants.models import Tenant, TenantStatus

S = InstanceStatus


class Action(enum.StrEnum):
    PROVISION = "provision"  # a host was chosen: the provisioning flow runs
    WAIT = "wait"  # no healthy host with room: wait for one
    SUCCEED = "succeed"  # the database is up and proven by a login
    FAIL = "fail"  # a step failed for good
    RETRY = "retry"  # resume a failed provisioning where it stopped
    STOP = "stop"
    START = "start"
    RESTART = "restart"
    DELETE = "delete"
    PURGE = "purge"  # the deletion flow dropped the database
    RESTORE = "restore"  # a backup is being put back (backups/restore flow)
    RESTORED = "restored"  # the restore ended: on the backup's data, or rolled back
    MOVE = "move"  # a move to another host was asked for (moves/ flow)
    MOVED = "moved"  # the move ended: on the target host, or rolled back to the source


TRANSITIONS: dict[tuple[InstanceStatus, Action], InstanceStatus] = {
    (S.PENDING, Action.PROVISION): S.PROVISIONING,
    (S.PENDING, Action.WAIT): S.PENDING,
    (S.PENDING, Action.FAIL): S.FAILED,
    (S.PROVISIONING, Action.SUCCEED): S.READY,
    (S.PROVISIONING, Action.FAIL): S.FAILED,
    (S.PROVISIONING, Action.WAIT): S.PENDING,
    (S.FAILED, Action.RETRY): S.PENDING,
    (S.READY, Action.STOP): S.STOPPED,
    (S.READY, Action.RESTART): S.READY,
    (S.STOPPED, Action.START): S.READY,
    (S.READY, Action.RESTORE): S.RESTORING,
    (S.STOPPED, Action.RESTORE): S.RESTORING,
    (S.RESTORING, Action.RESTORED): S.READY,
    # The restore and its rollback both failed: the pre_restore backup holds the old data.
    (S.RESTORING, Action.FAIL): S.FAILED,
    # Only a ready instance moves; a failed move puts it back on its source, ready again.
    (S.READY, Action.MOVE): S.MOVING,
    (S.MOVING, Action.MOVED): S.READY,
    (S.PENDING, Action.DELETE): S.DELETING,
    (S.READY, Action.DELETE): S.DELETING,
    (S.STOPPED, Action.DELETE): S.DELETING,
    (S.FAILED, Action.DELETE): S.DELETING,
    (S.DELETING, Action.FAIL): S.DELETING,
    (S.DELETING, Action.PURGE): S.DELETED,
}

TENANT_STATUS: dict[InstanceStatus, str] = {
    S.PENDING: TenantStatus.PROVISIONING.value,
    S.PROVISIONING: TenantStatus.PROVISIONING.value,
    S.READY: TenantStatus.READY.value,
    S.FAILED: TenantStatus.FAILED.value,
    S.STOPPED: TenantStatus.STOPPED.value,
    S.RESTORING: TenantStatus.RESTORING.value,
    # The tenant stays ready: it serves until the source closes, and again from wherever
    # the move ends (its instance shows the move).
    S.MOVING: TenantStatus.READY.value,
    S.DELETING: TenantStatus.DELETING.value,
    S.DELETED: TenantStatus.DELETED.value,
}

# What the API's POST /instances/{id}/actions accepts.
USER_ACTIONS = frozenset({Action.START, Action.STOP, Action.RESTART, Action.RETRY})


INSTANCE: Lifecycle[InstanceStatus, Action] = Lifecycle(
    "instance",
    TRANSITIONS,
    initial=(S.PENDING,),
    final=(S.DELETED,),
    user_actions=USER_ACTIONS,
    source="saas_server/instances/lifecycle.py",
    description="""\
Users may ask for `start`, `stop`, `restart` and `retry`
(`POST /api/v1/instances/{id}/actions`); anything the table does not allow in the
current state answers 409 `CONFLICT` with the allowed actions in `details`. Every change
is recorded with its time and reason (`GET /api/v1/instances/{id}/transitions`).
A restore (`POST /api/v1/tenants/{id}/backups/{backup_id}/restore`) takes a ready or
stopped instance to `restoring` and back to `ready`, on the backup's data or, when a step
failed, rolled back to its previous data; only when the rollback fails too does it end
`failed`, with the `pre_restore` backup holding the old data.
A platform admin's move to another host (`POST /api/v1/admin/tenants/{id}/actions` with
`migrate`) takes a ready instance to `moving` when it is asked for; the move flow takes it
back to `ready` when it ends, on the target host, or on the source when a step failed and
was rolled back. A moving instance is not stopped, started, restarted, restored or deleted
(409; for the actions and the deletion `details.reason` is `move_running`).""",
)


def allowed_actions(status: str) -> list[str]:
    return INSTANCE.allowed_actions(status)


def next_status(status: str, action: Action) -> InstanceStatus:
    return INSTANCE.next_status(status, action)


async def transition(
    session: AsyncSession,
    instance: Instance,
    action: Action,
    reason: str | None = None,
    *,
    actor_id: uuid.UUID | None = None,
) -> InstanceStatus:
    previous = instance.status
    target = INSTANCE.apply(instance, action)
    session.add(
        InstanceTransition(
            instance_id=instance.id,
            action=action.value,
            from_status=previous,
            to_status=target.value,
            reason=reason,
            actor_id=actor_id,
            at=clock.now(),
        )
    )
    instance.status_reason = reason
    if instance.kind == "production":
        # The tenant shows its production instance's state (and is filtered by it).
        tenant = await session.get(Tenant, instance.tenant_id)
        if tenant is not None:
            follow_instance(tenant, TENANT_STATUS[target])
    await session.flush()
    return target


def mermaid() -> str:
    return INSTANCE.mermaid()
