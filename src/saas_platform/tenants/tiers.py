"""What each tier gives: limits written to the instance, and the database expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TierLimits:
    max_users: int
    storage_gb: int
    # Days until the Odoo database's expiration date (renewed by billing later).
    expiration_days: int
    expiration_reason: str


TIERS: dict[str, TierLimits] = {
    "starter": TierLimits(max_users=5, storage_gb=5, expiration_days=30, expiration_reason="trial"),
    "professional": TierLimits(
        max_users=50, storage_gb=50, expiration_days=365, expiration_reason="renewal"
    ),
    "enterprise": TierLimits(
        max_users=1000, storage_gb=500, expiration_days=365, expiration_reason="renewal"
    ),
}


def expiry_for(tier: str, start: datetime) -> datetime:
    return start + timedelta(days=TIERS[tier].expiration_days)
