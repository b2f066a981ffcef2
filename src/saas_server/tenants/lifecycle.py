"""The tenant lifecycle as one transition table: ``(status, action) -> next status``.

A tenant shows the state of its production database: its status follows the instance's
(``follow_instance``, called by the instance lifecycle on every production transition), and
moves on its own only when it is created (``provisioning``) or deleted with no database to
take down (``delete_at_once``). Suspension is ``is_active``, not a status. Every change goes
through :data:`TENANT_LIFECYCLE`; the diagram in docs/tenant-lifecycle.md is generated from
it (``TENANT_LIFECYCLE.mermaid()``) and a test fails when the page is stale.
"""

from __future__ import annotations

import enum

from saas_server.core.errors import Conflict
from saas_server.core.lifecycle import Lifecycle
from saas_server.tenants.models import Tenant, TenantStatus

S = TenantStatus


class Action(enum.StrEnum):
    FAIL = "fail"  # its database failed to provision, or a restore and its rollback failed
    SUCCEED = "succeed"  # its database is up
    RETRY = "retry"  # a failed provisioning is retried
    STOP = "stop"
    START = "start"
    RESTORE = "restore"  # a backup is being put back into its database
    RESTORED = "restored"
    DELETE = "delete"  # its database is being taken down
    PURGE = "purge"  # its database is dropped
    DELETE_AT_ONCE = "delete_at_once"  # deleted with no database to take down


TRANSITIONS: dict[tuple[TenantStatus, Action], TenantStatus] = {
    (S.PROVISIONING, Action.SUCCEED): S.READY,
    (S.PROVISIONING, Action.FAIL): S.FAILED,
    (S.FAILED, Action.RETRY): S.PROVISIONING,
    (S.READY, Action.STOP): S.STOPPED,
    (S.STOPPED, Action.START): S.READY,
    (S.READY, Action.RESTORE): S.RESTORING,
    (S.STOPPED, Action.RESTORE): S.RESTORING,
    (S.RESTORING, Action.RESTORED): S.READY,
    (S.RESTORING, Action.FAIL): S.FAILED,
    (S.PROVISIONING, Action.DELETE): S.DELETING,
    (S.READY, Action.DELETE): S.DELETING,
    (S.STOPPED, Action.DELETE): S.DELETING,
    (S.FAILED, Action.DELETE): S.DELETING,
    (S.DELETING, Action.PURGE): S.DELETED,
    # Whatever its status, a tenant without a database has nothing to wait for.
    (S.PROVISIONING, Action.DELETE_AT_ONCE): S.DELETED,
    (S.READY, Action.DELETE_AT_ONCE): S.DELETED,
    (S.STOPPED, Action.DELETE_AT_ONCE): S.DELETED,
    (S.FAILED, Action.DELETE_AT_ONCE): S.DELETED,
    (S.RESTORING, Action.DELETE_AT_ONCE): S.DELETED,
}

TENANT_LIFECYCLE: Lifecycle[TenantStatus, Action] = Lifecycle(
    "tenant",
    TRANSITIONS,
    initial=[S.PROVISIONING],
    final=[S.DELETED],
    source="saas_server/tenants/lifecycle.py",
    description="""\
A tenant shows the state of its production instance
([instance lifecycle](instance-lifecycle.md)): every instance transition moves the tenant
along this table (`follow_instance`), and a transition that keeps the tenant's status (a
restart, a wait for a host, a retried deletion step) changes nothing. On its own a tenant
only starts `provisioning` when it is created, and is `deleted` at once (`delete_at_once`)
when its owner deletes it before it has a database. Suspending a tenant is `is_active`, not a
status. A deleted tenant stays readable by its owners, and keeps its subdomain, until its
grace period ends (`grace_ends_at`); then it is purged.
""",
)


def follow_instance(tenant: Tenant, status: str) -> None:
    """Show ``status``, the tenant status of its production instance's new state.

    The instance's own table decides what may happen; this finds the tenant's action that
    leads there, and refuses (409) a move the tenant table does not have. A transition
    that keeps the instance's tenant status (a restart, a wait, a retried deletion step)
    changes nothing."""
    target = TenantStatus(status)
    if tenant.status == target.value:
        return
    for (state, action), found in TRANSITIONS.items():
        if state.value == tenant.status and found is target:
            TENANT_LIFECYCLE.apply(tenant, action)
            return
    raise Conflict(
        f"A tenant that is {tenant.status} cannot become {target.value}",
        details={
            "status": tenant.status,
            "target": target.value,
            "allowed_actions": TENANT_LIFECYCLE.allowed_actions(tenant.status),
        },
    )
