"""Instances: creation with their tenant, lifecycle actions, and what the API shows.

Long work (provisioning, deletion) runs in jobs deferred in the same transaction as the
state change; the quick lifecycle actions (stop, start, restart: one SQL statement on the
host) run in the request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import NotFound
from saas_server.core.hooks import Hook
from saas_server.core.jobs import defer, defer_many
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.lifecycle import Action, next_status, transition
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.tenants.models import Tenant
from saas_server.tenants.tiers import expiry_for, grant_for

logger = logging.getLogger(__name__)

# Fired before an instance action (stop, start, restart, retry) or a deletion touches the
# instance: a handler raises (409) to refuse it while other work holds the database (a move
# between hosts, moves/).
instance_changing: Hook[[AsyncSession, Instance, Action]] = Hook("instance_changing")
# Fired in the transaction in which a long flow (a provisioning, a restore, or a restore's
# rollback) leaves a production or staging instance ``ready`` again, its row locked: a higher
# package may stop it there (billing: its tenant was suspended while the flow ran).
instance_settled: Hook[[AsyncSession, Runtime, Instance]] = Hook("instance_settled")

PROVISION_TASK = "instances.provision"
DELETE_TASK = "instances.delete"
APPLY_TIER_TASK = "instances.apply_tier"
# What the API promises for a new tenant: a clone takes about a second, a fresh database
# on a real host 10 to 20 s.
ESTIMATED_PROVISIONING = timedelta(seconds=30)
# An instance in these states may have a database someone logs into: a deletion closes it
# at once (a provisioning one is closed by the job, after the provisioning lock).
CLOSE_TIMEOUT_SECONDS = 5.0
CLOSABLE_STATES = (
    InstanceStatus.READY.value,
    InstanceStatus.STOPPED.value,
    InstanceStatus.FAILED.value,
)


class InstanceNotFound(NotFound):
    code = "INSTANCE_NOT_FOUND"
    message = "Instance not found"


def generate_admin_password() -> str:
    return secrets.token_urlsafe(18)


async def defer_provisioning(session: AsyncSession, instance_id: uuid.UUID) -> None:
    # One provisioning job per instance at a time; a second request while one waits is a no-op.
    await defer(
        session,
        PROVISION_TASK,
        queue="provisioning",
        lock=f"instance:{instance_id}",
        queueing_lock=f"provision:{instance_id}",
        instance_id=str(instance_id),
    )


async def create_for_tenant(
    session: AsyncSession,
    runtime: Runtime,
    tenant: Tenant,
    *,
    odoo_version: str,
    admin_login: str,
    admin_password: str | None,
) -> Instance:
    instance = Instance(
        tenant_id=tenant.id,
        kind="production",
        database_name=tenant.subdomain,
        odoo_version=odoo_version,
        status=InstanceStatus.PENDING.value,
        status_reason="Waiting for the provisioning job",
        flow="provision",
        admin_login=admin_login,
        admin_password_encrypted=runtime.secrets.encrypt(
            admin_password or generate_admin_password()
        ),
        # A generated password may yet become a standby database's (hosts/standby.py).
        admin_password_provisional=admin_password is None,
        lang=tenant.settings.get("language") or "en_US",
        timezone=tenant.settings.get("timezone") or "UTC",
        expires_at=expiry_for(await grant_for(session, tenant.tier), clock.now()),
    )
    session.add(instance)
    await session.flush()
    await defer_provisioning(session, instance.id)
    return instance


async def production_instance(session: AsyncSession, tenant_id: uuid.UUID) -> Instance | None:
    return (
        await session.execute(
            select(Instance)
            .where(Instance.tenant_id == tenant_id, Instance.kind == "production")
            .order_by(Instance.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def production_instances(
    session: AsyncSession, tenant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[Instance, OdooHost | None]]:
    """Each tenant's production instance with its host, for a whole page in one statement."""
    if not tenant_ids:
        return {}
    rows = await session.execute(
        select(Instance, OdooHost)
        .outerjoin(OdooHost, OdooHost.id == Instance.host_id)
        .where(Instance.tenant_id.in_(tenant_ids), Instance.kind == "production")
        # DISTINCT ON keeps the first row of each tenant: its newest, as production_instance.
        .ext(distinct_on(Instance.tenant_id))
        .order_by(Instance.tenant_id, Instance.created_at.desc())
    )
    return {instance.tenant_id: (instance, host) for instance, host in rows}


