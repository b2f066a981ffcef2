"""What each tier gives: limits written to the instance, and the database expiry.

The grants live in billing's plans (a plan's ``code`` is the tier it gives; decision 0008).
Billing sits above tenants, so it answers :data:`tier_grant` (connected in wiring.py); the
packages below read a tier's grant with :func:`grant_for`. :data:`TIERS` stays as the
defaults the plans are seeded with, and the answer for a tier no plan grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.hooks import Provider
from saas_server.core.ratelimit import DEFAULT_PLAN


@dataclass(frozen=True)
class BackupPolicy:
    """Scheduled backups kept grandfather-father-son, and the manual backups allowed."""

    daily: int  # the last N days' backups
    weekly: int  # the last backup of each of the last N weeks
    monthly: int  # the last backup of each of the last N months
    manual_quota: int  # manual backups kept at once
    manual_retention_days: int


@dataclass(frozen=True)
class TierLimits:
    max_users: int
    storage_gb: int
    # Days until the Odoo database's expiration date (renewed by billing later).
    expiration_days: int
    expiration_reason: str
    backups: BackupPolicy
    # The rate-limit plan (core/ratelimit.py's PLANS) its tenants' users get.
    rate_limit_class: str = DEFAULT_PLAN


TIERS: dict[str, TierLimits] = {
    "starter": TierLimits(
        max_users=5,
        storage_gb=5,
        expiration_days=30,
        expiration_reason="trial",
        backups=BackupPolicy(
            daily=7, weekly=4, monthly=3, manual_quota=5, manual_retention_days=90
        ),
        rate_limit_class="standard",
    ),
    "professional": TierLimits(
        max_users=50,
        storage_gb=50,
        expiration_days=365,
        expiration_reason="renewal",
        backups=BackupPolicy(
            daily=14, weekly=8, monthly=6, manual_quota=20, manual_retention_days=180
        ),
        rate_limit_class="premium",
    ),
    "enterprise": TierLimits(
        max_users=1000,
        storage_gb=500,
        expiration_days=365,
        expiration_reason="renewal",
        backups=BackupPolicy(
            daily=30, weekly=12, monthly=12, manual_quota=50, manual_retention_days=365
        ),
        rate_limit_class="enterprise",
    ),
}


# What a tier grants, read from the plan of that code (None: no such plan).
tier_grant: Provider[[AsyncSession, str], TierLimits | None] = Provider("tier_grant")


async def grant_for(session: AsyncSession, tier: str) -> TierLimits:
    """The tier's grant from its plan; the seeded default when no plan has that code (or
    in a process billing did not wire), and the starter's for an unknown tier."""
    if tier_grant.provided:
        granted = await tier_grant.ask(session, tier)
        if granted is not None:
            return granted
    return TIERS.get(tier, TIERS["starter"])


def expiry_for(limits: TierLimits, start: datetime) -> datetime:
    return start + timedelta(days=limits.expiration_days)
