"""Invitations: an email invited to a tenant joins it once, with the mailed token."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select

from saas_server.core import clock
from saas_server.core.crypto import hash_token, new_token
from saas_server.core.errors import AppError, Forbidden, NotFound
from saas_server.events import service as events
from saas_server.mail.service import Mail, queue_mail
from saas_server.tenants.base import TenantAccess, TenantServiceBase
from saas_server.tenants.models import GONE_STATUSES, Invitation, Membership, Tenant
from saas_server.users import service as users
from saas_server.users.models import User

INVITATION_TTL = timedelta(days=7)


class InvitationInvalid(AppError):
    status_code = 400
    code = "INVALID_TOKEN"
    message = "The invitation is invalid, expired or already used"


class InvitationActions(TenantServiceBase):
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
        await self._member_event(
            events.INVITATION_CREATED,
            access.tenant,
            access.actor,
            invitation_id=str(invitation.id),
            email=email,
            role=role,
            expires_at=clock.isoformat(invitation.expires_at),
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
            await self._member_event(
                events.INVITATION_REVOKED,
                access.tenant,
                access.actor,
                invitation_id=str(invitation.id),
                email=invitation.email,
                role=invitation.role,
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
        joined = membership is None
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
        await self._member_event(
            events.INVITATION_ACCEPTED,
            tenant,
            actor,
            invitation_id=str(invitation.id),
            user_id=str(actor.id),
            email=actor.email,
            role=membership.role,
        )
        if joined:
            await self._member_event(
                events.MEMBER_ADDED,
                tenant,
                actor,
                user_id=str(actor.id),
                email=actor.email,
                role=membership.role,
            )
        return tenant, membership