async def resume_waiting(session: AsyncSession, runtime: Runtime, odoo_version: str) -> int:
    """Defer provisioning for every instance waiting for a host of ``odoo_version``."""
    waiting = (
        await session.execute(
            select(Instance.id).where(
                Instance.status == InstanceStatus.PENDING.value,
                Instance.odoo_version == odoo_version,
            )
        )
    ).scalars()
    count = 0
    for instance_id in waiting:
        await defer_provisioning(session, instance_id)
        count += 1
    return count


def estimated_completion(instance: Instance) -> datetime | None:
    if instance.status in (InstanceStatus.PENDING.value, InstanceStatus.PROVISIONING.value):
        return instance.created_at + ESTIMATED_PROVISIONING
    return None


def instance_url(
    runtime: Runtime, instance: Instance, host: OdooHost | None, subdomain: str
) -> str | None:
    base_domain = runtime.settings.base_domain
    if base_domain:
        return f"https://{subdomain}.{base_domain}"
    if host is None:
        return None
    # No domain of our own: point straight at the host, selecting the database.
    return f"{host.url}/web?db={instance.database_name}"


class InstanceService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime

    async def get(self, instance_id: uuid.UUID) -> Instance:
        instance = await self.session.get(Instance, instance_id)
        if instance is None:
            raise InstanceNotFound()
        return instance

    async def host_of(self, instance: Instance) -> OdooHost | None:
        return await self.session.get(OdooHost, instance.host_id) if instance.host_id else None

    async def act(self, instance: Instance, action: Action, actor_id: uuid.UUID | None) -> Instance:
        # A running move answers first (409 with its reason), then the table (409 before
        # touching the host).
        await instance_changing.fire(self.session, instance, action)
        next_status(instance.status, action)
        if action is Action.RETRY:
            await transition(self.session, instance, action, "Retry requested", actor_id=actor_id)
            instance.error = None
            await defer_provisioning(self.session, instance.id)
            return instance
        host = await self.host_of(instance)
        assert host is not None  # ready and stopped instances have a host
        driver = driver_for(self.runtime, host)
        try:
            if action is Action.STOP:
                await driver.stop(instance.database_name)
                instance.stopped_at = clock.now()
                event = events.INSTANCE_STOPPED
            elif action is Action.START:
                await driver.start(instance.database_name)
                instance.stopped_at = None
                event = events.INSTANCE_STARTED
            else:
                await driver.restart(instance.database_name)
                event = events.INSTANCE_STARTED
        finally:
            await driver.close()
        await transition(
            self.session, instance, action, f"{action.value} requested", actor_id=actor_id
        )
        await events.emit(
            self.session,
            event,
            {
                "instance_id": str(instance.id),
                "tenant_id": str(instance.tenant_id),
                "action": action.value,
            },
            tenant_id=instance.tenant_id,
        )
        return instance

    async def request_deletion(self, instance: Instance, actor_id: uuid.UUID | None) -> None:
        """Accept the deletion: the database is closed here, before the answer, so no one
        logs in from the moment it is accepted; the job then backs it up and drops it."""
        if instance.status in (InstanceStatus.DELETING.value, InstanceStatus.DELETED.value):
            return
        await instance_changing.fire(self.session, instance, Action.DELETE)
        previous = instance.status
        await transition(self.session, instance, Action.DELETE, "Tenant deleted", actor_id=actor_id)
        instance.flow = "delete"
        instance.step = None
        if previous in CLOSABLE_STATES:
            await self._close_at_once(instance)
        await defer(
            self.session,
            DELETE_TASK,
            queue="provisioning",
            lock=f"instance:{instance.id}",
            queueing_lock=f"delete:{instance.id}",
            instance_id=str(instance.id),
        )

    async def _close_at_once(self, instance: Instance) -> None:
        # One SQL statement on the host, as a stop is. Without SQL access, or when the host
        # does not answer, the deletion job's first step (close) does it.
        host = await self.host_of(instance)
        if host is None or host.postgres_url_encrypted is None:
            return
        driver = driver_for(self.runtime, host)

        async def close() -> None:
            if await driver.database_exists(instance.database_name):  # a failed one may not
                await driver.stop(instance.database_name)

        try:
            await asyncio.wait_for(close(), CLOSE_TIMEOUT_SECONDS)
        except Exception as exc:  # the job's close step retries; the deletion stands
            logger.warning(
                "closing %s at deletion failed, left to the job: %s", instance.database_name, exc
            )
        finally:
            await driver.close()

    async def apply_tier(self, instance: Instance, tier: str) -> None:
        """A tier change moves the expiry; a job writes it into the Odoo database."""
        instance.expires_at = expiry_for(await grant_for(self.session, tier), clock.now())
        if instance.status in (InstanceStatus.READY.value, InstanceStatus.STOPPED.value):
            await defer(
                self.session,
                APPLY_TIER_TASK,
                queue="provisioning",
                lock=f"instance:{instance.id}",
                instance_id=str(instance.id),
                tier=tier,
            )

    async def apply_tiers(self, changes: Sequence[tuple[Instance, str]]) -> None:
        """:meth:`apply_tier` for many instances: each tier's grant read once, the jobs
        deferred in one statement."""
        grants = {tier: await grant_for(self.session, tier) for tier in {t for _, t in changes}}
        now = clock.now()
        jobs: list[tuple[dict[str, Any], str | None]] = []
        for instance, tier in changes:
            instance.expires_at = expiry_for(grants[tier], now)
            if instance.status in (InstanceStatus.READY.value, InstanceStatus.STOPPED.value):
                jobs.append(
                    ({"instance_id": str(instance.id), "tier": tier}, f"instance:{instance.id}")
                )
        await defer_many(
            self.session,
            APPLY_TIER_TASK,
            [args for args, _ in jobs],
            queue="provisioning",
            locks=[lock for _, lock in jobs],
        )

    def admin_password(self, instance: Instance) -> str:
        return self.runtime.secrets.decrypt(instance.admin_password_encrypted)

    def summary(
        self, instance: Instance, host: OdooHost | None, subdomain: str, *, with_password: bool
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": instance.id,
            "tenant_id": instance.tenant_id,
            "kind": instance.kind,
            "status": instance.status,
            "status_reason": instance.status_reason,
            "url": instance_url(self.runtime, instance, host, subdomain),
            "database": instance.database_name,
            "odoo_version": instance.odoo_version,
            "host": ({"id": host.id, "name": host.name} if host else None),
            "admin_login": instance.admin_login,
            "step": instance.step,
            "error": instance.error,
            "expires_at": instance.expires_at,
            "created_at": instance.created_at,
            "updated_at": instance.updated_at,
            "ready_at": instance.ready_at,
            "estimated_completion": estimated_completion(instance),
        }
        if with_password:
            # A generated password is shown once provisioning has settled on it (a standby
            # database comes with its own).
            data["admin_password"] = (
                None if instance.admin_password_provisional else self.admin_password(instance)
            )
        return data


async def resource_tenant(runtime: Runtime, kind: str, raw_id: str) -> uuid.UUID | None:
    """The tenant of an instance named by a path (None: no such instance), for auth's check
    of API keys confined to one tenant (it reads on a short session of its own: the
    principal is resolved before the request's)."""
    if kind != "instance":
        return None
    try:
        instance_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    async with runtime.db.transaction() as session:
        return await session.scalar(select(Instance.tenant_id).where(Instance.id == instance_id))
