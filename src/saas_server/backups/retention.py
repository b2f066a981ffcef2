"""Which backups to keep, and removing the others (archive first, then the row).

Scheduled backups are kept grandfather-father-son, counted in buckets.

Walking the backups newest first, each rule keeps the newest backup of each of its last N
buckets that hold a backup (days, ISO weeks, months), like restic's ``--keep-daily``,
``--keep-weekly`` and ``--keep-monthly``. Counting buckets that hold backups, rather than
calendar time, means an instance that stopped being backed up (stopped, say) keeps its last
archives instead of watching them all expire.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from saas_server.backups.models import STORAGE_PREFIX, Backup, BackupStatus, BackupType
from saas_server.backups.policy import policy_for
from saas_server.backups.storage import storage_of
from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.instances.models import Instance
from saas_server.tenants.models import Tenant
from saas_server.tenants.tiers import BackupPolicy


@dataclass(frozen=True)
class Kept:
    # When it would go if backups keep coming daily: the latest end of the roles it plays.
    projected_expiry: datetime


def _day(moment: datetime) -> Hashable:
    return moment.astimezone(UTC).date()


def _week(moment: datetime) -> Hashable:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return (year, week)


def _month(moment: datetime) -> Hashable:
    moment = moment.astimezone(UTC)
    return (moment.year, moment.month)


def _day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _week_start(moment: datetime) -> datetime:
    start = _day_start(moment)
    return start - timedelta(days=start.weekday())


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)


def _daily_end(moment: datetime, n: int) -> datetime:
    return moment + timedelta(days=n)


def _weekly_end(moment: datetime, n: int) -> datetime:
    return _week_start(moment) + timedelta(weeks=n)


def _monthly_end(moment: datetime, n: int) -> datetime:
    return _add_months(_day_start(moment).replace(day=1), n)


def keep(created_ats: Sequence[datetime], policy: BackupPolicy) -> dict[int, Kept]:
    """The indexes (into ``created_ats``) of the backups to keep, with their projection."""
    rules: list[tuple[int, Callable[[datetime], Hashable], Callable[[datetime, int], datetime]]]
    rules = [
        (policy.daily, _day, _daily_end),
        (policy.weekly, _week, _weekly_end),
        (policy.monthly, _month, _monthly_end),
    ]
    remaining = [count for count, _, _ in rules]
    last_bucket: list[Hashable | None] = [None] * len(rules)
    kept: dict[int, datetime] = {}
    for index in sorted(range(len(created_ats)), key=lambda i: created_ats[i], reverse=True):
        moment = created_ats[index]
        for r, (count, bucket_of, end_of) in enumerate(rules):
            bucket = bucket_of(moment)
            if remaining[r] > 0 and bucket != last_bucket[r]:
                last_bucket[r] = bucket
                remaining[r] -= 1
                end = end_of(moment, count)
                kept[index] = max(kept.get(index, end), end)
    return {index: Kept(projected_expiry=end) for index, end in kept.items()}


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
        policy = await policy_for(session, runtime.settings, tenant.tier if tenant else "starter")
    kept = keep([b.created_at for b in backups], policy)
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
