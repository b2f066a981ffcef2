"""Members and ownership: adding, changing and removing members, transferring the
ownership, and what a user's tenants are (their deletion waits for another owner)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select

from saas_server.core.errors import Conflict, NotFound
from saas_server.events import service as events
from saas_server.tenants.base import TenantAccess
from saas_server.tenants.invitations import InvitationActions
from saas_server.tenants.models import GONE_STATUSES, Invitation, Membership, Tenant, TenantRole
from saas_server.tenants.rules import managed_tenant_ids
from saas_server.users import service as users
from saas_server.users.models import User


class MemberExists(Conflict):
    message = "This user is already a member of the tenant"
    unique_constraints = ("uq_tenant_memberships_tenant_id",)


class LastOwner(Conflict):
    message = "A tenant must keep at least one owner"


class MemberNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "This user is not a member of the tenant"


class MemberActions(InvitationActions):
    """Adding a member who has no account yet invites them: members build on invitations."""

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
        await self._member_event(
            events.MEMBER_ADDED,
            access.tenant,
            access.actor,
            user_id=str(user.id),
            email=user.email,
            role=role,
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
        await self._member_event(
            events.MEMBER_ROLE_CHANGED,
            access.tenant,
            access.actor,
            user_id=str(user_id),
            role=role,
            previous_role=old_role,
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
        await self._member_event(
            events.MEMBER_REMOVED,
            tenant,
            access.actor,
            user_id=str(user_id),
            role=membership.role,
            left=leaving_self,
        )

    async def transfer_ownership(self, access: TenantAccess, user_id: uuid.UUID) -> Tenant:
        """Make ``user_id`` the tenant's owner; the previous primary owner stays as admin."""
        access.require_owner()
        tenant = access.tenant
        target = await self._membership(tenant.id, user_id)
        previous_owner = tenant.owner_id
        if previous_owner == user_id:
            return tenant
        changed = [(user_id, target.role, TenantRole.OWNER.value)]
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
                changed.append((previous_owner, old.role, TenantRole.ADMIN.value))
                old.role = TenantRole.ADMIN.value
        await self.session.flush()
        await self._audit(
            "tenant.ownership_transferred",
            tenant,
            access.actor,
            {"owner_id": str(previous_owner) if previous_owner else None},
            {"owner_id": str(user_id)},
        )
        for member_id, before, after in changed:
            if before != after:
                await self._member_event(
                    events.MEMBER_ROLE_CHANGED,
                    tenant,
                    access.actor,
                    user_id=str(member_id),
                    role=after,
                    previous_role=before,
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
