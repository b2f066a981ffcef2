"""Tenants: creation rules, access, changes; ``TenantService`` gathers every tenant action.

Every function works in the caller's transaction and never commits. The other parts of the
service live next to this one: members and ownership (``members.py``), invitations
(``invitations.py``), deletion, grace and purge (``deletion.py``), and what they share
(``base.py``: ``TenantAccess``, the audit entry).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import AppError, Forbidden, ValidationFailed
from saas_server.events import service as events
from saas_server.tenants.base import (
    TenantAccess,
    TenantNotFound,
    TenantServiceBase,
    tenant_snapshot,
)
from saas_server.tenants.deletion import DeletionActions, grace_ends_at, purge_deleted_tenants
from saas_server.tenants.hooks import (
    NewTenant,
    tenant_created,
    tenant_instances,
    tenant_tier_changed,
)
from saas_server.tenants.invitations import INVITATION_TTL, InvitationActions, InvitationInvalid
from saas_server.tenants.members import LastOwner, MemberActions, MemberExists, MemberNotFound
from saas_server.tenants.models import (
    GONE_STATUSES,
    TIER_RANK,
    Membership,
    Tenant,
    TenantRole,
    TenantStatus,
    TenantTier,
)
from saas_server.tenants.rules import (
    metadata_problems,
    settings_problems,
    subdomain_of,
    subdomain_problems,
)
from saas_server.users.models import User

# Importable from here as before the split.
__all__ = [
    "INVITATION_TTL",
    "InvalidSubdomain",
    "InvitationActions",
    "InvitationInvalid",
    "LastOwner",
    "MemberExists",
    "MemberNotFound",
    "SubdomainTaken",
    "TenantAccess",
    "TenantLimitExceeded",
    "TenantNotFound",
    "TenantService",
    "TenantServiceBase",
    "check_subdomain_available",
    "check_subdomain_format",
    "check_tenant_fields",
    "grace_ends_at",
    "highest_tier",
    "owned_tenant_count",
    "purge_deleted_tenants",
    "subdomain_holder",
    "subdomain_taken",
    "tenant_snapshot",
]


class InvalidSubdomain(AppError):
    status_code = 400
    code = "INVALID_SUBDOMAIN"
    message = "The subdomain is invalid or already taken"


class SubdomainTaken(InvalidSubdomain):
    """Taken is one of the ways a subdomain is invalid (conventions.md): same code either way."""

    message = "This subdomain is already taken"
    unique_constraints = ("uq_tenants_subdomain_lower",)

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault(
            "details", {"subdomain": ["This subdomain is already taken."], "reason": "taken"}
        )
        super().__init__(message, **kwargs)


class TenantLimitExceeded(AppError):
    status_code = 400
    code = "TENANT_LIMIT_EXCEEDED"
    message = "You have reached the maximum number of tenants you may own"


def check_subdomain_format(subdomain: str) -> None:
    problems = subdomain_problems(subdomain)
    if problems:
        raise InvalidSubdomain(details={"subdomain": problems, "reason": "invalid"})


async def subdomain_holder(session: AsyncSession, subdomain: str) -> Tenant | None:
    """The tenant holding ``subdomain``: a live one, or a deleted one until it is purged."""
    return (
        await session.execute(
            select(Tenant)
            .where(func.lower(Tenant.subdomain) == subdomain.lower(), Tenant.purged_at.is_(None))
            .limit(1)
        )
    ).scalar_one_or_none()


async def subdomain_taken(session: AsyncSession, subdomain: str) -> bool:
    # Deleted tenants keep their subdomain until they are purged.
    return await subdomain_holder(session, subdomain) is not None


async def check_subdomain_available(
    session: AsyncSession, subdomain: str, *, grace_days: int | None = None
) -> None:
    check_subdomain_format(subdomain)
    holder = await subdomain_holder(session, subdomain)
    if holder is None:
        return
    held_until = grace_ends_at(holder, grace_days) if grace_days is not None else None
    if held_until is not None:
        when = clock.isoformat(held_until)
        raise InvalidSubdomain(
            f"This subdomain belonged to a deleted tenant and is held until {when}",
            details={
                "subdomain": [f"This subdomain is held until {when}."],
                "reason": "held",
                "held_until": when,
            },
        )
    raise SubdomainTaken()


def check_tenant_fields(settings: dict[str, Any] | None, metadata: dict[str, Any] | None) -> None:
    problems: dict[str, list[str]] = {}
    if settings:
        problems.update(settings_problems(settings))
    if metadata is not None:
        meta = metadata_problems(metadata)
        if meta:
            problems["metadata"] = meta
    if problems:
        raise ValidationFailed(details=problems)


async def owned_tenant_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.count(Tenant.id)).where(
            Tenant.owner_id == user_id, Tenant.status.not_in(GONE_STATUSES)
        )
    )
    return int(result.scalar_one())


async def highest_tier(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    """The highest tier among the live tenants ``user_id`` belongs to (None: no tenant)."""
    tiers = (
        await session.execute(
            select(Tenant.tier)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(Membership.user_id == user_id, Tenant.status.not_in(GONE_STATUSES))
            .distinct()
        )
    ).scalars()
    ranked = sorted(
        (TenantTier(t) for t in tiers if t in TenantTier._value2member_map_),
        key=TIER_RANK.__getitem__,
    )
    return ranked[-1].value if ranked else None


class TenantService(MemberActions, DeletionActions):
    # -- tenants ----------------------------------------------------------------------------

    async def create_tenant(
        self,
        actor: User,
        *,
        name: str,
        subdomain: str,
        tier: str = TenantTier.STARTER.value,
        settings: dict[str, Any] | None = None,
        contact_email: str | None = None,
        billing_address: str | None = None,
        metadata: dict[str, Any] | None = None,
        odoo_version: str | None = None,
        admin_email: str | None = None,
        admin_password: str | None = None,
        owner_id: uuid.UUID | None = None,
    ) -> Tenant:
        """Create the tenant, its owner membership and its Odoo instance, and defer the
        provisioning job: all in the caller's transaction."""
        if owner_id is not None and owner_id != actor.id:
            raise ValidationFailed.for_field(
                "owner_id",
                "A tenant is owned by the user who creates it; transfer the ownership afterwards.",
            )
        subdomain = subdomain_of(subdomain, self.settings.base_domain)
        if not actor.email_verified:
            raise Forbidden(
                "Verify your email address before creating a tenant",
                details={"reason": "email_not_verified"},
            )
        await check_subdomain_available(
            self.session, subdomain, grace_days=self.settings.subdomain_grace_days
        )
        check_tenant_fields(settings, metadata)
        if not actor.is_platform_admin:
            limit = (
                actor.tenant_limit
                if actor.tenant_limit is not None
                else self.settings.default_tenant_limit
            )
            if await owned_tenant_count(self.session, actor.id) >= limit:
                raise TenantLimitExceeded(details={"limit": limit})
        tenant = Tenant(
            name=name,
            subdomain=subdomain,
            tier=tier,
            status=TenantStatus.PROVISIONING.value,
            is_active=True,
            owner_id=actor.id,
            settings=dict(settings or {}),
            contact_email=contact_email or actor.email,
            billing_address=billing_address,
            metadata_=dict(metadata or {}),
        )
        self.session.add(tenant)
        # A concurrent request that took the subdomain first fails this flush: SubdomainTaken.
        await self.session.flush()
        self.session.add(
            Membership(tenant_id=tenant.id, user_id=actor.id, role=TenantRole.OWNER.value)
        )
        await self.session.flush()
        await tenant_created.fire(
            self.session,
            self.runtime,
            NewTenant(
                tenant=tenant,
                actor=actor,
                odoo_version=odoo_version or self.settings.default_odoo_version,
                admin_login=admin_email or actor.email,
                admin_password=admin_password,
            ),
        )
        await self._audit("tenant.created", tenant, actor, new_values=tenant_snapshot(tenant))
        instance = (await tenant_instances.ask(self.session, self.runtime, [tenant], False))[
            tenant.id
        ]
        await events.emit(
            self.session,
            events.TENANT_CREATED,
            {
                "tenant_id": str(tenant.id),
                "name": tenant.name,
                "subdomain": tenant.subdomain,
                "tier": tenant.tier,
                "owner_id": str(actor.id),
                "instance_id": str(instance.id),
                "odoo_version": instance.odoo_version,
            },
            tenant_id=tenant.id,
        )
        return tenant

    async def access(
        self, actor: User, tenant_id: uuid.UUID, *, include_deleted: bool = False
    ) -> TenantAccess:
        row = (
            await self.session.execute(
                select(Tenant, Membership.role)
                .outerjoin(
                    Membership,
                    (Membership.tenant_id == Tenant.id) & (Membership.user_id == actor.id),
                )
                .where(Tenant.id == tenant_id)
            )
        ).one_or_none()
        if row is None:
            raise TenantNotFound()
        tenant, role = row
        if role is None and not actor.is_platform_admin:
            raise TenantNotFound()
        if tenant.status in GONE_STATUSES and not actor.is_platform_admin:
            # Its owners follow a deletion and may recover the pre-delete backup, read-only,
            # until the grace period ends; for everyone else the tenant is gone at once.
            ends = grace_ends_at(tenant, self.settings.subdomain_grace_days)
            following = (
                include_deleted
                and role == TenantRole.OWNER.value
                and tenant.purged_at is None
                and (ends is None or clock.now() < ends)
            )
            if not following:
                raise TenantNotFound()
        return TenantAccess(tenant=tenant, role=role, actor=actor)

    def visible_tenants(self, actor: User) -> Select[Any]:
        stmt = select(Tenant)
        if not actor.is_platform_admin:
            stmt = stmt.where(
                Tenant.id.in_(select(Membership.tenant_id).where(Membership.user_id == actor.id))
            )
        return stmt

    async def member_count(self, tenant_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.count(Membership.id)).where(Membership.tenant_id == tenant_id)
        )
        return int(result.scalar_one())

    async def member_counts(self, tenant_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """``member_count`` of many tenants in one statement (a tenant without members: 0)."""
        if not tenant_ids:
            return {}
        result = await self.session.execute(
            select(Membership.tenant_id, func.count(Membership.id))
            .where(Membership.tenant_id.in_(tenant_ids))
            .group_by(Membership.tenant_id)
        )
        counts = {tenant_id: int(count) for tenant_id, count in result}
        return {tenant_id: counts.get(tenant_id, 0) for tenant_id in tenant_ids}

    async def update_tenant(self, access: TenantAccess, changes: dict[str, Any]) -> Tenant:
        access.require_manager()
        tenant = access.tenant
        if "subdomain" in changes and (
            subdomain_of(changes["subdomain"] or "", self.settings.base_domain) != tenant.subdomain
        ):
            raise InvalidSubdomain(
                "The subdomain of a tenant cannot be changed",
                details={"subdomain": ["The subdomain cannot be changed."], "reason": "immutable"},
            )
        if "is_active" in changes and not access.actor.is_platform_admin:
            if changes["is_active"] != tenant.is_active:
                raise Forbidden("Only platform administrators may suspend or resume a tenant")
        if "tier" in changes and changes["tier"] != tenant.tier:
            access.require_owner()
        settings = changes.get("settings")
        merged_settings = {**tenant.settings, **settings} if settings is not None else None
        check_tenant_fields(merged_settings, changes.get("metadata"))
        before = tenant_snapshot(tenant)
        for field in ("name", "tier", "contact_email", "billing_address", "is_active"):
            if field in changes and changes[field] is not None:
                setattr(tenant, field, changes[field])
        if merged_settings is not None:
            tenant.settings = merged_settings
        if changes.get("metadata") is not None:
            tenant.metadata_ = changes["metadata"]
        if before["tier"] != tenant.tier:
            await tenant_tier_changed.fire(self.session, self.runtime, tenant)
        await self.session.flush()
        after = tenant_snapshot(tenant)
        old = {k: v for k, v in before.items() if after[k] != v}
        new = {k: after[k] for k in old}
        if new:
            await self._audit("tenant.updated", tenant, access.actor, old, new)
            await events.emit(
                self.session,
                events.TENANT_UPDATED,
                {"tenant_id": str(tenant.id), "changes": new},
                tenant_id=tenant.id,
            )
        return tenant


async def tenant_visible_to(session: AsyncSession, user: User, tenant_id: uuid.UUID) -> bool:
    """Whether ``user`` may see tenant ``tenant_id`` (a member, or a platform admin): what
    auth asks before confining an API key to it."""
    stmt = select(Tenant.id).where(Tenant.id == tenant_id)
    if not user.is_platform_admin:
        stmt = stmt.where(
            Tenant.id.in_(select(Membership.tenant_id).where(Membership.user_id == user.id))
        )
    return (await session.execute(stmt)).first() is not None
