"""The tenant lifecycle as one transition table: ``(status, action) -> next status``.

A tenant shows the state of its production database: its status follows the instance's
(``follow_instance``, called by the instance lifecycle on every production transition), and
moves on its own only when it is created (``provisioning``) or deleted with no database to
take down (``delete_at_once``), and when billing suspends it (``suspend``: an invoice went
unpaid through dunning) or resumes it (``resume_*``: the invoice is paid). While it is
``suspended`` its instance's moves do not show, save its deletion. ``is_active`` stays the
tenant record's own switch (seed 003's ``PUT /tenants``), set only by platform admins.
Every change goes through :data:`TENANT_LIFECYCLE`; the diagram in docs/tenant-lifecycle.md
is generated from it (``TENANT_LIFECYCLE.mermaid()``) and a test fails when it is stale.
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
    SUSPEND = "suspend"  # billing: an invoice went unpaid through dunning (instance stopped)
    # Billing: the invoice is paid; the tenant shows its instance again, wherever that is
    # (stopped by the suspension, usually: the caller then starts it).
    RESUME_STOPPED = "resume_stopped"
    RESUME_READY = "resume_ready"
    RESUME_PROVISIONING = "resume_provisioning"
    RESUME_FAILED = "resume_failed"
    RESUME_RESTORING = "resume_restoring"


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
    # Billing suspends a tenant whatever its database is doing; its instance is stopped
    # (when it runs) and stays so until the tenant resumes (stopped) and it is started.
    (S.PROVISIONING, Action.SUSPEND): S.SUSPENDED,
    (S.READY, Action.SUSPEND): S.SUSPENDED,
    (S.STOPPED, Action.SUSPEND): S.SUSPENDED,
    (S.FAILED, Action.SUSPEND): S.SUSPENDED,
    (S.RESTORING, Action.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, Action.RESUME_STOPPED): S.STOPPED,
    (S.SUSPENDED, Action.RESUME_READY): S.READY,
    (S.SUSPENDED, Action.RESUME_PROVISIONING): S.PROVISIONING,
    (S.SUSPENDED, Action.RESUME_FAILED): S.FAILED,
    (S.SUSPENDED, Action.RESUME_RESTORING): S.RESTORING,
    (S.SUSPENDED, Action.DELETE): S.DELETING,
    (S.SUSPENDED, Action.DELETE_AT_ONCE): S.DELETED,
}

# Where a suspended tenant still follows its instance: only into its deletion.
FOLLOWED_WHILE_SUSPENDED = frozenset({S.DELETING, S.DELETED})

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
when its owner deletes it before it has a database. Billing `suspend`s a tenant whose
invoice went unpaid through dunning (docs/billing.md): its instance is stopped, and while it
is `suspended` its instance's moves do not show (no one may start it), save its deletion.
Paying the invoice resumes it where its instance is (`resume_<status>`): `stopped`, usually,
and then its instance is started (`ready`).
`is_active` is not a status: it stays the tenant record's own switch, which only platform
admins set. A deleted tenant stays readable by its owners, and keeps its subdomain, until its
grace period ends (`grace_ends_at`); then it is purged.
""",
)


def follow_instance(tenant: Tenant, status: str) -> None:
    """Show ``status``, the tenant status of its production instance's new state.

    The instance's own table decides what may happen; this finds the tenant's action that
    leads there, and refuses (409) a move the tenant table does not have. A transition
    that keeps the instance's tenant status (a restart, a wait, a retried deletion step)
    changes nothing. A suspended tenant follows only into its deletion."""
    target = TenantStatus(status)
    if tenant.status == target.value:
        return
    if tenant.status == S.SUSPENDED.value and target not in FOLLOWED_WHILE_SUSPENDED:
        return  # stays suspended until billing resumes it
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


def suspend(tenant: Tenant) -> bool:
    """Billing suspends the tenant (an unpaid invoice); False when it already is (or is
    being deleted, when there is nothing left to suspend)."""
    if tenant.status == S.SUSPENDED.value or tenant.status in (S.DELETING, S.DELETED):
        return False
    TENANT_LIFECYCLE.apply(tenant, Action.SUSPEND)
    return True


def resume(tenant: Tenant, instance_status: str | None) -> bool:
    """Billing resumes the tenant (its invoice is paid): it shows its production instance
    again (``instance_status``, that instance's tenant status; ``stopped``, usually, which
    the caller then starts; ``provisioning`` without an instance). False when it was not
    suspended."""
    if tenant.status != S.SUSPENDED.value:
        return False
    target = TenantStatus(instance_status or S.PROVISIONING.value)
    for (state, action), found in TRANSITIONS.items():
        if state is S.SUSPENDED and found is target and action.startswith("resume_"):
            TENANT_LIFECYCLE.apply(tenant, action)
            return True
    # Its instance is being deleted: so is the tenant, as soon as that move shows.
    return False
