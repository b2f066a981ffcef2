"""The deletion of an instance's database, a flow of named, checkpointed steps (core/flows.py):

    delete: close -> pre_delete_backup -> drop_database, then the instance is purged

Each step first checks whether its effect is already there, so a job killed at any point
is finished by the next worker. A step that fails leaves the instance deleting with the
step's name, and the job is retried from the last completed step. The backup before the
drop is the backups package's, reached through the required hook ``PRE_DELETE_BACKUP``
(decision 0007: instances never imports backups).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from saas_server.core import clock
from saas_server.core.crypto import derive_key
from saas_server.core.errors import AppError
from saas_server.core.flows import Flow, Progress, StepError, StepResult
from saas_server.core.hooks import Hook
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.instances.flows import StepFailed, checkpoint
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.lifecycle import Action, transition
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.odoo.driver import OdooDriver
from saas_server.tenants.lifecycle import follow_instance
from saas_server.tenants.models import Tenant, TenantStatus

# Fired by the deletion's pre_delete_backup step with (runtime, instance_id, the closed
# database's name): the backups package archives the database before it is dropped, and
# raises when it cannot (the deletion then waits and retries). Required: a process that
# was not wired never drops a database without its backup.
PRE_DELETE_BACKUP: Hook[[Runtime, uuid.UUID, str]] = Hook(
    "instances.pre_delete_backup", required=True
)


@dataclass
class DeleteContext:
    runtime: Runtime
    instance_id: uuid.UUID
    database: str
    # Where close moved the database: see closed_name.
    closed: str
    driver: OdooDriver


def closed_name(runtime: Runtime, instance_id: uuid.UUID) -> str:
    """The name a database being deleted is moved to: derived from a key only the platform
    holds, so no one who knew the tenant's database can name it (and each rerun of the flow
    finds it again). Odoo's rules for names: letters, digits, ``_.-``, under 64 characters."""
    key = derive_key(runtime.secret_key, "closed-database-name")
    return "deleting-" + hmac.new(key, instance_id.bytes, hashlib.sha256).hexdigest()[:32]


async def close(context: DeleteContext) -> StepResult:
    """End access for good before anything else: the database is stopped (when the host
    gives SQL access; the request that accepted the deletion did so already) and renamed to
    :func:`closed_name`, so no login by its old name can succeed again, even while the
    backup, which needs the database open, reads it."""
    driver, database, closed = context.driver, context.database, context.closed
    if await driver.database_exists(database):
        if driver.can_stop:
            await driver.stop(database)
        # Odoo's own rename: it ends the database's sessions and moves the filestore along.
        await driver.rename(database, closed)
    elif driver.can_stop and await driver.database_exists(closed):
        await driver.stop(closed)  # a backup cut short by a crash left it open
    return None


async def pre_delete_backup(context: DeleteContext) -> StepResult:
    """An archive of the closed database, by whoever is connected to PRE_DELETE_BACKUP (the
    backups package); it reuses one a killed run completed."""
    if await context.driver.database_exists(context.closed):
        await PRE_DELETE_BACKUP.fire(context.runtime, context.instance_id, context.closed)
    return None


async def drop_database(context: DeleteContext) -> StepResult:
    driver = context.driver
    for name in (context.closed, context.database):  # the old name only if recreated
        if not await driver.drop_and_confirm(name):
            raise StepFailed(f"Odoo did not drop the database {name}")
    return None


DELETE: Flow[DeleteContext] = Flow("delete", (close, pre_delete_backup, drop_database))
DELETE_STEPS = DELETE.step_names


async def delete(runtime: Runtime, instance_id: uuid.UUID) -> None:
    """Run (or resume) the deletion flow, then purge the instance.

    A failing step leaves the instance deleting, with the step in ``error``, and raises:
    the job is retried and goes on after the last recorded step.
    """
    async with runtime.db.sessionmaker() as session:
        instance = await session.get(Instance, instance_id)
        if instance is None or instance.status != InstanceStatus.DELETING.value:
            return
        host = await session.get(OdooHost, instance.host_id) if instance.host_id else None
        database = instance.database_name
        done = instance.step if instance.step in DELETE.step_names else None
    if host is not None:
        context = DeleteContext(
            runtime=runtime,
            instance_id=instance_id,
            database=database,
            closed=closed_name(runtime, instance_id),
            driver=driver_for(runtime, host),
        )

        async def record(progress: Progress) -> None:
            # The last step needs none: the purge records it with the state change.
            if progress.step != DELETE.last:
                await checkpoint(runtime, instance_id, progress.step)

        try:
            await DELETE.run(context, settings=runtime.settings, done=done, record=record)
        except StepError as failed:
            async with runtime.db.transaction() as session:
                instance = await session.get(Instance, instance_id, with_for_update=True)
                assert instance is not None
                exc = failed.error
                message = exc.message if isinstance(exc, AppError) else str(exc)
                await transition(
                    session, instance, Action.FAIL, f"Step {failed.step} failed: {message}"
                )
                instance.error = {
                    "code": "DELETION_FAILED",
                    "step": failed.step,
                    "message": message,
                }
            raise failed.error from None
        finally:
            await context.driver.close()
    await _purge(runtime, instance_id)


async def _purge(runtime: Runtime, instance_id: uuid.UUID) -> None:
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, instance_id, with_for_update=True)
        assert instance is not None
        await transition(session, instance, Action.PURGE, "Database dropped")
        instance.deleted_at = clock.now()
        instance.error = None
        instance.step = DELETE.last
        instance.flow = None
        tenant = await session.get(Tenant, instance.tenant_id)
        await events.emit(
            session,
            events.TENANT_DELETED,
            {"tenant_id": str(instance.tenant_id), "instance_id": str(instance.id)},
            tenant_id=instance.tenant_id,
        )
        if tenant is not None and tenant.status != TenantStatus.DELETED.value:
            # The purge moved a production instance's tenant already (transition); any
            # other instance's tenant follows here, through the tenant table.
            follow_instance(tenant, TenantStatus.DELETED.value)
