"""Registration and email verification.

A registration may ask for a tenant (seed 002). Tenants sit above auth on the ladder
(docs/decisions/0007-package-ladder.md), so auth asks through two providers declared here
and answered by ``tenants/registration.py`` (connected in ``saas_server.wiring``):
:data:`SIGNUP_SUBDOMAIN` checks the subdomain before anything is created, and
:data:`SIGNUP_TENANT` creates the tenant, in the caller's transaction.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.auth.schemas import SignupTenant
from saas_server.auth.sessions import Sessions
from saas_server.auth.tokens import VERIFY_EMAIL
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import AppError, conflict_for
from saas_server.core.hooks import Provider
from saas_server.core.runtime import Runtime
from saas_server.mail.service import Mail, queue_mail
from saas_server.users import service as users
from saas_server.users.models import User

# (session, runtime, the subdomain asked for) -> the subdomain to use; raises the error to
# answer when it is malformed, taken or held.
SIGNUP_SUBDOMAIN: Provider[[AsyncSession, Runtime, str], str] = Provider("auth.signup_subdomain")
# (session, runtime, the new owner, tenant name, subdomain, client) -> the tenant created.
SIGNUP_TENANT: Provider[
    [AsyncSession, Runtime, User, str, str, ClientInfo | None], SignupTenant
] = Provider("auth.signup_tenant")


class Registration(Sessions):
    """Creating an account (with the tenant asked for), and verifying its address."""

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
    ) -> tuple[User, SignupTenant | None]:
        """Create the account; with ``tenant_name`` and ``subdomain``, also the tenant: at
        once when verification is off, else when the address is verified."""
        verified = not self.settings.require_email_verification
        if subdomain is not None:
            # Refuse a bad subdomain before anything is created.
            subdomain = await SIGNUP_SUBDOMAIN.ask(self.session, self.runtime, subdomain)
        user = await users.create_user(
            self.session,
            email=email,
            password=password,
            full_name=full_name,
            first_name=first_name,
            last_name=last_name,
            email_verified=verified,
        )
        tenant: SignupTenant | None = None
        if tenant_name is not None and subdomain is not None:
            if verified:
                tenant = await SIGNUP_TENANT.ask(
                    self.session, self.runtime, user, tenant_name, subdomain, client
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
    ) -> tuple[User, SignupTenant | None]:
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
    ) -> SignupTenant | None:
        """Create the tenant asked for at registration. If it can no longer be created (the
        subdomain was taken meanwhile), verification still succeeds: the user picks another
        name, and the reason stays on the user's ``signup_tenant`` for support."""
        wanted = user.signup_tenant
        if not wanted or "name" not in wanted:
            return None
        try:
            async with self.session.begin_nested():
                tenant = await SIGNUP_TENANT.ask(
                    self.session, self.runtime, user, wanted["name"], wanted["subdomain"], client
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
