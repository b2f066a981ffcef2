"""Restoring a backup: the restore flow, run by jobs (or inline by the CLI).

    restore: validate -> pre_restore -> stop -> drop -> restore -> verify -> start
             any failure after pre_restore: roll back to the pre_restore archive, ready

A restore touches nothing live until the archive is proven (checksum, zip, manifest,
version) and the current state is archived. Every step is checkpointed on the restore row;
a job killed halfway is resumed by another worker from the last completed step.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saas_server.audit import service as audit
from saas_server.backups.archive import (
    ArchiveInvalid,
    ArchiveLimits,
    inspect_archive,
    major_version,
)
from saas_server.backups.flows import (
    BackupFailed,
    Progress,
    error_of,
    message_of,
    new_backup,
    run_backup,
    storage_of,
)
from saas_server.backups.lifecycle import RESTORE, RestoreAction
from saas_server.backups.models import Backup, BackupStatus, BackupType, Restore, RestoreStatus
from saas_server.core import clock
from saas_server.core.errors import AppError
from saas_server.core.flows import Flow, StepError, StepResult
from saas_server.core.flows import Progress as FlowProgress
from saas_server.core.runtime import Runtime
from saas_server.events import progress
from saas_server.events import service as events
from saas_server.instances.flows import INSTANCE_READY
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.lifecycle import Action, transition
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.instances.service import instance_settled, instance_url
from saas_server.odoo.driver import Credentials, OdooDriver
from saas_server.tenants.models import Tenant

logger = logging.getLogger(__name__)


class RestoreFailed(AppError):
    status_code = 500
    code = "RESTORE_FAILED"
    message = "Restore failed"


@dataclass
class RestoreContext:
    runtime: Runtime
    restore_id: uuid.UUID
    instance_id: uuid.UUID
    database: str
    backup: Backup
    driver: OdooDriver
    host_has_sql: bool
    instance_admin: Credentials
    as_copy: bool
    workdir: Path
    on_progress: Progress | None

    @property
    def archive_path(self) -> Path:
        return self.workdir / f"restore-{self.restore_id}.zip"

    @property
    def backup_admin(self) -> Credentials:
        return Credentials(
            self.backup.admin_login,
            self.runtime.secrets.decrypt(self.backup.admin_password_encrypted),
        )


async def run_restore(
    runtime: Runtime, restore_id: uuid.UUID, *, on_progress: Progress | None = None
) -> Restore:
    """Run (or resume) the restore ``restore_id``; returns its row at the end."""
    async with runtime.db.transaction() as session:
        restore = await session.get(Restore, restore_id, with_for_update=True)
        if restore is None:
            raise RestoreFailed("No such restore")
        if restore.status not in (RestoreStatus.PENDING.value, RestoreStatus.RUNNING.value):
            return restore
        instance = await session.get(Instance, restore.instance_id, with_for_update=True)
        backup = await session.get(Backup, restore.backup_id) if restore.backup_id else None
        assert instance is not None
        if backup is None or backup.status != BackupStatus.COMPLETED.value:
            await _end_restore(
                session,
                restore,
                instance,
                RestoreStatus.FAILED,
                ArchiveInvalid("The backup is gone"),
            )
            if instance.status == InstanceStatus.READY.value:
                await instance_settled.fire(session, runtime, instance)
            return restore
        if instance.status != InstanceStatus.RESTORING.value:
            # A restore into a new tenant waits for its provisioning, then takes the instance.
            await transition(session, instance, Action.RESTORE, f"Restoring backup {backup.id}")
        RESTORE.apply(restore, RestoreAction.START)
        restore.started_at = restore.started_at or clock.now()
        host = await session.get(OdooHost, instance.host_id) if instance.host_id else None
        assert host is not None
        context = RestoreContext(
            runtime=runtime,
            restore_id=restore_id,
            instance_id=instance.id,
            database=instance.database_name,
            backup=backup,
            driver=driver_for(runtime, host),
            host_has_sql=host.postgres_url_encrypted is not None,
            instance_admin=Credentials(
                instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
            ),
            as_copy=restore.as_copy,
            workdir=runtime.settings.data_dir / "tmp",
            on_progress=on_progress,
        )
        done = restore.step
        tenant_id = restore.tenant_id
    context.workdir.mkdir(parents=True, exist_ok=True)

    async def record(progress: FlowProgress) -> None:
        async with runtime.db.transaction() as session:
            restore = await session.get(Restore, restore_id, with_for_update=True)
            assert restore is not None
            restore.step = progress.step
            restore.progress = progress.completed * 95 // progress.total
        if context.on_progress is not None:
            await context.on_progress(progress.completed * 95 // progress.total)

    try:
        try:
            await RESTORE_FLOW.run(
                context,
                settings=runtime.settings,
                done=done,
                record=record,
                announce=progress.announcer(
                    runtime,
                    events.RESTORE_PROGRESS,
                    tenant_id,
                    restore_id=restore_id,
                    backup_id=context.backup.id,
                ),
            )
        except StepError as failed:
            logger.warning(
                "restore %s failed at %s: %s", restore_id, failed.step, message_of(failed.error)
            )
            return await _restore_failed(context, failed.step, failed.error)
        # A copy is pointed at its new address with the driver still open.
        return await _restore_completed(context)
    finally:
        await context.driver.close()
        context.archive_path.unlink(missing_ok=True)


async def _download(runtime: Runtime, backup: Backup, target: Path) -> None:
    """The archive into ``target``, refused unless size and SHA-256 match the backup's."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        async for chunk in storage_of(runtime).read(backup.storage_key):
            digest.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(out.write, chunk)
    if size != backup.size_bytes or digest.hexdigest() != backup.sha256:
        raise ArchiveInvalid(
            "The archive does not match its recorded checksum",
            details={"reason": "checksum_mismatch", "backup_id": str(backup.id)},
        )


