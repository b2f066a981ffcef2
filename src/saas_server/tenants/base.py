"""What every part of the tenant service shares: the caller's access to a tenant, the
session and runtime it works in, and the audit entry it writes.

Access rules: a platform admin reaches every tenant; anyone else reaches only tenants they
are a member of, and any other tenant answers 404 (``TENANT_NOT_FOUND``) so ids do not leak.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core.client import ClientInfo
from saas_server.core.errors import Forbidden, NotFound
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.tenants.models import Tenant
from saas_server.tenants.rules import manages, owns
from saas_server.users.models import User


class TenantNotFound(NotFound):
    code = "TENANT_NOT_FOUND"
    message = "Tenant not found"


@dataclass(frozen=True)
class TenantAccess:
    """A tenant as the caller reaches it: their role there (None: platform admin only)."""

    tenant: Tenant
    role: str | None
    actor: User

    @property
    def can_manage(self) -> bool:
        return self.actor.is_platform_admin or manages(self.role)

    @property
    def is_owner(self) -> bool:
        return self.actor.is_platform_admin or owns(self.role)

    def require_manager(self) -> None:
        if not self.can_manage:
            raise Forbidden("Only the tenant's owners and admins may do this")

    def require_owner(self) -> None:
        if not self.is_owner:
            raise Forbidden("Only the tenant's owners may do this")


def tenant_snapshot(tenant: Tenant) -> dict[str, Any]:
    """What the audit trail records of a tenant."""
    return {
        "name": tenant.name,
        "subdomain": tenant.subdomain,
        "tier": tenant.tier,
        "status": tenant.status,
        "is_active": tenant.is_active,
        "owner_id": str(tenant.owner_id) if tenant.owner_id else None,
        "settings": tenant.settings,
        "contact_email": tenant.contact_email,
        "billing_address": tenant.billing_address,
        "metadata": tenant.metadata_,
    }


class TenantServiceBase:
    """The session, runtime and caller every part of ``TenantService`` works with; every
    method works in the caller's transaction and never commits."""

    def __init__(
        self, session: AsyncSession, runtime: Runtime, client: ClientInfo | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.client = client

    async def _member_event(self, type_: str, tenant: Tenant, actor: User, **data: Any) -> None:
        """A member or invitation event (events.MEMBER_*, INVITATION_*) in this transaction,
        for the tenant's owners and admins (the webhooks' reading rule): ``tenant_id``,
        ``actor_id`` (who did it) and ``data``."""
        await events.emit(
            self.session,
            type_,
            {"tenant_id": str(tenant.id), **data, "actor_id": str(actor.id)},
            tenant_id=tenant.id,
        )

    async def _audit(
        self,
        action: str,
        tenant: Tenant,
        actor: User,
        old_values: dict[str, Any] | None = None,
        new_values: dict[str, Any] | None = None,
        *,
        resource_type: str = "tenant",
        resource_id: uuid.UUID | None = None,
    ) -> None:
        await audit.record(
            self.session,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id or tenant.id,
            actor_id=actor.id,
            tenant_id=tenant.id,
            old_values=old_values,
            new_values=new_values,
            client=self.client,
        )
