"""Tenants and their members: creation rules, access, roles, invitations.

Every function works in the caller's transaction and never commits. Access rules: a platform
admin reaches every tenant; anyone else reaches only tenants they are a member of, and any
other tenant answers 404 (``TENANT_NOT_FOUND``) so ids do not leak.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_platform.audit import service as audit
from saas_platform.core import clock
from saas_platform.core.client import ClientInfo
from saas_platform.core.crypto import hash_token, new_token
from saas_platform.core.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from saas_platform.core.runtime import Runtime
from saas_platform.events import service as events
from saas_platform.instances import service as instances
from saas_platform.mail.service import Mail, queue_mail
from saas_platform.tenants.models import (
    GONE_STATUSES,
    TIER_RANK,
    Invitation,
    Membership,
    Tenant,
    TenantRole,
    TenantStatus,
    TenantTier,
)
from saas_platform.tenants.rules import (
    managed_tenant_ids,
    manages,
    metadata_problems,
    owns,
    settings_problems,
    subdomain_of,
    subdomain_problems,
)
from saas_platform.users import service as users
from saas_platform.users.models import User

INVITATION_TTL = timedelta(days=7)


class TenantNotFound(NotFound):
    code = "TENANT_NOT_FOUND"
    message = "Tenant not found"


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


class MemberExists(Conflict):
    message = "This user is already a member of the tenant"
    unique_constraints = ("uq_tenant_memberships_tenant_id",)


class TenantLimitExceeded(AppError):
    status_code = 400
    code = "TENANT_LIMIT_EXCEEDED"
    message = "You have reached the maximum number of tenants you may own"


class LastOwner(Conflict):
    message = "A tenant must keep at least one owner"


class InvitationInvalid(AppError):
    status_code = 400
    code = "INVALID_TOKEN"
    message = "The invitation is invalid, expired or already used"


class MemberNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "This user is not a member of the tenant"


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


def grace_ends_at(tenant: Tenant, grace_days: int) -> datetime | None:
    """When a deleted tenant's grace period ends: its subdomain is free again, its owners no
    longer reach it, and (by default, as long) its pre-delete backup expires."""
    if tenant.deleted_at is None or tenant.status not in GONE_STATUSES:
        return None
    return tenant.deleted_at + timedelta(days=grace_days)


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


class TenantService:
    def __init__(
        self, session: AsyncSession, runtime: Runtime, client: ClientInfo | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.client = client

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
        instance = await instances.create_for_tenant(
            self.session,
            self.runtime,
            tenant,
            odoo_version=odoo_version or self.settings.default_odoo_version,
            admin_login=admin_email or actor.email,
            admin_password=admin_password,
        )
        await self._audit("tenant.created", tenant, actor, new_values=tenant_snapshot(tenant))
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
            instance = await instances.production_instance(self.session, tenant.id)
            if instance is not None:
                await instances.InstanceService(self.session, self.runtime).apply_tier(
                    instance, tenant.tier
                )
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

    async def delete_tenant(self, access: TenantAccess) -> Tenant:
        """The row stays (and keeps its subdomain until the grace period ends); the
        deletion job drops the Odoo database and marks the tenant deleted."""
        access.require_owner()
        tenant = access.tenant
        if tenant.status in GONE_STATUSES:
            return tenant
        before = tenant_snapshot(tenant)
        tenant.is_active = False
        tenant.deleted_at = clock.now()
        instance = await instances.production_instance(self.session, tenant.id)
        if instance is not None:
            await instances.InstanceService(self.session, self.runtime).request_deletion(
                instance, access.actor.id
            )
        else:
            tenant.status = TenantStatus.DELETED.value
        await self.session.flush()
        await self._audit("tenant.deleted", tenant, access.actor, before, {"status": tenant.status})
        return tenant

    # -- members ----------------------------------------------------------------------------

    def members_query(self, tenant_id: uuid.UUID) -> Select[Membership, User]:
        return (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant_id)
        )

    async def _membership(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Membership:
        membership = (
            await self.session.execute(
                select(Membership)
                .where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if membership is None:
            raise MemberNotFound()
        return membership

    async def _owner_count(self, tenant_id: uuid.UUID) -> int:
        # Lock the owner rows so two concurrent demotions cannot both pass the check.
        owners = (
            await self.session.execute(
                select(Membership.id)
                .where(
                    Membership.tenant_id == tenant_id,
                    Membership.role == TenantRole.OWNER.value,
                )
                .with_for_update()
            )
        ).all()
        return len(owners)

    async def add_member(
        self, access: TenantAccess, *, email: str | None, user_id: uuid.UUID | None, role: str
    ) -> tuple[Membership | None, Invitation | None, User | None]:
        """Add an existing account at once, or invite an email that has no account yet."""
        access.require_manager()
        if role == TenantRole.OWNER.value:
            access.require_owner()
        user: User | None = None
        if user_id is not None:
            user = await self.session.get(User, user_id)
            if user is None:
                raise users.UserNotFound()
        elif email:
            user = await users.find_by_email(self.session, email)
        if user is None:
            assert email is not None
            invitation = await self.invite(access, email, role)
            return None, invitation, None
        existing = (
            await self.session.execute(
                select(Membership).where(
                    Membership.tenant_id == access.tenant.id, Membership.user_id == user.id
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            raise MemberExists()
        membership = Membership(tenant_id=access.tenant.id, user_id=user.id, role=role)
        self.session.add(membership)
        await self.session.flush()
        await self._audit(
            "member.added",
            access.tenant,
            access.actor,
            new_values={"user_id": str(user.id), "email": user.email, "role": role},
            resource_type="membership",
            resource_id=membership.id,
        )
        return membership, None, user

    async def change_role(self, access: TenantAccess, user_id: uuid.UUID, role: str) -> Membership:
        access.require_manager()
        membership = await self._membership(access.tenant.id, user_id)
        if role == membership.role:
            return membership
        # Owners are made and unmade by owners only.
        if TenantRole.OWNER.value in (role, membership.role):
            access.require_owner()
        if (
            membership.role == TenantRole.OWNER.value
            and await self._owner_count(access.tenant.id) <= 1
        ):
            raise LastOwner()
        old_role = membership.role
        membership.role = role
        await self.session.flush()
        await self._audit(
            "member.role_changed",
            access.tenant,
            access.actor,
            {"user_id": str(user_id), "role": old_role},
            {"user_id": str(user_id), "role": role},
            resource_type="membership",
            resource_id=membership.id,
        )
        return membership

    async def remove_member(self, access: TenantAccess, user_id: uuid.UUID) -> None:
        leaving_self = user_id == access.actor.id
        if not leaving_self:
            access.require_manager()
        membership = await self._membership(access.tenant.id, user_id)
        if membership.role == TenantRole.OWNER.value:
            if not leaving_self:
                access.require_owner()
            if await self._owner_count(access.tenant.id) <= 1:
                raise LastOwner()
        await self.session.delete(membership)
        tenant = access.tenant
        if tenant.owner_id == user_id:
            tenant.owner_id = await self._another_owner(tenant.id, exclude=user_id)
        await self.session.flush()
        await self._audit(
            "member.removed",
            tenant,
            access.actor,
            old_values={"user_id": str(user_id), "role": membership.role},
            resource_type="membership",
            resource_id=membership.id,
        )

    async def transfer_ownership(self, access: TenantAccess, user_id: uuid.UUID) -> Tenant:
        """Make ``user_id`` the tenant's owner; the previous primary owner stays as admin."""
        access.require_owner()
        tenant = access.tenant
        target = await self._membership(tenant.id, user_id)
        previous_owner = tenant.owner_id
        if previous_owner == user_id:
            return tenant
        target.role = TenantRole.OWNER.value
        tenant.owner_id = user_id
        if previous_owner is not None:
            old = (
                await self.session.execute(
                    select(Membership).where(
                        Membership.tenant_id == tenant.id, Membership.user_id == previous_owner
                    )
                )
            ).scalar_one_or_none()
            if old is not None:
                old.role = TenantRole.ADMIN.value
        await self.session.flush()
        await self._audit(
            "tenant.ownership_transferred",
            tenant,
            access.actor,
            {"owner_id": str(previous_owner) if previous_owner else None},
            {"owner_id": str(user_id)},
        )
        return tenant

    async def _another_owner(self, tenant_id: uuid.UUID, exclude: uuid.UUID) -> uuid.UUID | None:
        return (
            await self.session.execute(
                select(Membership.user_id)
                .where(
                    Membership.tenant_id == tenant_id,
                    Membership.role == TenantRole.OWNER.value,
                    Membership.user_id != exclude,
                )
                .order_by(Membership.created_at)
                .limit(1)
            )
        ).scalar_one_or_none()

    # -- invitations ------------------------------------------------------------------------

    async def invite(self, access: TenantAccess, email: str, role: str) -> Invitation:
        access.require_manager()
        email = users.normalize_email(email)
        # A new invitation replaces any pending one for the same address.
        pending = (
            await self.session.execute(
                select(Invitation).where(
                    Invitation.tenant_id == access.tenant.id,
                    Invitation.email == email,
                    Invitation.accepted_at.is_(None),
                    Invitation.revoked_at.is_(None),
                )
            )
        ).scalars()
        for old in pending:
            old.revoked_at = clock.now()
        raw = new_token(32)
        invitation = Invitation(
            tenant_id=access.tenant.id,
            email=email,
            role=role,
            token_hash=hash_token(raw),
            invited_by_id=access.actor.id,
            expires_at=clock.now() + INVITATION_TTL,
        )
        self.session.add(invitation)
        await self.session.flush()
        link = f"{self.settings.public_url}/accept-invitation?token={raw}"
        inviter = access.actor.full_name or access.actor.email
        await queue_mail(
            self.session,
            self.runtime.secrets,
            Mail(
                to=email,
                subject=f"You are invited to join {access.tenant.name}",
                text=(
                    f"Hello,\n\n{inviter} invites you to join {access.tenant.name} as {role}.\n\n"
                    f"Create an account with this address (or sign in), then accept:\n\n{link}\n\n"
                    f"The invitation works once and expires in {INVITATION_TTL.days} days.\n"
                ),
            ),
        )
        await self._audit(
            "member.invited",
            access.tenant,
            access.actor,
            new_values={"email": email, "role": role},
            resource_type="invitation",
            resource_id=invitation.id,
        )
        return invitation

    def invitations_query(self, tenant_id: uuid.UUID) -> Select[Any]:
        return select(Invitation).where(
            Invitation.tenant_id == tenant_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )

    async def revoke_invitation(self, access: TenantAccess, invitation_id: uuid.UUID) -> None:
        access.require_manager()
        invitation = await self.session.get(Invitation, invitation_id)
        if invitation is None or invitation.tenant_id != access.tenant.id:
            raise NotFound("Invitation not found")
        if invitation.accepted_at is None and invitation.revoked_at is None:
            invitation.revoked_at = clock.now()
            await self._audit(
                "member.invitation_revoked",
                access.tenant,
                access.actor,
                old_values={"email": invitation.email, "role": invitation.role},
                resource_type="invitation",
                resource_id=invitation.id,
            )

    async def accept_invitation(self, actor: User, token: str) -> tuple[Tenant, Membership]:
        invitation = (
            await self.session.execute(
                select(Invitation)
                .where(Invitation.token_hash == hash_token(token))
                .with_for_update()
            )
        ).scalar_one_or_none()
        now = clock.now()
        if (
            invitation is None
            or invitation.accepted_at is not None
            or invitation.revoked_at is not None
            or invitation.expires_at <= now
        ):
            raise InvitationInvalid()
        if invitation.email != actor.email:
            raise Forbidden(
                "This invitation was sent to another email address",
                details={"reason": "email_mismatch"},
            )
        tenant = await self.session.get(Tenant, invitation.tenant_id)
        if tenant is None or tenant.status in GONE_STATUSES:
            raise InvitationInvalid()
        invitation.accepted_at = now
        # The token arrived by mail at this address: that proves the address.
        if actor.email_verified_at is None:
            actor.email_verified_at = now
        membership = (
            await self.session.execute(
                select(Membership).where(
                    Membership.tenant_id == tenant.id, Membership.user_id == actor.id
                )
            )
        ).scalar_one_or_none()
        if membership is None:
            membership = Membership(tenant_id=tenant.id, user_id=actor.id, role=invitation.role)
            self.session.add(membership)
        await self.session.flush()
        await self._audit(
            "member.joined",
            tenant,
            actor,
            new_values={"user_id": str(actor.id), "role": membership.role},
            resource_type="membership",
            resource_id=membership.id,
        )
        return tenant, membership

    # -- users' view ------------------------------------------------------------------------

    def tenants_of_user(self, user_id: uuid.UUID, *, owned_only: bool = False) -> Select[Any]:
        memberships = select(Membership.tenant_id).where(Membership.user_id == user_id)
        if owned_only:
            memberships = memberships.where(Membership.role == TenantRole.OWNER.value)
        return select(Tenant).where(Tenant.id.in_(memberships), Tenant.status.not_in(GONE_STATUSES))

    async def tenants_where_sole_owner(self, user_id: uuid.UUID) -> list[Tenant]:
        other_owner = (
            select(Membership.id)
            .where(
                Membership.tenant_id == Tenant.id,
                Membership.role == TenantRole.OWNER.value,
                Membership.user_id != user_id,
            )
            .exists()
        )
        result = await self.session.execute(
            self.tenants_of_user(user_id, owned_only=True).where(~other_owner)
        )
        return list(result.scalars())

    async def managed_tenant_ids(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        return list(await managed_tenant_ids(self.session, user_id))

    async def before_user_deleted(self, user_id: uuid.UUID) -> None:
        """Refuse while the user is a tenant's last owner; hand primary ownership on."""
        sole = await self.tenants_where_sole_owner(user_id)
        if sole:
            raise Conflict(
                "This user is the last owner of a tenant; transfer ownership or delete it first",
                details={"tenants": [{"id": str(t.id), "name": t.name} for t in sole]},
            )
        owned = (
            await self.session.execute(select(Tenant).where(Tenant.owner_id == user_id))
        ).scalars()
        for tenant in owned:
            tenant.owner_id = await self._another_owner(tenant.id, exclude=user_id)

    # -- internals --------------------------------------------------------------------------

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


async def purge_deleted_tenants(session: AsyncSession, grace_days: int) -> int:
    """Mark tenants deleted more than ``grace_days`` ago as purged: their subdomain is free."""
    cutoff = clock.now() - timedelta(days=grace_days)
    tenants = (
        await session.execute(
            select(Tenant).where(
                Tenant.status == TenantStatus.DELETED.value,
                Tenant.purged_at.is_(None),
                Tenant.deleted_at < cutoff,
            )
        )
    ).scalars()
    count = 0
    for tenant in tenants:
        tenant.purged_at = clock.now()
        count += 1
    await session.flush()
    return count