async def verify_backup(runtime: Runtime, backup: Backup, workdir: Path) -> dict[str, Any]:
    """Download, check the checksum, the zip and the manifest; the manifest's facts."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    path = workdir / f"verify-{backup.id}-{uuid.uuid4().hex[:8]}.zip"
    try:
        await _download(runtime, backup, path)
        info = await asyncio.to_thread(
            inspect_archive, path, ArchiveLimits.from_settings(runtime.settings)
        )
    finally:
        path.unlink(missing_ok=True)
    if info.major_version != major_version(backup.odoo_version):
        raise ArchiveInvalid(
            f"The archive is of Odoo {info.major_version}, the backup says {backup.odoo_version}",
            details={"reason": "version_mismatch"},
        )
    return {"odoo_version": info.major_version, "filestore_files": info.filestore_files}


async def validate(context: RestoreContext) -> StepResult:
    await _download(context.runtime, context.backup, context.archive_path)
    info = await asyncio.to_thread(
        inspect_archive,
        context.archive_path,
        ArchiveLimits.from_settings(context.runtime.settings),
    )
    async with context.runtime.db.sessionmaker() as session:
        instance = await session.get(Instance, context.instance_id)
        assert instance is not None
        wanted = major_version(instance.odoo_version)
    if info.major_version != wanted:
        raise ArchiveInvalid(
            f"This backup is of Odoo {info.major_version}; the instance runs {wanted}",
            details={
                "reason": "version_mismatch",
                "backup": info.major_version,
                "instance": wanted,
            },
        )
    return None


async def pre_restore(context: RestoreContext) -> StepResult:
    runtime = context.runtime
    async with runtime.db.transaction() as session:
        restore = await session.get(Restore, context.restore_id, with_for_update=True)
        instance = await session.get(Instance, context.instance_id)
        assert restore is not None and instance is not None
        if restore.pre_restore_backup_id is None:
            backup = new_backup(
                runtime,
                instance,
                BackupType.PRE_RESTORE,
                reason=f"Before restoring backup {context.backup.id}",
                requested_by=restore.requested_by,
            )
            session.add(backup)
            await session.flush()
            restore.pre_restore_backup_id = backup.id
        pre_restore_id = restore.pre_restore_backup_id
    backup = await run_backup(runtime, pre_restore_id)
    if backup.status != BackupStatus.COMPLETED.value:
        error = backup.error or {}
        raise BackupFailed(
            f"The backup of the current state failed: {error.get('message', 'unknown error')}"
        )
    return None


async def stop(context: RestoreContext) -> StepResult:
    # Without SQL access Odoo's own drop ends the database's sessions.
    if context.host_has_sql and await context.driver.database_exists(context.database):
        await context.driver.stop(context.database)
    return None


async def drop(context: RestoreContext) -> StepResult:
    await _drop_if_there(context)
    return None


async def _drop_if_there(context: RestoreContext) -> None:
    if not await context.driver.drop_and_confirm(context.database):
        raise RestoreFailed(f"Odoo did not drop the database {context.database}")


async def restore(context: RestoreContext) -> StepResult:
    if not context.archive_path.exists():  # resumed on another worker
        await _download(context.runtime, context.backup, context.archive_path)
    await _drop_if_there(context)  # a restore cut short leaves a database behind
    with context.archive_path.open("rb") as archive:
        await context.driver.restore(context.database, archive, copy=context.as_copy)
    return None


async def verify(context: RestoreContext) -> StepResult:
    uid = await context.driver.authenticate(context.database, context.backup_admin)
    if uid is None:
        raise RestoreFailed("The restored database refuses the archived admin login")
    return None


async def start(context: RestoreContext) -> StepResult:
    await context.driver.start(context.database)
    return None


# Steps that change the live database: a failure from here on rolls back.
LIVE_STEPS = frozenset({"stop", "drop", "restore", "verify", "start"})
RESTORE_FLOW: Flow[RestoreContext] = Flow(
    "restore", (validate, pre_restore, stop, drop, restore, verify, start)
)
RESTORE_STEPS = RESTORE_FLOW.step_names


async def _restore_completed(context: RestoreContext) -> Restore:
    runtime = context.runtime
    if context.as_copy:
        await _point_at_new_home(context)
    async with runtime.db.transaction() as session:
        restore = await session.get(Restore, context.restore_id, with_for_update=True)
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert restore is not None and instance is not None
        # The database now has the archived admin login: the instance follows it.
        instance.admin_login = context.backup.admin_login
        instance.admin_password_encrypted = context.backup.admin_password_encrypted
        await transition(
            session, instance, Action.RESTORED, f"Restored from backup {context.backup.id}"
        )
        # The database is the archive's now: what was written into it since goes again.
        await INSTANCE_READY.fire(session, runtime, instance)
        RESTORE.apply(restore, RestoreAction.COMPLETE)
        restore.progress = 100
        restore.completed_at = clock.now()
        restore.error = None
        await events.emit(
            session, events.RESTORE_COMPLETED, restore_event(restore), tenant_id=restore.tenant_id
        )
        # A tenant suspended while the restore ran has its instance stopped again.
        await instance_settled.fire(session, runtime, instance)
        await audit.record(
            session,
            action="backup.restored",
            resource_type="restore",
            resource_id=restore.id,
            actor_id=restore.requested_by,
            tenant_id=restore.tenant_id,
            new_values={"backup_id": str(context.backup.id), "status": restore.status},
        )
    if context.on_progress is not None:
        await context.on_progress(100)
    return restore


async def _point_at_new_home(context: RestoreContext) -> None:
    """A copy restored into another tenant answers on that tenant's address."""
    async with context.runtime.db.sessionmaker() as session:
        instance = await session.get(Instance, context.instance_id)
        assert instance is not None
        tenant = await session.get(Tenant, instance.tenant_id)
        host = await session.get(OdooHost, instance.host_id)
        assert tenant is not None and host is not None
        base_url = instance_url(context.runtime, instance, host, tenant.subdomain)
    if base_url is None:
        return
    admin = context.backup_admin
    uid = await context.driver.authenticate(context.database, admin)
    if uid is None:
        raise RestoreFailed("The restored database refuses the archived admin login")
    await context.driver.set_config_parameters(
        context.database,
        uid,
        admin.password,
        {"web.base.url": base_url, "web.base.url.freeze": "True"},
    )


