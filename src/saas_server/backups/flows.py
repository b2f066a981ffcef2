"""Taking a backup: the backup flow, run by jobs (or inline by the CLI).

    backup: archive -> complete -> retain (scheduled backups only)

``archive`` streams the host's archive into storage, checked whole before storage commits
it; ``complete`` records its size and checksum; ``retain`` applies the tier's retention
(backups/retention.py). A failure before ``complete`` marks the backup failed. Restoring
one is backups/restore.py.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.backups import retention
from saas_server.backups.archive import ZipTailCheck
from saas_server.backups.lifecycle import BACKUP, BackupAction
from saas_server.backups.models import Backup, BackupStatus, BackupType, storage_key
from saas_server.backups.policy import policy_for
from saas_server.backups.storage import BackupStorage, StoredArchive, storage_of
from saas_server.core import clock, faults
from saas_server.core.errors import AppError
from saas_server.core.flows import Flow, StepError, StepResult, no_record
from saas_server.core.runtime import Runtime
from saas_server.events import progress
from saas_server.events import service as events
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.odoo.driver import OdooDriver
from saas_server.tenants.models import Tenant

logger = logging.getLogger(__name__)

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


def message_of(exc: BaseException) -> str:
    return exc.message if isinstance(exc, AppError) else (str(exc) or type(exc).__name__)


def error_of(exc: BaseException, step: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": exc.code if isinstance(exc, AppError) else "BACKUP_FAILED",
        "message": message_of(exc),
    }
    if step:
        error["step"] = step
    if isinstance(exc, AppError) and exc.details:
        error["details"] = exc.details
    return error


@dataclass
class BackupContext:
    runtime: Runtime
    backup_id: uuid.UUID
    storage_key: str
    # What is dumped: the backup's database, or (a deletion's) the closed one.
    database: str
    driver: OdooDriver
    # Dumping opens the database to connections; a stopped one is closed again after.
    close_after: bool
    scheduled_instance_id: uuid.UUID | None
    on_progress: Progress | None
    stored: StoredArchive | None = None
    completed: Backup | None = None


async def archive(context: BackupContext) -> StepResult:
    """Stream the host's archive into storage, checked whole before storage commits it
    (``backup.dump``, the one fault point inside a step: the whole archive streamed, not
    yet committed)."""
    runtime, driver, database = context.runtime, context.driver, context.database
    try:
        await driver.start(database)  # the dump opens it anyway; its filestore is sized inside
        estimate = await _estimated_size(driver, database)
        reporter = _ProgressWriter(runtime, context.backup_id, estimate, context.on_progress)
        context.stored = await archive_to_storage(
            driver,
            database,
            storage_of(runtime),
            context.storage_key,
            on_progress=reporter.update,
            before_commit=lambda: faults.checkpoint(runtime.settings, "backup.dump"),
        )
    finally:
        if context.close_after:
            with contextlib.suppress(Exception):
                await driver.stop(database)
    return None


async def complete(context: BackupContext) -> StepResult:
    assert context.stored is not None
    context.completed = await complete_backup(context.runtime, context.backup_id, context.stored)
    if context.on_progress is not None:
        await context.on_progress(100)
    return None


async def retain(context: BackupContext) -> StepResult:
    """A scheduled backup makes older ones of its instance redundant (backups/retention.py)."""
    if context.scheduled_instance_id is not None:
        await retention.apply_retention(context.runtime, context.scheduled_instance_id)
    return None


# Nothing to resume from: a rerun starts the archive again (storage only ever shows whole
# archives, so nothing half-written is taken for one).
BACKUP_FLOW: Flow[BackupContext] = Flow("backup", (archive, complete, retain))


async def run_backup(
    runtime: Runtime,
    backup_id: uuid.UUID,
    *,
    on_progress: Progress | None = None,
    source_database: str | None = None,
) -> Backup:
    """Take the backup ``backup_id`` describes; returns the row, completed or failed.

    ``source_database``: dump this database instead of the backup's (a deletion's closed
    database, instances/deletion.py); it is closed again once dumped, like a stopped instance.

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
        BACKUP.apply(backup, BackupAction.START)
        backup.started_at = clock.now()
        backup.progress = 0
        backup.bytes_written = 0
        backup.error = None
    if instance is None or host is None:
        return await fail_backup(runtime, backup_id, BackupFailed("The instance has no database"))

    context = BackupContext(
        runtime=runtime,
        backup_id=backup_id,
        storage_key=backup.storage_key,
        database=source_database or backup.database_name,
        driver=driver_for(runtime, host),
        close_after=bool(host.postgres_url_encrypted)
        and (instance.status == InstanceStatus.STOPPED.value or source_database is not None),
        scheduled_instance_id=(
            backup.instance_id if backup.type == BackupType.SCHEDULED.value else None
        ),
        on_progress=on_progress,
    )
    try:
        await BACKUP_FLOW.run(
            context,
            settings=runtime.settings,
            done=None,
            record=no_record,
            announce=progress.announcer(
                runtime, events.BACKUP_PROGRESS, backup.tenant_id, backup_id=backup_id
            ),
        )
    except StepError as failed:
        if context.completed is not None:
            raise failed.error from None  # retention: the backup itself is whole
        logger.warning("backup %s failed: %s", backup_id, message_of(failed.error))
        return await fail_backup(runtime, backup_id, failed.error)
    finally:
        await context.driver.close()
    assert context.completed is not None
    return context.completed


async def complete_backup(runtime: Runtime, backup_id: uuid.UUID, stored: StoredArchive) -> Backup:
    """Mark the backup whole, once storage holds all of ``stored``: size, checksum,
    retention, and the ``backup.completed`` event, in one transaction."""
    async with runtime.db.transaction() as session:
        backup = await session.get(Backup, backup_id, with_for_update=True)
        assert backup is not None
        BACKUP.apply(backup, BackupAction.COMPLETE)
        backup.size_bytes = backup.bytes_written = stored.size
        backup.sha256 = stored.sha256
        backup.progress = 100
        backup.completed_at = clock.now()
        tenant = await session.get(Tenant, backup.tenant_id)
        backup.expires_at = await _expiry_of(session, runtime, backup, tenant)
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
        BACKUP.apply(backup, BackupAction.FAIL)
        backup.error = error_of(exc)
        backup.completed_at = clock.now()
        backup.expires_at = clock.now() + FAILED_BACKUP_KEPT
        await events.emit(
            session,
            events.BACKUP_FAILED,
            {**backup_event(backup), "error": backup.error},
            tenant_id=backup.tenant_id,
        )
    return backup


async def _expiry_of(
    session: AsyncSession, runtime: Runtime, backup: Backup, tenant: Tenant | None
) -> Any:
    now = clock.now()
    settings = runtime.settings
    if backup.type == BackupType.PRE_DELETE.value:
        # At least as long as the owners can reach the deleted tenant to restore it.
        days = max(settings.backup_pre_delete_retention_days, settings.subdomain_grace_days)
        return now + timedelta(days=days)
    if backup.type == BackupType.PRE_RESTORE.value:
        return now + timedelta(days=settings.backup_pre_restore_retention_days)
    policy = await policy_for(session, settings, tenant.tier if tenant else "starter")
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
