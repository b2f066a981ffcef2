"""Password reset by mailed link, and password change: both end sessions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from saas_server.audit import service as audit
from saas_server.auth.login import Logins
from saas_server.auth.models import AuthSession
from saas_server.auth.sessions import Principal
from saas_server.auth.tokens import PASSWORD_RESET
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import AppError
from saas_server.core.security import password_hasher
from saas_server.mail.service import Mail, queue_mail
from saas_server.users import service as users
from saas_server.users.models import User


class Passwords(Logins):
    """Forgotten passwords (a mailed link) and changing one's own."""

    async def request_password_reset(self, email: str, client: ClientInfo | None = None) -> None:
        user = await users.find_by_email(self.session, email)
        if user is None or not user.is_active:
            return
        # Only the newest reset link works.
        await self._expire_action_tokens(user.id, PASSWORD_RESET)
        minutes = self.settings.password_reset_ttl_minutes
        token = await self._issue_action_token(user, PASSWORD_RESET, timedelta(minutes=minutes))
        link = f"{self.settings.public_url}/reset-password?token={token}"
        await queue_mail(
            self.session,
            self.runtime.secrets,
            Mail(
                to=user.email,
                subject="Reset your password",
                text=(
                    f"Hello {user.full_name or user.email},\n\n"
                    f"Someone asked to reset the password of this account. To choose a new "
                    f"one, open this link:\n\n{link}\n\n"
                    f"The link works once and expires in {minutes} minutes. If you did not ask "
                    f"for it, ignore this mail; your password stays as it is.\n"
                ),
            ),
        )
        # No actor: asking needs no proof of identity.
        await audit.record(
            self.session,
            action=audit.AUTH_PASSWORD_RESET_REQUESTED,
            resource_type="user",
            resource_id=user.id,
            client=client,
        )

    async def confirm_password_reset(
        self, token: str, new_password: str, client: ClientInfo | None = None
    ) -> User:
        action = await self._peek_action_token(token, PASSWORD_RESET)
        user = await users.get_user(self.session, action.user_id)
        users.set_password(user, new_password)
        action.used_at = clock.now()
        # Following the link proves the address is the user's.
        if user.email_verified_at is None:
            user.email_verified_at = clock.now()
        await self.revoke_all_sessions(user.id, "password_reset")
        await self._clear_login_counters(users.normalize_email(user.email))
        await audit.record(
            self.session,
            action=audit.AUTH_PASSWORD_RESET,
            resource_type="user",
            resource_id=user.id,
            actor_id=user.id,
            new_values={"password_changed_at": user.password_changed_at, "sessions_ended": "all"},
            client=client,
        )
        return user

    async def change_password(
        self,
        principal: Principal,
        current_password: str,
        new_password: str,
        client: ClientInfo | None = None,
    ) -> None:
        # The row itself: the principal's copy is read-only and has no password hash.
        user = await users.get_user(self.session, principal.user.id)
        if not password_hasher.verify(current_password, user.password_hash):
            raise AppError(
                "The current password is wrong",
                details={"current_password": ["The current password is wrong."]},
            )
        users.set_password(user, new_password)
        await self.session.execute(
            update(AuthSession)
            .where(
                AuthSession.user_id == user.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.id != principal.session_id,
            )
            .values(revoked_at=clock.now(), revoked_reason="password_change")
        )
        await audit.record(
            self.session,
            action=audit.AUTH_PASSWORD_CHANGED,
            resource_type="user",
            resource_id=user.id,
            actor_id=user.id,
            new_values={
                "password_changed_at": user.password_changed_at,
                "sessions_ended": "others",
            },
            client=client,
        )
