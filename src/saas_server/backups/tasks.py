from __future__ import annotations

import uuid
from datetime import timedelta

import procrastinate

from saas_server.backups import flows, retention
from saas_server.backups import restore as restore_flow
from saas_server.backups.lifecycle import RESTORE, RestoreAction
from saas_server.backups.models import Restore
from saas_server.backups.service import (
    BACKUP_TASK,
    EXPIRE_TASK,
    RESTORE_TASK,
    SCHEDULE_TASK,
    defer_restore,
    schedule_due_backups,
)
from saas_server.core import clock
from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.instances.models import Instance, InstanceStatus

# A restore into a new tenant waits this long between looks at its provisioning.
WAIT_FOR_PROVISIONING = timedelta(seconds=2)


@jobs_app.task(name=BACKUP_TASK, queue="backups", pass_context=True)
async def run_backup(context: procrastinate.JobContext, *, backup_id: str) -> None:
    # The outcome, failed included, is recorded on the backup row; a killed worker's job
    # is retried by the stalled-job sweep and starts the archive again.
    await flows.run_backup(runtime_of(context), uuid.UUID(backup_id))


@jobs_app.task(name=RESTORE_TASK, queue="backups", pass_context=True)
async def run_restore(context: procrastinate.JobContext, *, restore_id: str) -> None:
    runtime = runtime_of(context)
    async with runtime.db.transaction() as session:
        restore = await session.get(Restore, uuid.UUID(restore_id))
        if restore is None:
            return
        instance = await session.get(Instance, restore.instance_id)
        assert instance is not None
        if instance.status in (InstanceStatus.PENDING.value, InstanceStatus.PROVISIONING.value):
            # Restoring into a new tenant: once its database is there.
            await defer_restore(session, restore, scheduled_at=clock.now() + WAIT_FOR_PROVISIONING)
            return
        if instance.status not in (
            InstanceStatus.READY.value,
            InstanceStatus.STOPPED.value,
            InstanceStatus.RESTORING.value,
        ):
            RESTORE.apply(restore, RestoreAction.FAIL)
            restore.error = {
                "code": "CONFLICT",
                "message": f"The instance is {instance.status}; nothing was restored",
            }
            restore.completed_at = clock.now()
            return
    await restore_flow.run_restore(runtime, uuid.UUID(restore_id))


@jobs_app.task(name=SCHEDULE_TASK, queue="maintenance", pass_context=True)
async def schedule_backups(context: procrastinate.JobContext) -> None:
    await schedule_due_backups(runtime_of(context))


@jobs_app.task(name=EXPIRE_TASK, queue="maintenance", pass_context=True)
async def expire_backups(context: procrastinate.JobContext) -> None:
    await retention.expire_backups(runtime_of(context))
