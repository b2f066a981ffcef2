"""Taking a backup and restoring one: the long work, run by jobs (or inline by the CLI).

    backup:  dump (streamed from the host into storage, checked whole) -> completed | failed
    restore: validate -> pre_restore -> stop -> drop -> restore -> verify -> start
             any failure after pre_restore: roll back to the pre_restore archive, ready

A restore touches nothing live until the archive is proven (checksum, zip, manifest,
version) and the current state is archived. Every step is checkpointed on the restore row;
a job killed halfway is resumed by another worker from the last completed step.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from saas_platform.audit import service as audit
from saas_platform.backups import retention
from saas_platform.backups.archive import (
    ArchiveInvalid,
    ArchiveLimits,
    ZipTailCheck,
    inspect_archive,
    major_version,
)
from saas_platform.backups.models import Backup, BackupStatus, BackupType, Restore, RestoreStatus
from saas_platform.backups.policy import policy_for
from saas_platform.backups.storage import BackupStorage, StoredArchive
from saas_platform.core import clock, faults
from saas_platform.core.errors import AppError
from saas_platform.core.runtime import Runtime
from saas_platform.events import service as events
from saas_platform.instances.hosts.models import OdooHost
from saas_platform.instances.hosts.service import driver_for
from saas_platform.instances.lifecycle import Action, transition
from saas_platform.instances.models import Instance, InstanceStatus
from saas_platform.odoo.driver import Credentials, OdooDriver
from saas_platform.tenants.models import Tenant

logger = logging.getLogger(__name__)

RESTORE_STEPS = ("validate", "pre_restore", "stop", "drop", "restore", "verify", "start")
# Steps that change the live database: a failure from here on rolls back.
LIVE_STEPS = frozenset({"stop", "drop", "restore", "verify", "start"})
# A failed backup's row stays visible this long, then goes.
FAILED_BACKUP_KEPT = timedelta(days=7)
PROGRESS_INTERVAL_SECONDS = 1.0
# A compressed Odoo archive is about this fraction of the database's on-disk size: the
# progress of a running backup is estimated from it and capped below 100.
ARCHIVE_TO_DATABASE_RATIO = 0.25

Progress = Callable[[int], Awaitable[None]]


class BackupFailed(AppError):
    status_code = 500
    code = "BACKUP_FAILED"
    message = "Backup failed"


class RestoreFailed(AppError):
    status_code = 500
    code = "RESTORE_FAILED"
    message = "Restore failed"


def storage_of(runtime: Runtime) -> BackupStorage:
    # Core types the runtime's part only as closable; wiring built it with build_storage.
    return cast("BackupStorage", runtime.backup_storage)


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, AppError) else (str(exc) or type(exc).__name__)


def _error(exc: BaseException, step: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": exc.code if isinstance(exc, AppError) else "BACKUP_FAILED",
        "message": _message(exc),
    }
    if step:
        error["step"] = step
    if isinstance(exc, AppError) and exc.details:
        error["details"] = exc.details
    return error


# -- backups --------------------------------------------------------------------------------


async def run_backup(
    runtime: Runtime,
    backup_id: uuid.UUID,
    *,
    on_progress: Progress | None = None,
    source_database: str | None = None,
) -> Backup:
    """Take the backup ``backup_id`` describes; returns the row, completed or failed.

    ``source_database``: dump this database instead of the backup's (a deletion's closed
    database, instances/flows.py); it is closed again once dumped, like a stopped instance.

    Rerunning a backup that a killed worker left ``running`` starts it again: storage only
    ever shows whole archives, so nothing half-written is taken for one.
    """
    async with runtime.db.transaction() as session:
        backup = await session.get(Backup, backup_id, with_for_update=True)
        if backup is None:
            raise BackupFailed("No such backup")
        if backup.status in (BackupStatus.COMPLETED.value, BackupStatus.FAILED.value):
            return backup
        instance = await session.get(Instance, backup.instance_id) if backup.instance_id else None
        host = (
            await session.get(OdooHost, instance.host_id)
            if instance is not None and instance.host_id
            else None
        )
        backup.status = BackupStatus.RUNNING.value
        backup.started_at = clock.now()
        backup.progress = 0
        backup.bytes_written = 0
        backup.error = None
    if instance is None or host is None:
        return await fail_backup(runtime, backup_id, BackupFailed("The instance has no database"))

    database = source_database or backup.database_name
    was_stopped = host.postgres_url_encrypted and (
        instance.status == InstanceStatus.STOPPED.value or source_database is not None
    )
    driver = driver_for(runtime, host)
    try:
        await driver.start(database)  # the dump opens it anyway; its filestore is sized inside
        estimate = await _estimated_size(driver, database)
        reporter = _ProgressWriter(runtime, backup_id, estimate, on_progress)
        stored = await archive_to_storage(
            driver,
            database,
            storage_of(runtime),
            backup.storage_key,
            on_progress=reporter.update,
            before_commit=lambda: faults.checkpoint(runtime.settings, "backup.dump"),
        )
    except Exception as exc:
        logger.warning("backup %s failed: %s", backup_id, _message(exc))
        return await fail_backup(runtime, backup_id, exc)
    finally:
        # Dumping opens the database to connections; a stopped instance stays stopped.
        if was_stopped:
            with contextlib.suppress(Exception):
                await driver.stop(database)
        await driver.close()

    backup = await complete_backup(runtime, backup_id, stored)
    if on_progress is not None:
        await on_progress(100)
    if backup.type == BackupType.SCHEDULED.value and backup.instance_id is not None:
        await apply_retention(runtime, backup.instance_id)
    return backup


async def complete_backup(runtime: Runtime, backup_id: uuid.UUID, stored: StoredArchive) -> Backup:
    """Mark the backup whole, once storage holds all of ``stored``: size, checksum,
    retention, and the ``backup.completed`` event, in one transaction."""
    async with runtime.db.transaction() as session:
        backup = await session.get(Backup, backup_id, with_for_update=True)
        assert backup is not None
        backup.status = BackupStatus.COMPLETED.value
        backup.size_bytes = backup.bytes_written = stored.size
        backup.sha256 = stored.sha256
        backup.progress = 100
        backup.completed_at = clock.now()
        tenant = await session.get(Tenant, backup.tenant_id)
        backup.expires_at = _expiry_of(runtime, backup, tenant)
        await events.emit(
            session, events.BACKUP_COMPLETED, backup_event(backup), tenant_id=backup.tenant_id
        )
    return backup


async def archive_to_storage(
    driver: OdooDriver,
    database: str,
    storage: BackupStorage,
    key: str,
    *,
    on_progress: Progress | None = None,
    before_commit: Callable[[], Awaitable[None]] | None = None,
) -> StoredArchive:
    """Stream the host's archive of ``database`` into ``storage`` under ``key``.

    Chunks pass straight through (memory stays flat whatever the size); the storage hashes
    and counts them. The zip's end is checked before the storage commits the object, so a
    stream cut short never becomes an archive.
    """
    check = ZipTailCheck()

    async def archive() -> AsyncIterator[bytes]:
        async for chunk in driver.dump(database):
            check.feed(chunk)
            yield chunk
        if before_commit is not None:
            await before_commit()
        check.check()

    return await storage.save(key, archive(), on_progress=on_progress)


async def _estimated_size(driver: OdooDriver, database: str) -> int | None:
    """The archive's expected size: the compressed dump plus the filestore, which is most of
    a real archive and barely compresses (attachments are mostly images and PDFs)."""
    dump: int | None = None
    filestore: int | None = None
    with contextlib.suppress(Exception):
        size = await driver.size(database)
        if size:
            dump = int(size * ARCHIVE_TO_DATABASE_RATIO)
    with contextlib.suppress(Exception):
        filestore = await driver.filestore_size(database)
    if dump is None and not filestore:
        return None
    return (dump or 0) + (filestore or 0)


class _ProgressWriter:
    """Writes a running backup's progress to its row about once a second."""

    def __init__(
        self, runtime: Runtime, backup_id: uuid.UUID, estimate: int | None, extra: Progress | None
    ) -> None:
        self.runtime = runtime
        self.backup_id = backup_id
        self.estimate = estimate
        self.also_notify = extra
        self._next = 0.0

    async def update(self, written: int) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + PROGRESS_INTERVAL_SECONDS
        percent = min(95, written * 100 // self.estimate) if self.estimate else 0
        async with self.runtime.db.transaction() as session:
            backup = await session.get(Backup, self.backup_id)
            if backup is not None and backup.status == BackupStatus.RUNNING.value:
                backup.bytes_written = written
                backup.progress = max(backup.progress, percent)
        if self.also_notify is not None:
            await self.also_notify(percent)


async def fail_backup(runtime: Runtime, backup_id: uuid.UUID, exc: BaseException) -> Backup:
    async with runtime.db.transaction() as session:
        backup = await session.get(Backup, backup_id, with_for_update=True)
        assert backup is not None
        backup.status = BackupStatus.FAILED.value
        backup.error = _error(exc)
        backup.completed_at = clock.now()
        backup.expires_at = clock.now() + FAILED_BACKUP_KEPT
        await events.emit(
            session,
            events.BACKUP_FAILED,
            {**backup_event(backup), "error": backup.error},
            tenant_id=backup.tenant_id,
        )
    return backup


def _expiry_of(runtime: Runtime, backup: Backup, tenant: Tenant | None) -> Any:
    now = clock.now()
    settings = runtime.settings
    if backup.type == BackupType.PRE_DELETE.value:
        # At least as long as the owners can reach the deleted tenant to restore it.
        days = max(settings.backup_pre_delete_retention_days, settings.subdomain_grace_days)
        return now + timedelta(days=days)
    if backup.type == BackupType.PRE_RESTORE.value:
        return now + timedelta(days=settings.backup_pre_restore_retention_days)
    policy = policy_for(settings, tenant.tier if tenant else "starter")
    if backup.type == BackupType.MANUAL.value:
        return now + timedelta(days=policy.manual_retention_days)
    return now + timedelta(days=policy.daily)  # scheduled: retention refines it


def backup_event(backup: Backup) -> dict[str, Any]:
    return {
        "backup_id": str(backup.id),
        "tenant_id": str(backup.tenant_id),
        "instance_id": str(backup.instance_id) if backup.instance_id else None,
        "type": backup.type,
        "status": backup.status,
        "size_bytes": backup.size_bytes,
        "sha256": backup.sha256,
        "odoo_version": backup.odoo_version,
        "expires_at": clock.isoformat(backup.expires_at) if backup.expires_at else None,
    }


# -- retention ------------------------------------------------------------------------------


async def apply_retention(runtime: Runtime, instance_id: uuid.UUID) -> int:
    """Keep the instance's scheduled backups the tier's policy keeps; remove the rest (the
    archive first, then its row). Returns how many went."""
    async with runtime.db.sessionmaker() as session:
        instance = await session.get(Instance, instance_id)
        tenant = await session.get(Tenant, instance.tenant_id) if instance else None
        backups = list(
            (
                await session.execute(
                    select(Backup).where(
                        Backup.instance_id == instance_id,
                        Backup.type == BackupType.SCHEDULED.value,
                        Backup.status == BackupStatus.COMPLETED.value,
                    )
                )
            ).scalars()
        )
    policy = policy_for(runtime.settings, tenant.tier if tenant else "starter")
    kept = retention.keep([b.created_at for b in backups], policy)
    now = clock.now()
    removed = 0
    for index, backup in enumerate(backups):
        if index not in kept:
            await remove_backup(runtime, backup.id)
            removed += 1
            continue
        projected = kept[index].projected_expiry
        expires_at = projected if projected > now else None
        if backup.expires_at != expires_at:
            async with runtime.db.transaction() as session:
                row = await session.get(Backup, backup.id)
                if row is not None:
                    row.expires_at = expires_at
    return removed


async def remove_backup(runtime: Runtime, backup_id: uuid.UUID) -> None:
    """The archive out of storage, then the row: a crash between leaves a row whose archive
    is gone, which the next expiry pass removes (storage deletes are idempotent)."""
    async with runtime.db.sessionmaker() as session:
        backup = await session.get(Backup, backup_id)
        if backup is None:
            return
        key = backup.storage_key
    await storage_of(runtime).delete(key)
    async with runtime.db.transaction() as session:
        backup = await session.get(Backup, backup_id, with_for_update=True)
        if backup is not None:
            await session.delete(backup)


async def expire_backups(runtime: Runtime) -> dict[str, int]:
    """Retention for every instance with scheduled backups, then every row past its
    ``expires_at``, then archives in storage that no row lists."""
    async with runtime.db.sessionmaker() as session:
        instance_ids = list(
            (
                await session.execute(
                    select(Backup.instance_id)
                    .where(
                        Backup.type == BackupType.SCHEDULED.value,
                        Backup.instance_id.is_not(None),
                    )
                    .distinct()
                )
            ).scalars()
        )
    retained = 0
    for instance_id in instance_ids:
        assert instance_id is not None
        retained += await apply_retention(runtime, instance_id)
    async with runtime.db.sessionmaker() as session:
        expired = list(
            (
                await session.execute(
                    select(Backup.id).where(
                        Backup.expires_at <= clock.now(),
                        Backup.status.in_(
                            [BackupStatus.COMPLETED.value, BackupStatus.FAILED.value]
                        ),
                    )
                )
            ).scalars()
        )
    for backup_id in expired:
        await remove_backup(runtime, backup_id)
    orphans = await remove_orphans(runtime)
    return {"retention": retained, "expired": len(expired), "orphans": orphans}


async def remove_orphans(runtime: Runtime) -> int:
    """Archives in storage that no backup row names (a row removed by hand, say)."""
    storage = storage_of(runtime)
    stored = set(await storage.keys(STORAGE_PREFIX))
    if not stored:
        return 0
    async with runtime.db.sessionmaker() as session:
        known = set((await session.execute(select(Backup.storage_key))).scalars())
    orphans = stored - known
    for key in orphans:
        await storage.delete(key)
    return len(orphans)


STORAGE_PREFIX = "tenants/"


def storage_key(tenant_id: uuid.UUID, backup_id: uuid.UUID) -> str:
    return f"{STORAGE_PREFIX}{tenant_id}/{backup_id}.zip"


# -- restores -------------------------------------------------------------------------------


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
            return restore
        if instance.status != InstanceStatus.RESTORING.value:
            # A restore into a new tenant waits for its provisioning, then takes the instance.
            await transition(session, instance, Action.RESTORE, f"Restoring backup {backup.id}")
        restore.status = RestoreStatus.RUNNING.value
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
    context.workdir.mkdir(parents=True, exist_ok=True)
    start = RESTORE_STEPS.index(done) + 1 if done in RESTORE_STEPS else 0
    try:
        for index in range(start, len(RESTORE_STEPS)):
            step = RESTORE_STEPS[index]
            try:
                await RESTORE_STEP_FUNCTIONS[step](context)
                await faults.checkpoint(runtime.settings, f"restore.{step}")
            except Exception as exc:
                logger.warning("restore %s failed at %s: %s", restore_id, step, _message(exc))
                return await _restore_failed(context, step, exc)
            await _checkpoint(context, step, index)
        return await _restore_completed(context)
    finally:
        await context.driver.close()
        context.archive_path.unlink(missing_ok=True)


async def _checkpoint(context: RestoreContext, step: str, index: int) -> None:
    progress = (index + 1) * 95 // len(RESTORE_STEPS)
    async with context.runtime.db.transaction() as session:
        restore = await session.get(Restore, context.restore_id, with_for_update=True)
        assert restore is not None
        restore.step = step
        restore.progress = progress
    if context.on_progress is not None:
        await context.on_progress(progress)


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


async def _validate(context: RestoreContext) -> None:
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


async def _pre_restore(context: RestoreContext) -> None:
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


async def _stop(context: RestoreContext) -> None:
    # Without SQL access Odoo's own drop ends the database's sessions.
    if context.host_has_sql and await context.driver.database_exists(context.database):
        await context.driver.stop(context.database)


async def _drop(context: RestoreContext) -> None:
    await _drop_if_there(context)


async def _drop_if_there(context: RestoreContext) -> None:
    if not await context.driver.drop_and_confirm(context.database):
        raise RestoreFailed(f"Odoo did not drop the database {context.database}")


async def _restore(context: RestoreContext) -> None:
    if not context.archive_path.exists():  # resumed on another worker
        await _download(context.runtime, context.backup, context.archive_path)
    await _drop_if_there(context)  # a restore cut short leaves a database behind
    with context.archive_path.open("rb") as archive:
        await context.driver.restore(context.database, archive, copy=context.as_copy)


async def _verify(context: RestoreContext) -> None:
    uid = await context.driver.authenticate(context.database, context.backup_admin)
    if uid is None:
        raise RestoreFailed("The restored database refuses the archived admin login")


async def _start(context: RestoreContext) -> None:
    await context.driver.start(context.database)


RESTORE_STEP_FUNCTIONS: dict[str, Callable[[RestoreContext], Awaitable[None]]] = {
    "validate": _validate,
    "pre_restore": _pre_restore,
    "stop": _stop,
    "drop": _drop,
    "restore": _restore,
    "verify": _verify,
    "start": _start,
}


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
        restore.status = RestoreStatus.COMPLETED.value
        restore.progress = 100
        restore.completed_at = clock.now()
        restore.error = None
        await events.emit(
            session, events.RESTORE_COMPLETED, restore_event(restore), tenant_id=restore.tenant_id
        )
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
    from saas_platform.instances.service import instance_url

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
    error = _error(exc, step)
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
            error["rollback"] = _error(rollback_error)
            status = RestoreStatus.FAILED
            await transition(
                session,
                instance,
                Action.FAIL,
                f"Restore failed at {step} and its rollback failed: {_message(rollback_error)}; "
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
        restore.status = status.value
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
    restore.status = status.value
    restore.error = _error(exc)
    restore.completed_at = clock.now()
    if instance.status == InstanceStatus.RESTORING.value:
        await transition(session, instance, Action.RESTORED, f"Restore ended: {_message(exc)}")


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


def new_backup(
    runtime: Runtime,
    instance: Instance,
    type_: BackupType,
    *,
    reason: str | None = None,
    requested_by: uuid.UUID | None = None,
) -> Backup:
    """A pending backup row of ``instance`` (the caller adds it and defers or runs it)."""
    backup_id = uuid.uuid4()
    return Backup(
        id=backup_id,
        tenant_id=instance.tenant_id,
        instance_id=instance.id,
        type=type_.value,
        status=BackupStatus.PENDING.value,
        progress=0,
        bytes_written=0,
        storage_kind=storage_of(runtime).kind,
        storage_key=storage_key(instance.tenant_id, backup_id),
        odoo_version=instance.odoo_version,
        database_name=instance.database_name,
        admin_login=instance.admin_login,
        admin_password_encrypted=instance.admin_password_encrypted,
        source="platform",
        reason=reason,
        requested_by=requested_by,
    )
