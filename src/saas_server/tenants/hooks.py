"""What tenants let the packages above them do, without importing them (decision 0007).

Declared here, connected in :func:`saas_server.wiring.wire`: instances makes, re-tiers
and takes down a tenant's database; instances and backups answer what a tenant's answer
shows of them. Every hook runs in the caller's session and transaction (a tenant and its
provisioning job commit together, or neither does).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.hooks import Hook, Provider
from saas_server.core.runtime import Runtime
from saas_server.tenants.models import Tenant
from saas_server.tenants.schemas import InstanceRead
from saas_server.users.models import User


@dataclass(frozen=True)
class NewTenant:
    """A tenant just created (flushed, with its owner membership) and the database asked
    for it: the Odoo version, and the Odoo administrator (a password is generated when
    ``admin_password`` is None)."""

    tenant: Tenant
    actor: User
    odoo_version: str
    admin_login: str
    admin_password: str | None


# Make the new tenant's production database (and defer its provisioning job).
tenant_created: Hook[[AsyncSession, Runtime, NewTenant]] = Hook("tenant_created", required=True)

# The tenant's tier changed (already set on the row): its database follows.
tenant_tier_changed: Hook[[AsyncSession, Runtime, Tenant]] = Hook(
    "tenant_tier_changed", required=True
)

# The same for many tenants at once (a renewal batch): their databases follow, set-based.
tenant_tiers_changed: Hook[[AsyncSession, Runtime, Sequence[Tenant]]] = Hook(
    "tenant_tiers_changed", required=True
)

# The owner (the actor) deleted the tenant: take its database down. A handler that takes a
# database down moves the tenant to ``deleting`` (instances/lifecycle.py follows it); a
# tenant left in any other status had none, and is deleted at once.
tenant_deletion_requested: Hook[[AsyncSession, Runtime, Tenant, User]] = Hook(
    "tenant_deletion_requested", required=True
)

# Each tenant's production instance as its answer shows it (admin password included when
# the bool is true), for a whole page at once; tenants without one are left out.
tenant_instances: Provider[
    [AsyncSession, Runtime, Sequence[Tenant], bool], dict[uuid.UUID, InstanceRead]
] = Provider("tenant_instances")

# What a tenant's detail shows of its backups (count, last backup, next scheduled one).
tenant_backups: Provider[[AsyncSession, uuid.UUID], dict[str, Any]] = Provider("tenant_backups")

# What a tenant's detail shows of its resource usage: the latest sampled value of each metric
# (monitoring), ``{metric: {"value", "at"}}``.
tenant_metrics: Provider[[AsyncSession, uuid.UUID], dict[str, Any]] = Provider("tenant_metrics")

# How many live (not canceled) subscriptions each tenant has, for a whole page at once
# (billing answers; every id asked is in the answer).
tenant_subscription_counts: Provider[[AsyncSession, Sequence[uuid.UUID]], dict[uuid.UUID, int]] = (
    Provider("tenant_subscription_counts")
)
