"""Identity rules: registration, verification, login with lockout, token rotation, resets.

Every function works inside the caller's transaction (request, CLI command or job) and never
commits by itself.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from saas_platform.audit import service as audit
from saas_platform.auth.models import ActionToken, AuthSession, LoginThrottle, RefreshToken
from saas_platform.auth.principal_cache import CachedPrincipal, principal_cache_of
from saas_platform.core import clock
from saas_platform.core.client import ClientInfo
from saas_platform.core.crypto import hash_token, new_token
from saas_platform.core.errors import AppError, RateLimited, Unauthorized, conflict_for
from saas_platform.core.runtime import Runtime
from saas_platform.core.security import AccessClaims, AccessTokens, password_hasher
from saas_platform.mail.service import Mail, queue_mail
from saas_platform.tenants.models import Tenant
from saas_platform.tenants.rules import subdomain_of
from saas_platform.tenants.service import TenantService, check_subdomain_available
from saas_platform.users import service as users
from saas_platform.users.models import User

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"
LOGIN_UNLOCK = "login_unlock"
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


class InvalidRefreshToken(Unauthorized):
    message = "Invalid or expired refresh token"
    keeps_changes = True  # a reused token's family stays revoked


class InvalidActionToken(AppError):
    status_code = 400
    code = "INVALID_TOKEN"
    message = "The token is invalid, expired or already used"


class AccountLocked(RateLimited):
    message = "Too many failed logins for this account; try again later"
    keeps_changes = True  # the refused attempt's audit entry is kept


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    session_id: uuid.UUID


@dataclass(frozen=True)
class Principal:
    """The caller of an authenticated request.

    ``user`` is a detached copy of the caller's row as it was when the request was
    authenticated, usually served from memory (auth/principal_cache.py): read it, never
    change it. Code that changes the user, or needs columns the copy lacks (the password
    hash), loads the row into its session (``users.get_user(session, principal.user.id)``).
    """

    session_id: uuid.UUID
    claims: AccessClaims
    cached: CachedPrincipal

    @functools.cached_property
    def user(self) -> User:
        # Made on first use: an answer rendered from the cache entry needs no copy.
        return self.cached.user()

    def rendered(self, name: str, render: Callable[[User], bytes]) -> bytes:
        """``render(user)`` for the caller, remembered with the cached principal."""
        return self.cached.rendered(name, render)


async def authenticate(runtime: Runtime, access_token: str) -> Principal:
    """The caller presenting ``access_token``; 401 for a bad or expired token, an ended
    session, a suspended account.

    Needs no database session: on a principal-cache hit it costs no query at all, and a
    miss reads on the cache's own connection, so a request that only asks who is calling
    opens no transaction.
    """
    claims = runtime.access_tokens.decode(access_token)
    found = await principal_cache_of(runtime).get(claims.session_id)
    if found is None or found.user_id != claims.user_id:
        raise Unauthorized("Invalid access token")
    if found.session_ended:
        raise Unauthorized("This session has ended")
    if not found.is_active:
        raise Unauthorized("This account is suspended")
    return Principal(session_id=claims.session_id, claims=claims, cached=found)


class AuthService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.access_tokens: AccessTokens = runtime.access_tokens

    # -- registration and email verification ------------------------------------------------

    async def register(
        self,
        *,
        email: str,
        password: str,
        full_name: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        tenant_name: str | None = None,
        subdomain: str | None = None,
        client: ClientInfo | None = None,
    ) -> tuple[User, Tenant | None]:
        """Create the account; with ``tenant_name`` and ``subdomain``, also the tenant: at
        once when verification is off, else when the address is verified."""
        verified = not self.settings.require_email_verification
        if subdomain is not None:
            subdomain = subdomain_of(subdomain, self.settings.base_domain)
            # Refuse a bad subdomain before anything is created.
            await check_subdomain_available(
                self.session, subdomain, grace_days=self.settings.subdomain_grace_days
            )
        user = await users.create_user(
            self.session,
            email=email,
            password=password,
            full_name=full_name,
            first_name=first_name,
            last_name=last_name,
            email_verified=verified,
        )
        tenant: Tenant | None = None
        if tenant_name is not None and subdomain is not None:
            if verified:
                tenant = await TenantService(self.session, self.runtime, client).create_tenant(
                    user, name=tenant_name, subdomain=subdomain
                )
            else:
                user.signup_tenant = {"name": tenant_name, "subdomain": subdomain}
        if not verified:
            await self.send_verification(user)
        await audit.record(
            self.session,
            action=audit.USER_REGISTERED,
            resource_type="user",
            resource_id=user.id,
            actor_id=user.id,
            new_values={
                "email": user.email,
                "full_name": user.full_name,
                "role": user.role,
                "email_verified": user.email_verified,
            },
            client=client,
        )
        return user, tenant

    async def send_verification(self, user: User) -> None:
        token = await self._issue_action_token(
            user, VERIFY_EMAIL, timedelta(hours=self.settings.email_verification_ttl_hours)
        )
        link = f"{self.settings.public_url}/verify-email?token={token}"
        hours = self.settings.email_verification_ttl_hours
        await queue_mail(
            self.session,
            self.runtime.secrets,
            Mail(
                to=user.email,
                subject="Confirm your email address",
                text=(
                    f"Hello {user.full_name or user.email},\n\n"
                    f"Confirm your email address by opening this link:\n\n{link}\n\n"
                    f"The link works once and expires in {hours} hours.\n"
                ),
            ),
        )

    async def resend_verification(self, email: str) -> None:
        user = await users.find_by_email(self.session, email)
        if user is not None and user.is_active and not user.email_verified:
            await self.send_verification(user)

    async def verify_email(
        self, token: str, client: ClientInfo | None = None
    ) -> tuple[User, Tenant | None]:
        action = await self._consume_action_token(token, VERIFY_EMAIL)
        user = await users.get_user(self.session, action.user_id)
        if user.email_verified_at is None:
            user.email_verified_at = clock.now()
        tenant = await self._create_signup_tenant(user, client)
        await audit.record(
            self.session,
            action=audit.AUTH_EMAIL_VERIFIED,
            resource_type="user",
            resource_id=user.id,
            actor_id=user.id,
            new_values={"email": user.email, "email_verified_at": user.email_verified_at},
            client=client,
        )
        return user, tenant

    async def _create_signup_tenant(
        self, user: User, client: ClientInfo | None = None
    ) -> Tenant | None:
        """Create the tenant asked for at registration. If it can no longer be created (the
        subdomain was taken meanwhile), verification still succeeds: the user picks another
        name, and the reason stays on the user's ``signup_tenant`` for support."""
        wanted = user.signup_tenant
        if not wanted or "name" not in wanted:
            return None
        try:
            async with self.session.begin_nested():
                tenant = await TenantService(self.session, self.runtime, client).create_tenant(
                    user, name=wanted["name"], subdomain=wanted["subdomain"]
                )
        except AppError as exc:
            user.signup_tenant = {**wanted, "error": exc.code}
            return None
        except IntegrityError as exc:  # the subdomain was taken by a concurrent request
            error = conflict_for(exc)
            if error is None:
                raise
            user.signup_tenant = {**wanted, "error": error.code}
            return None
        user.signup_tenant = None
        return tenant

    # -- login, refresh, logout -------------------------------------------------------------

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

    async def refresh(self, refresh_token: str, client: ClientInfo) -> IssuedTokens:
        now = clock.now()
        row = (
            await self.session.execute(
                select(RefreshToken, AuthSession)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .where(RefreshToken.token_hash == hash_token(refresh_token))
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            raise InvalidRefreshToken()
        token, auth_session = row
        if auth_session.revoked_at is not None or token.expires_at <= now:
            raise InvalidRefreshToken()
        if token.rotated_at is not None:
            # A rotated token presented again means it leaked: end the whole family.
            self._revoke(auth_session, "refresh_token_reuse")
            raise InvalidRefreshToken()
        user = await users.get_user(self.session, auth_session.user_id)
        if not user.is_active:
            raise InvalidRefreshToken()
        token.rotated_at = now
        auth_session.last_used_at = now
        new_refresh = await self._add_refresh_token(auth_session)
        return IssuedTokens(
            access_token=self.access_tokens.issue(user.id, auth_session.id),
            refresh_token=new_refresh,
            expires_in=self.access_tokens.ttl_seconds,
            user=user,
            session_id=auth_session.id,
        )

    async def logout(
        self,
        principal: Principal | None,
        refresh_token: str | None,
        client: ClientInfo | None = None,
    ) -> None:
        ended: list[AuthSession] = []
        if principal is not None:
            auth_session = await self.session.get(AuthSession, principal.session_id)
            if auth_session is not None and auth_session.revoked_at is None:
                self._revoke(auth_session, "logout")
                ended.append(auth_session)
        if refresh_token:
            found = (
                await self.session.execute(
                    select(AuthSession)
                    .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
                    .where(RefreshToken.token_hash == hash_token(refresh_token))
                )
            ).scalar_one_or_none()
            # Only the caller's own sessions: a token of someone else's is ignored.
            if found is not None and (principal is None or found.user_id == principal.user.id):
                if found.revoked_at is None:
                    ended.append(found)
                self._revoke(found, "logout")
        for auth_session in ended:
            await audit.record(
                self.session,
                action=audit.AUTH_LOGOUT,
                resource_type="user",
                resource_id=auth_session.user_id,
                actor_id=auth_session.user_id,
                new_values={"session_id": auth_session.id},
                client=client,
            )

    async def authenticate(self, access_token: str) -> Principal:
        return await authenticate(self.runtime, access_token)

    async def revoke_all_sessions(self, user_id: uuid.UUID, reason: str) -> None:
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=clock.now(), revoked_reason=reason)
        )

    # -- passwords ---------------------------------------------------------------------------

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

    # -- internals ---------------------------------------------------------------------------

    async def _start_session(self, user: User, client: ClientInfo) -> IssuedTokens:
        now = clock.now()
        auth_session = AuthSession(
            user_id=user.id,
            expires_at=now + timedelta(days=self.settings.refresh_token_ttl_days),
            last_used_at=now,
            ip_address=client.ip,
            user_agent=client.user_agent,
        )
        self.session.add(auth_session)
        await self.session.flush()
        refresh = await self._add_refresh_token(auth_session)
        return IssuedTokens(
            access_token=self.access_tokens.issue(user.id, auth_session.id),
            refresh_token=refresh,
            expires_in=self.access_tokens.ttl_seconds,
            user=user,
            session_id=auth_session.id,
        )

    async def _add_refresh_token(self, auth_session: AuthSession) -> str:
        now = clock.now()
        expires = now + timedelta(days=self.settings.refresh_token_ttl_days)
        raw = new_token(32)
        self.session.add(
            RefreshToken(
                session_id=auth_session.id,
                token_hash=hash_token(raw),
                created_at=now,
                expires_at=expires,
            )
        )
        auth_session.expires_at = expires
        await self.session.flush()
        return raw

    def _revoke(self, auth_session: AuthSession, reason: str) -> None:
        if auth_session.revoked_at is None:
            auth_session.revoked_at = clock.now()
            auth_session.revoked_reason = reason

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
