"""The /users API's rules: who may list, create, read, change and delete which accounts.

Above tenants and auth on the ladder (docs/decisions/0007-package-ladder.md): creating an
account here may add it to a tenant and mail it a link, which ``users`` (account rows and
their own rules) must not know about.

Platform admins may do everything. A tenant owner or admin may create users into their
tenants and list the users of those tenants. Everyone may read and update themself.
Anyone else's account answers 404 (``USER_NOT_FOUND``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.auth.service import AuthService
from saas_server.core.client import ClientInfo
from saas_server.core.errors import Forbidden, ValidationFailed
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.tenants.models import Membership
from saas_server.tenants.rules import managed_tenants
from saas_server.tenants.service import TenantService
from saas_server.users import service as users
from saas_server.users.models import PlatformRole, User
from saas_server.users.schemas import UserCreate, UserUpdate

SELF_EDITABLE = {"email", "full_name", "first_name", "last_name", "metadata"}


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "is_active": user.is_active,
        "metadata": user.metadata_,
        "tenant_limit": user.tenant_limit,
    }


class UserDirectory:
    def __init__(
        self, session: AsyncSession, runtime: Runtime, client: ClientInfo | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.client = client
        self.tenants = TenantService(session, runtime, client)

    def visible_users(self, actor: User, tenant_id: uuid.UUID | None = None) -> Select[Any]:
        stmt = select(User)
        if tenant_id is not None:
            stmt = stmt.where(
                User.id.in_(select(Membership.user_id).where(Membership.tenant_id == tenant_id))
            )
        if actor.is_platform_admin:
            return stmt
        # Deleted tenants count, as they always did here: their members stay visible.
        managed = managed_tenants(actor.id, include_gone=True)
        colleagues = select(Membership.user_id).where(Membership.tenant_id.in_(managed))
        return stmt.where(or_(User.id == actor.id, User.id.in_(colleagues)))

    async def check_tenant_filter(self, actor: User, tenant_id: uuid.UUID) -> None:
        await self.tenants.access(actor, tenant_id)

    async def get_visible(self, actor: User, user_id: uuid.UUID) -> User:
        found = (
            await self.session.execute(self.visible_users(actor).where(User.id == user_id))
        ).scalar_one_or_none()
        if found is None:
            raise users.UserNotFound()
        return found

    async def create(self, actor: User, body: UserCreate) -> User:
        role = body.platform_role() or PlatformRole.USER.value
        if not actor.is_platform_admin:
            if body.tenant_id is None:
                raise Forbidden(
                    "Tenant admins create users into one of their tenants: give tenant_id"
                )
            if role != PlatformRole.USER.value:
                raise Forbidden("Only platform administrators may create administrators")
        access = None
        if body.tenant_id is not None:
            access = await self.tenants.access(actor, body.tenant_id)
            access.require_manager()
        password = body.password
        user = await users.create_user(
            self.session,
            email=body.email,
            password=password,
            full_name=body.full_name,
            first_name=body.first_name,
            last_name=body.last_name,
            role=PlatformRole(role),
            # Created by someone else: the address is proven when its owner first uses it.
            email_verified=False,
        )
        user.is_active = body.is_active
        user.metadata_ = dict(body.metadata)
        auth = AuthService(self.session, self.runtime)
        if access is not None:
            await self.tenants.add_member(
                access, email=None, user_id=user.id, role=body.tenant_role
            )
        if password is None:
            # The reset mail lets the new user choose a password (and proves the address).
            await auth.request_password_reset(user.email)
        else:
            await auth.send_verification(user)
        await audit.record(
            self.session,
            action="user.created",
            resource_type="user",
            resource_id=user.id,
            actor_id=actor.id,
            tenant_id=body.tenant_id,
            new_values=user_snapshot(user),
            client=self.client,
        )
        return user

    async def update(self, actor: User, user: User, body: UserUpdate) -> User:
        changes = body.model_dump(exclude_unset=True)
        role = body.platform_role()
        changes.pop("roles", None)
        if role is not None:
            changes["role"] = role
        if not actor.is_platform_admin:
            if actor.id != user.id:
                raise Forbidden("You may only change your own account")
            forbidden = sorted(
                k for k, v in changes.items() if k not in SELF_EDITABLE and v != getattr(user, k)
            )
            if forbidden:
                raise Forbidden(
                    "Only platform administrators may change these fields",
                    details={"fields": forbidden},
                )
        before = user_snapshot(user)
        if "email" in changes and changes["email"] is not None:
            new_email = users.normalize_email(changes["email"])
            if new_email != user.email:
                if await users.find_by_email(self.session, new_email) is not None:
                    raise users.EmailTaken()
                user.email = new_email
                user.email_verified_at = None
                await AuthService(self.session, self.runtime).send_verification(user)
        users.update_names(
            user,
            full_name=changes.get("full_name"),
            first_name=changes.get("first_name"),
            last_name=changes.get("last_name"),
        )
        if changes.get("metadata") is not None:
            user.metadata_ = changes["metadata"]
        if "tenant_limit" in changes:
            user.tenant_limit = changes["tenant_limit"]
        if changes.get("role") is not None and changes["role"] != user.role:
            if user.id == actor.id:
                raise ValidationFailed.for_field("role", "You cannot change your own role.")
            user.role = changes["role"]
        if changes.get("is_active") is not None and changes["is_active"] != user.is_active:
            if user.id == actor.id:
                raise ValidationFailed.for_field("is_active", "You cannot suspend yourself.")
            user.is_active = changes["is_active"]
            if not user.is_active:
                await AuthService(self.session, self.runtime).revoke_all_sessions(
                    user.id, "suspended"
                )
        await self.session.flush()
        after = user_snapshot(user)
        old = {k: v for k, v in before.items() if after[k] != v}
        if old:
            await users.emit_user_event(self.session, events.USER_UPDATED, user, list(old))
            action = "user.role_changed" if "role" in old else "user.updated"
            await audit.record(
                self.session,
                action=action,
                resource_type="user",
                resource_id=user.id,
                actor_id=actor.id,
                old_values=old,
                new_values={k: after[k] for k in old},
                client=self.client,
            )
        return user

    async def delete(self, actor: User, user: User) -> None:
        if not actor.is_platform_admin and actor.id != user.id:
            raise Forbidden("You may only delete your own account")
        await self.tenants.before_user_deleted(user.id)
        await users.emit_user_event(self.session, events.USER_DELETED, user)
        await audit.record(
            self.session,
            action="user.deleted",
            resource_type="user",
            resource_id=user.id,
            actor_id=actor.id,
            old_values=user_snapshot(user),
            client=self.client,
        )
        await self.session.delete(user)
        await self.session.flush()
