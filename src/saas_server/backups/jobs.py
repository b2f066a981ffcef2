"""The jobs the backups service defers: their names, their queue, and the lock that runs
backups and restores of one instance one at a time."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.backups.models import Backup, Restore
from saas_server.core.jobs import defer

BACKUP_TASK = "backups.run"
RESTORE_TASK = "backups.restore"
SCHEDULE_TASK = "backups.schedule"
EXPIRE_TASK = "backups.expire"
QUEUE = "backups"


def instance_lock(instance_id: uuid.UUID) -> str:
    """Backups and restores of one instance run one at a time (a procrastinate lock)."""
    return f"instance-data:{instance_id}"


async def defer_backup(session: AsyncSession, backup: Backup) -> None:
    assert backup.instance_id is not None
    await defer(
        session,
        BACKUP_TASK,
        queue=QUEUE,
        lock=instance_lock(backup.instance_id),
        backup_id=str(backup.id),
    )


async def defer_restore(
    session: AsyncSession, restore: Restore, scheduled_at: datetime | None = None
) -> None:
    await defer(
        session,
        RESTORE_TASK,
        queue=QUEUE,
        lock=instance_lock(restore.instance_id),
        scheduled_at=scheduled_at,
        restore_id=str(restore.id),
    )
