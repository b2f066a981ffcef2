"""Each tier's backup policy, with the operator's overrides from settings."""

from __future__ import annotations

import dataclasses

from saas_platform.core.settings import Settings
from saas_platform.tenants.tiers import TIERS, BackupPolicy


def policy_for(settings: Settings, tier: str) -> BackupPolicy:
    """``SAAS_BACKUP_POLICIES='{"starter": {"daily": 10}}'`` changes what it names."""
    base = TIERS[tier].backups if tier in TIERS else TIERS["starter"].backups
    override = settings.backup_policies.get(tier)
    return dataclasses.replace(base, **override) if override else base
