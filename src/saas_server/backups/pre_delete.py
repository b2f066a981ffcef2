"""The backup a deletion takes before it drops the database (instances/deletion.py fires
``PRE_DELETE_BACKUP``; saas_server.wiring connects this handler)."""

from __future__ import annotations

import uuid

from saas_server.backups.service import take_pre_delete_backup
from saas_server.core.runtime import Runtime


async def back_up_before_deletion(
    runtime: Runtime, instance_id: uuid.UUID, source_database: str
) -> None:
    """Raises BackupFailed when the archive cannot be taken: the deletion waits and retries."""
    await take_pre_delete_backup(runtime, instance_id, source_database=source_database)
