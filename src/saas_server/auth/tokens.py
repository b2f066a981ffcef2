"""Single-use tokens for mailed links (verify an address, reset a password, unlock sign-ins),
and the base every part of the auth service builds on.

Every function works inside the caller's transaction (request, CLI command or job) and never
commits by itself.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.auth.models import ActionToken
from saas_server.core import clock
from saas_server.core.crypto import hash_token, new_token
from saas_server.core.errors import AppError
from saas_server.core.runtime import Runtime
from saas_server.core.security import AccessTokens
from saas_server.users.models import User

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"
LOGIN_UNLOCK = "login_unlock"


class InvalidActionToken(AppError):
    status_code = 400
    code = "INVALID_TOKEN"
    message = "The token is invalid, expired or already used"


class AuthBase:
    """What every part of the auth service shares: the caller's session and runtime, and
    the single-use tokens mailed links carry."""

    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.access_tokens: AccessTokens = runtime.access_tokens

    async def _issue_action_token(self, user: User, purpose: str, ttl: timedelta) -> str:
        raw = new_token(32)
        now = clock.now()
        self.session.add(
            ActionToken(
                user_id=user.id,
                purpose=purpose,
                token_hash=hash_token(raw),
                created_at=now,
                expires_at=now + ttl,
            )
        )
        await self.session.flush()
        return raw

    async def _peek_action_token(self, raw: str, purpose: str) -> ActionToken:
        action = (
            await self.session.execute(
                select(ActionToken)
                .where(ActionToken.token_hash == hash_token(raw), ActionToken.purpose == purpose)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if action is None or action.used_at is not None or action.expires_at <= clock.now():
            raise InvalidActionToken()
        return action

    async def _consume_action_token(self, raw: str, purpose: str) -> ActionToken:
        action = await self._peek_action_token(raw, purpose)
        action.used_at = clock.now()
        return action

    async def _expire_action_tokens(self, user_id: uuid.UUID, purpose: str) -> None:
        await self.session.execute(
            update(ActionToken)
            .where(
                ActionToken.user_id == user_id,
                ActionToken.purpose == purpose,
                ActionToken.used_at.is_(None),
            )
            .values(used_at=clock.now())
        )
