"""The daily schedule: each instance backed up once a day, at its own time of day."""

from __future__ import annotations

import uuid
import zlib
from datetime import datetime, timedelta

from sqlalchemy import select

from saas_server.backups import flows
from saas_server.backups.jobs import defer_backup
from saas_server.backups.models import Backup, BackupStatus, BackupType
from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.tenants.models import Tenant, TenantStatus


def daily_slot_offset(instance_id: uuid.UUID) -> timedelta:
    """Each instance's time of day for its scheduled backup, spread over the day."""
    return timedelta(seconds=zlib.crc32(instance_id.bytes) % 86400)


def current_slot(instance_id: uuid.UUID, now: datetime) -> datetime:
    """The start of the instance's latest daily slot at ``now``."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    slot = day + daily_slot_offset(instance_id)
    return slot if slot <= now else slot - timedelta(days=1)


async def schedule_due_backups(runtime: Runtime, *, limit: int = 500) -> int:
    """Create and defer the scheduled backups that are due; returns how many."""
    now = clock.now()
    async with runtime.db.transaction() as session:
        rows = (
            await session.execute(
                select(Instance)
                .join(Tenant, Tenant.id == Instance.tenant_id)
                .where(
                    Instance.status == InstanceStatus.READY.value,
                    Instance.kind == "production",
                    Tenant.is_active.is_(True),
                    Tenant.status == TenantStatus.READY.value,
                )
            )
        ).scalars()
        created = 0
        for instance in rows:
            slot = current_slot(instance.id, now)
            taken = (
                await session.execute(
                    select(Backup.id).where(
                        Backup.instance_id == instance.id,
                        Backup.type == BackupType.SCHEDULED.value,
                        Backup.created_at >= slot,
                        Backup.status != BackupStatus.FAILED.value,
                    )
                )
            ).first()
            if taken is not None:
                continue
            backup = flows.new_backup(
                runtime, instance, BackupType.SCHEDULED, reason="Daily backup"
            )
            session.add(backup)
            await session.flush()
            await defer_backup(session, backup)
            created += 1
            if created >= limit:
                break
    return created
