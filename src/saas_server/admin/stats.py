"""The platform's figures for its operators (``GET /api/v1/admin/stats``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.backups.models import Backup, BackupStatus
from saas_server.billing import service as billing
from saas_server.core import clock
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.tenants.models import GONE_STATUSES, Tenant
from saas_server.users.models import User

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


async def revenue_totals(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
    """Revenue collected and the monthly recurring revenue, each per ISO 4217 currency in
    minor units (billing's figures)."""
    return await billing.revenue_totals(session), await billing.mrr(session)


async def _count(session: AsyncSession, stmt: Any) -> int:
    return int((await session.execute(stmt)).scalar_one())


async def platform_stats(session: AsyncSession, currency: str) -> dict[str, Any]:
    """The admin stats; money in minor units of ``currency``, and per currency beside it."""
    now = clock.now()
    users = select(func.count()).select_from(User)
    tenants = select(func.count()).select_from(Tenant).where(Tenant.status.not_in(GONE_STATUSES))
    signups = {
        name: await _count(session, users.where(User.created_at >= now - span))
        for name, span in WINDOWS.items()
    }
    created = {
        name: await _count(
            session,
            select(func.count()).select_from(Tenant).where(Tenant.created_at >= now - span),
        )
        for name, span in WINDOWS.items()
    }
    revenue, mrr = await revenue_totals(session)
    return {
        "total_users": await _count(session, users),
        "total_tenants": await _count(session, tenants),
        "active_instances": await _count(
            session,
            select(func.count())
            .select_from(Instance)
            .where(Instance.status == InstanceStatus.READY.value),
        ),
        "total_revenue": revenue.get(currency, 0),
        "mrr": mrr.get(currency, 0),
        "currency": currency,
        "total_revenue_by_currency": revenue,
        "mrr_by_currency": mrr,
        "signups": signups,
        "tenants_created": created,
        "failed_provisionings": await _count(
            session,
            select(func.count())
            .select_from(Instance)
            .where(Instance.status == InstanceStatus.FAILED.value),
        ),
        "backups_failed_24h": await _count(
            session,
            select(func.count())
            .select_from(Backup)
            .where(
                Backup.status == BackupStatus.FAILED.value,
                Backup.created_at >= now - WINDOWS["24h"],
            ),
        ),
    }
