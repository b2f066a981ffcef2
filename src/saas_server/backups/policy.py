"""Each tier's backup policy, with the operator's overrides from settings."""

from __future__ import annotations

import dataclasses

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.settings import Settings
from saas_server.tenants.tiers import BackupPolicy, grant_for


async def policy_for(session: AsyncSession, settings: Settings, tier: str) -> BackupPolicy:
    """The tier's plan's policy (tenants/tiers.py); ``SAAS_BACKUP_POLICIES='{"starter":
    {"daily": 10}}'`` changes what it names."""
    base = (await grant_for(session, tier)).backups
    override = settings.backup_policies.get(tier)
    return dataclasses.replace(base, **override) if override else base