async def _restore_failed(context: RestoreContext, step: str, exc: Exception) -> Restore:
    runtime = context.runtime
    error = error_of(exc, step)
    rollback_error: Exception | None = None
    if step in LIVE_STEPS:
        try:
            await _roll_back(context)
        except Exception as rb_exc:  # the pre_restore archive still holds the old data
            logger.exception("rollback of restore %s failed", context.restore_id)
            rollback_error = rb_exc
    async with runtime.db.transaction() as session:
        restore = await session.get(Restore, context.restore_id, with_for_update=True)
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert restore is not None and instance is not None
        if rollback_error is not None:
            error["rollback"] = error_of(rollback_error)
            status = RestoreStatus.FAILED
            await transition(
                session,
                instance,
                Action.FAIL,
                f"Restore failed at {step} and its rollback failed: {message_of(rollback_error)}; "
                f"backup {restore.pre_restore_backup_id} holds the previous data",
            )
        else:
            status = RestoreStatus.ROLLED_BACK if step in LIVE_STEPS else RestoreStatus.FAILED
            reason = (
                f"Restore failed at {step}: {error['message']}; rolled back"
                if step in LIVE_STEPS
                else f"Restore refused at {step}: {error['message']}; nothing was touched"
            )
            await transition(session, instance, Action.RESTORED, reason)
            await instance_settled.fire(session, runtime, instance)
        RESTORE.apply(
            restore,
            RestoreAction.ROLL_BACK if status == RestoreStatus.ROLLED_BACK else RestoreAction.FAIL,
        )
        restore.error = error
        restore.completed_at = clock.now()
        await events.emit(
            session, events.RESTORE_FAILED, restore_event(restore), tenant_id=restore.tenant_id
        )
    return restore


