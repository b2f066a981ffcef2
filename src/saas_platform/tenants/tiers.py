"""What each tier gives: limits written to the instance, and the database expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


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


TIERS: dict[str, TierLimits] = {
    "starter": TierLimits(
        max_users=5,
        storage_gb=5,
        expiration_days=30,
        expiration_reason="trial",
        backups=BackupPolicy(
            daily=7, weekly=4, monthly=3, manual_quota=5, manual_retention_days=90
        ),
    ),
    "professional": TierLimits(
        max_users=50,
        storage_gb=50,
        expiration_days=365,
        expiration_reason="renewal",
        backups=BackupPolicy(
            daily=14, weekly=8, monthly=6, manual_quota=20, manual_retention_days=180
        ),
    ),
    "enterprise": TierLimits(
        max_users=1000,
        storage_gb=500,
        expiration_days=365,
        expiration_reason="renewal",
        backups=BackupPolicy(
            daily=30, weekly=12, monthly=12, manual_quota=50, manual_retention_days=365
        ),
    ),
}


def expiry_for(tier: str, start: datetime) -> datetime:
    return start + timedelta(days=TIERS[tier].expiration_days)
