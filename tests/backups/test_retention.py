"""Scheduled backups and their retention, with the clock moved over 120 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.backups import retention
from saas_server.backups.models import STORAGE_PREFIX, Backup
from saas_server.backups.retention import keep
from saas_server.backups.service import current_slot, schedule_due_backups
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.tenants.tiers import BackupPolicy
from tests.fixtures.auth import LoggedIn, login, platform_admin, verified_user
from tests.fixtures.backups import ready_tenant
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox

STARTER = BackupPolicy(daily=7, weekly=4, monthly=3, manual_quota=5, manual_retention_days=90)


def expected_kept(days: list[datetime], policy: BackupPolicy) -> set[datetime]:
    """GFS stated plainly: the newest backup of each of the last N days, ISO weeks and
    months that have one."""
    newest_first = sorted(days, reverse=True)

    def newest_per(bucket: Any, count: int) -> set[datetime]:
        chosen: dict[Any, datetime] = {}
        for moment in newest_first:
            key = bucket(moment)
            if key not in chosen:
                if len(chosen) == count:
                    break
                chosen[key] = moment
        return set(chosen.values())

    return (
        newest_per(lambda m: m.date(), policy.daily)
        | newest_per(lambda m: m.isocalendar()[:2], policy.weekly)
        | newest_per(lambda m: (m.year, m.month), policy.monthly)
    )


def test_gfs_keeps_the_newest_of_each_bucket() -> None:
    start = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    days = [start + timedelta(days=i) for i in range(120)]
    kept = keep(days, STARTER)
    assert {days[i] for i in kept} == expected_kept(days, STARTER)
    # 7 daily, plus the weeks and months the dailies do not already cover.
    assert 7 < len(kept) <= 7 + 4 + 3
    # Backups that stopped coming are not expired by the calendar: the last ones stay.
    sparse = days[:10]
    assert {sparse[i] for i in keep(sparse, STARTER)} == expected_kept(sparse, STARTER)
    # A projection is the latest end of the roles a backup plays.
    newest = max(kept, key=lambda i: days[i])
    assert kept[newest].projected_expiry >= days[newest] + timedelta(days=7)


def test_slots_spread_over_the_day() -> None:
    import uuid

    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    slots = {current_slot(uuid.uuid4(), now).time() for _ in range(50)}
    assert len(slots) > 40
    for _ in range(20):
        slot = current_slot(uuid.uuid4(), now)
        assert now - timedelta(days=1) < slot <= now


@pytest.mark.slow
async def test_120_days_of_scheduled_backups_leave_exactly_what_gfs_keeps(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    odoo: EmulatorProcess,
    clock: FrozenClock,
) -> None:
    admin: LoggedIn = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)

    taken: list[datetime] = []
    for _ in range(120):
        clock.advance(days=1)
        assert await schedule_due_backups(runtime) == 1
        assert await schedule_due_backups(runtime) == 0  # one per day, however often asked
        await runtime.run_pending_jobs()
        taken.append(clock.now())
        if len(taken) % 10 == 0:
            await retention.expire_backups(runtime)
    await retention.expire_backups(runtime)

    async with runtime.db.sessionmaker() as session:
        rows = list(
            (await session.execute(select(Backup).where(Backup.type == "scheduled"))).scalars()
        )
    assert all(row.status == "completed" for row in rows)
    created = {row.created_at.astimezone(UTC) for row in rows}
    assert created == expected_kept(taken, STARTER)
    # Every kept archive's retention date is in the future, or unknown (kept until replaced).
    assert all(row.expires_at is None or row.expires_at > clock.now() for row in rows)
    # Storage holds exactly the archives the database lists.
    stored = set(await runtime.backup_storage.keys(STORAGE_PREFIX))
    async with runtime.db.sessionmaker() as session:
        listed = set((await session.execute(select(Backup.storage_key))).scalars())
    assert stored == listed
    owner = await login(client, owner.email)  # 120 days later, the old token has expired
    listing = await client.get(
        f"/api/v1/tenants/{tenant.id}/backups",
        params={"type": "scheduled", "page_size": 100},
        headers=owner.headers,
    )
    assert listing.json()["count"] == len(rows)