async def _roll_back(context: RestoreContext) -> None:
    """Put the pre_restore archive back under the live name, and prove it."""
    runtime = context.runtime
    async with runtime.db.sessionmaker() as session:
        restore = await session.get(Restore, context.restore_id)
        assert restore is not None and restore.pre_restore_backup_id is not None
        previous = await session.get(Backup, restore.pre_restore_backup_id)
    assert previous is not None
    path = context.workdir / f"rollback-{context.restore_id}.zip"
    try:
        await _download(runtime, previous, path)
        await context.driver.start(context.database)
        await _drop_if_there(context)
        with path.open("rb") as archive:
            await context.driver.restore(context.database, archive, copy=False)
    finally:
        path.unlink(missing_ok=True)
    if await context.driver.authenticate(context.database, context.instance_admin) is None:
        raise RestoreFailed("The rolled-back database refuses the admin login")


async def _end_restore(
    session: Any, restore: Restore, instance: Instance, status: RestoreStatus, exc: Exception
) -> None:
    RESTORE.apply(
        restore,
        RestoreAction.ROLL_BACK if status == RestoreStatus.ROLLED_BACK else RestoreAction.FAIL,
    )
    restore.error = error_of(exc)
    restore.completed_at = clock.now()
    if instance.status == InstanceStatus.RESTORING.value:
        await transition(session, instance, Action.RESTORED, f"Restore ended: {message_of(exc)}")


def restore_event(restore: Restore) -> dict[str, Any]:
    return {
        "restore_id": str(restore.id),
        "tenant_id": str(restore.tenant_id),
        "instance_id": str(restore.instance_id),
        "backup_id": str(restore.backup_id) if restore.backup_id else None,
        "pre_restore_backup_id": (
            str(restore.pre_restore_backup_id) if restore.pre_restore_backup_id else None
        ),
        "status": restore.status,
        "error": restore.error,
    }
