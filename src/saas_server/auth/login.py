"""Login with lockout (docs/decisions/0004, 0005): counters per account and per source, the
unlock link.
"""

from __future__ import annotations

import ipaddress
import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from saas_server.audit import service as audit
from saas_server.auth.models import LoginThrottle
from saas_server.auth.sessions import IssuedTokens, Sessions
from saas_server.auth.tokens import LOGIN_UNLOCK
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import RateLimited, Unauthorized
from saas_server.core.security import password_hasher
from saas_server.mail.service import Mail, queue_mail
from saas_server.users import service as users
from saas_server.users.models import User

# Kept here rather than among audit's names: only this module records it.
AUTH_LOGIN_UNLOCKED = "auth.login_unlocked"


def login_source(ip: str | None) -> str:
    """The source address a failed login is counted under (docs/decisions/0004).

    IPv6 counts by /64: one customer's network, in which an attacker may pick any address.
    """
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class InvalidCredentials(Unauthorized):
    # The same answer for an unknown email, a wrong password and a suspended account.
    message = "Invalid email or password"
    keeps_changes = True  # the failure is counted towards the lockout


class AccountLocked(RateLimited):
    message = "Too many failed logins for this account; try again later"
    keeps_changes = True  # the refused attempt's audit entry is kept


class Logins(Sessions):
    """Signing in with a password, within the lockout rule, and the mailed unlock link."""

    async def login(self, identifier: str, password: str, client: ClientInfo) -> IssuedTokens:
        """Check a password, within the lockout rule of docs/decisions/0005-login-lockout.md."""
        email = users.normalize_email(identifier)
        now = clock.now()
        # Both counters stay locked until the transaction ends: concurrent attempts on one
        # account take turns, so no more passwords are checked than the rule allows.
        account, from_source = await self._lock_login_counters(email, login_source(client.ip))
        refusal = self._lockout(account, from_source, now)
        if refusal is not None:
            reason, locked_until = refusal
            await self._audit_login_refused(audit.AUTH_LOGIN_LOCKED, email, reason, client)
            raise AccountLocked(retry_after=math.ceil((locked_until - now).total_seconds()))

        user = await users.find_by_email(self.session, email)
        valid = password_hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid or not user.is_active:
            self._count_failure(from_source, self.settings.login_lockout_threshold, now)
            account_locked_now = self._count_failure(
                account, self.settings.login_lockout_account_threshold, now
            )
            if account_locked_now and user is not None and user.is_active:
                await self._send_unlock_link(user)
            if user is None:
                reason = "unknown_email"
            elif not valid:
                reason = "wrong_password"
            else:
                reason = "account_suspended"
            await self._audit_login_refused(
                audit.AUTH_LOGIN_FAILED, email, reason, client, user.id if user else None
            )
            raise InvalidCredentials()

        # This source has proven itself: its count starts over, and it is spared by the
        # account-wide lock. The account-wide count runs on: other sources' failures stand.
        self._clear(from_source, now)
        from_source.trusted_until = now + timedelta(days=self.settings.login_trusted_source_days)
        user.last_login_at = now
        issued = await self._start_session(user, client)
        await audit.record(
            self.session,
            action=audit.AUTH_LOGIN,
            resource_type="user",
            resource_id=user.id,
            actor_id=user.id,
            new_values={"session_id": issued.session_id, "last_login_at": now},
            client=client,
        )
        return issued

    async def _audit_login_refused(
        self,
        action: str,
        email: str,
        reason: str,
        client: ClientInfo,
        user_id: uuid.UUID | None = None,
    ) -> None:
        # No actor: the caller did not prove who they are. The account, if any, is the
        # resource.
        await audit.record(
            self.session,
            action=action,
            resource_type="user",
            resource_id=user_id,
            new_values={"email": email, "reason": reason},
            client=client,
        )

    async def unlock_login(self, token: str, client: ClientInfo) -> User:
        """Follow the mailed unlock link: lift the account-wide lock, and trust the source
        that opened the link, so its owner signs in even while the attack goes on."""
        action = await self._consume_action_token(token, LOGIN_UNLOCK)
        user = await users.get_user(self.session, action.user_id)
        now = clock.now()
        account, from_source = await self._lock_login_counters(
            users.normalize_email(user.email), login_source(client.ip)
        )
        self._clear(account, now)
        self._clear(from_source, now)
        from_source.trusted_until = now + max(
            timedelta(days=self.settings.login_trusted_source_days),
            timedelta(seconds=self.settings.login_lockout_seconds),
        )
        await audit.record(
            self.session,
            action=AUTH_LOGIN_UNLOCKED,
            resource_type="user",
            resource_id=user.id,
            actor_id=user.id,
            new_values={"email": user.email},
            client=client,
        )
        return user

    async def _lock_login_counters(
        self, email: str, source: str
    ) -> tuple[LoginThrottle, LoginThrottle]:
        """The account-wide counter and the source's, created if new, locked until the
        transaction ends. Always in that order (account-wide first), so two transactions
        locking one account's counters never wait on each other in a cycle."""
        now = clock.now()
        rows = [
            {"email": email, "source": source_key, "failures": 0, "window_started_at": now}
            for source_key in (LoginThrottle.ACCOUNT_WIDE, source)
        ]
        insert = pg_insert(LoginThrottle).values(rows)
        # The update changes nothing; it is there to lock the row and return it.
        upsert = insert.on_conflict_do_update(
            index_elements=[LoginThrottle.email, LoginThrottle.source],
            set_={"email": insert.excluded.email},
        ).returning(LoginThrottle)
        found = (
            await self.session.scalars(upsert, execution_options={"populate_existing": True})
        ).all()
        by_source = {row.source: row for row in found}
        return by_source[LoginThrottle.ACCOUNT_WIDE], by_source[source]

    async def _clear_login_counters(self, email: str) -> None:
        # The account-wide row first, as every login takes it (see _lock_login_counters).
        await self.session.execute(
            select(LoginThrottle.email)
            .where(LoginThrottle.email == email, LoginThrottle.source == LoginThrottle.ACCOUNT_WIDE)
            .with_for_update()
        )
        await self.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.email == email)
            .values(failures=0, locked_until=None, window_started_at=clock.now())
        )

    @staticmethod
    def _lockout(
        account: LoginThrottle, from_source: LoginThrottle, now: datetime
    ) -> tuple[str, datetime] | None:
        """Why and until when this attempt is refused without checking the password."""
        if from_source.locked_until is not None and from_source.locked_until > now:
            return "source_locked", from_source.locked_until
        trusted = from_source.trusted_until is not None and from_source.trusted_until > now
        if account.locked_until is not None and account.locked_until > now and not trusted:
            return "account_locked", account.locked_until
        return None

    def _count_failure(self, counter: LoginThrottle, threshold: int, now: datetime) -> bool:
        """Count one failure; True when it is the one that locks the counter."""
        window = timedelta(seconds=self.settings.login_lockout_window_seconds)
        if counter.window_started_at <= now - window:
            counter.failures = 0
            counter.window_started_at = now
        counter.failures += 1
        locked = counter.locked_until is not None and counter.locked_until > now
        if counter.failures >= threshold and not locked:
            counter.locked_until = now + timedelta(seconds=self.settings.login_lockout_seconds)
            return True
        return False

    @staticmethod
    def _clear(counter: LoginThrottle, now: datetime) -> None:
        counter.failures = 0
        counter.window_started_at = now
        counter.locked_until = None

    async def _send_unlock_link(self, user: User) -> None:
        # Older links stay valid until they expire: they can only unlock, and leaving them
        # alone keeps this (run under the counters' locks) from waiting on their rows.
        ttl = timedelta(seconds=self.settings.login_lockout_seconds)
        token = await self._issue_action_token(user, LOGIN_UNLOCK, ttl)
        link = f"{self.settings.public_url}/unlock-account?token={token}"
        minutes = math.ceil(self.settings.login_lockout_seconds / 60)
        await queue_mail(
            self.session,
            self.runtime.secrets,
            Mail(
                to=user.email,
                subject="Sign-ins to your account are paused",
                text=(
                    f"Hello {user.full_name or user.email},\n\n"
                    f"There were {self.settings.login_lockout_account_threshold} failed "
                    f"sign-ins to your account within a few minutes, so sign-ins are paused "
                    f"for {minutes} minutes, except from places you signed in from before.\n\n"
                    f"To sign in now, open this link on the device you sign in with:\n\n"
                    f"{link}\n\n"
                    f"The link works once and expires in {minutes} minutes. If the failed "
                    f"sign-ins were not yours, someone is guessing your password: none of "
                    f"their guesses was accepted, but choose a long, unique password.\n"
                ),
            ),
        )
