"""Archives made elsewhere (Odoo's own backup route, another platform) as tenant backups."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from saas_server.backups import flows
from saas_server.backups.archive import (
    ArchiveInvalid,
    ArchiveLimits,
    inspect_archive,
    major_version,
)
from saas_server.backups.lifecycle import BACKUP, BackupAction
from saas_server.backups.models import Backup, BackupType
from saas_server.backups.storage import CHUNK_SIZE, storage_of
from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.instances.service import production_instance
from saas_server.tenants.models import Tenant


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CHUNK_SIZE):
            yield chunk


async def import_archive(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    path: Path,
    admin_login: str,
    admin_password: str,
    *,
    reason: str = "Imported archive",
) -> Backup:
    """Check ``path`` (zip, manifest, the tenant's Odoo version), store it and record it as a
    completed manual backup; ``admin_login``/``admin_password`` open the archived database."""
    # Bounded and checked whole before a byte of it is stored (backups/archive.py).
    info = await asyncio.to_thread(
        inspect_archive, path, ArchiveLimits.from_settings(runtime.settings)
    )
    async with runtime.db.transaction() as session:
        tenant = await session.get(Tenant, tenant_id)
        instance = await production_instance(session, tenant_id)
        if tenant is None or instance is None:
            raise ArchiveInvalid("The tenant has no instance to hold this archive")
        if info.major_version != major_version(instance.odoo_version):
            raise ArchiveInvalid(
                f"This archive is of Odoo {info.major_version}; "
                f"the tenant runs {instance.odoo_version}",
                details={"reason": "version_mismatch"},
            )
        backup = flows.new_backup(runtime, instance, BackupType.MANUAL, reason=reason)
        backup.source = "upload"
        backup.admin_login = admin_login
        backup.admin_password_encrypted = runtime.secrets.encrypt(admin_password)
        BACKUP.apply(backup, BackupAction.START)
        backup.started_at = clock.now()
        session.add(backup)
    try:
        stored = await storage_of(runtime).save(backup.storage_key, _file_chunks(path))
    except Exception as exc:
        await flows.fail_backup(runtime, backup.id, exc)
        raise
    return await flows.complete_backup(runtime, backup.id, stored)
