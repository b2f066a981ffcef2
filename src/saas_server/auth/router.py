from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Query, Request, Response, status
from fastapi.responses import JSONResponse

from saas_server.auth.dependencies import (
    AuthServiceDep,
    CurrentPrincipal,
    OptionalPrincipal,
    limit_login,
    limit_password_reset,
    limit_registration,
    oauth2_scheme,
)
from saas_server.auth.schemas import (
    EmailRequest,
    LoginRequest,
    LogoutRequest,
    PasswordChange,
    PasswordResetConfirm,
    ProfileUpdate,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    SignupTenant,
    TokenPair,
    TokenRequest,
    VerifyEmailResponse,
)
from saas_server.auth.service import IssuedTokens, Principal
from saas_server.auth.tenant_login import (
    is_portal_token,
    tenant_login,
    tenant_logout,
    tenant_refresh,
)
from saas_server.core.client import ClientInfo
from saas_server.core.deps import ClientDep, RuntimeDep
from saas_server.core.errors import Unauthorized
from saas_server.core.openapi import errors
from saas_server.core.routing import PrefixedRouter
from saas_server.core.schemas import Message, NulFreeStr
from saas_server.events import service as events
from saas_server.users import service as users
from saas_server.users.models import User
from saas_server.users.schemas import UserRead

NAME_FIELDS = ("full_name", "first_name", "last_name")

router = PrefixedRouter(prefix="/api/v1/auth", tags=["auth"])


# The caller's own account first: every page of a client asks for it, and routes are
# tried in the order they are declared.
@router.get("/me", response_model=UserRead)
async def me(principal: CurrentPrincipal) -> Response:
    return _caller(principal)


@router.get("/profile", response_model=UserRead)
async def get_profile(principal: CurrentPrincipal) -> Response:
    return _caller(principal)


def _caller(principal: Principal) -> Response:
    """The caller as ``UserRead``, rendered once per principal-cache entry."""
    return Response(principal.rendered("UserRead", _user_json), media_type="application/json")


def _user_json(user: User) -> bytes:
    return UserRead.model_validate(user).model_dump_json(by_alias=True).encode()


def _pair(tokens: IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=UserRead.model_validate(tokens.user),
    )


def _signup_tenant(user: User, tenant: SignupTenant | None) -> SignupTenant | None:
    if tenant is not None:
        return tenant
    wanted = user.signup_tenant
    if wanted and "error" not in wanted:
        return SignupTenant(name=wanted["name"], subdomain=wanted["subdomain"], status="pending")
    return None


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterResponse,
    dependencies=[Depends(limit_registration)],
)
async def register(
    body: RegisterRequest, auth: AuthServiceDep, client: ClientDep
) -> RegisterResponse:
    user, tenant = await auth.register(
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        first_name=body.first_name,
        last_name=body.last_name,
        tenant_name=body.tenant_name,
        subdomain=body.subdomain,
        client=client,
    )
    response = RegisterResponse.model_validate(user)
    response.tenant = _signup_tenant(user, tenant)
    return response


async def _verify(token: str, auth: AuthServiceDep, client: ClientInfo) -> VerifyEmailResponse:
    user, tenant = await auth.verify_email(token, client)
    return VerifyEmailResponse(
        message="Email address verified",
        user=UserRead.model_validate(user),
        tenant=_signup_tenant(user, tenant) if tenant else None,
    )


@router.post("/verify-email", response_model=VerifyEmailResponse)
async def verify_email(
    body: TokenRequest, auth: AuthServiceDep, client: ClientDep
) -> VerifyEmailResponse:
    return await _verify(body.token, auth, client)


@router.get("/verify-email", response_model=VerifyEmailResponse, include_in_schema=False)
async def verify_email_link(
    token: Annotated[str, Query(max_length=512)], auth: AuthServiceDep, client: ClientDep
) -> VerifyEmailResponse:
    """The mailed link may be opened directly against the API."""
    return await _verify(token, auth, client)


@router.post("/resend-verification", status_code=status.HTTP_202_ACCEPTED, response_model=Message)
async def resend_verification(body: EmailRequest, auth: AuthServiceDep) -> Message:
    await auth.resend_verification(body.email)
    return Message(message="If the account exists and is unverified, a new mail is on its way")


@router.post(
    "/login",
    response_model=TokenPair,
    dependencies=[Depends(limit_login)],
    # With ``tenant``: 404 when that tenant has no portal, 502 when its Odoo is down.
    responses=errors(401, 404, 502),
)
async def login(
    body: LoginRequest, auth: AuthServiceDep, client: ClientDep, runtime: RuntimeDep
) -> TokenPair | JSONResponse:
    if body.tenant is not None:
        # Seed 004: the tenant's Odoo checks the credentials (auth/tenant_login.py).
        answer = await tenant_login.ask(
            auth.session, runtime, body.tenant, body.identifier, body.password, client
        )
        return JSONResponse(answer)
    return _pair(await auth.login(body.identifier, body.password, client))


@router.post(
    "/token",
    response_model=TokenPair,
    summary="Login (OAuth2 password form)",
    dependencies=[Depends(limit_login)],
    responses=errors(401),
)
async def token(
    username: Annotated[NulFreeStr, Form(max_length=320)],
    password: Annotated[NulFreeStr, Form(max_length=1024)],
    auth: AuthServiceDep,
    client: ClientDep,
) -> TokenPair:
    return _pair(await auth.login(username, password, client))


@router.post("/unlock", response_model=Message)
async def unlock_login(body: TokenRequest, auth: AuthServiceDep, client: ClientDep) -> Message:
    """The link mailed when an account's sign-ins are paused: lifts the pause and lets the
    address that opens it sign in (docs/decisions/0005-login-lockout.md)."""
    await auth.unlock_login(body.token, client)
    return Message(message="Sign-ins are open again from this address")


@router.get("/unlock", response_model=Message, include_in_schema=False)
async def unlock_login_link(
    token: Annotated[str, Query(max_length=512)], auth: AuthServiceDep, client: ClientDep
) -> Message:
    """The mailed link may be opened directly against the API."""
    await auth.unlock_login(token, client)
    return Message(message="Sign-ins are open again from this address")


@router.post("/refresh", response_model=TokenPair, responses=errors(401))
async def refresh(
    body: RefreshRequest, auth: AuthServiceDep, client: ClientDep, runtime: RuntimeDep
) -> TokenPair | JSONResponse:
    if is_portal_token(body.refresh_token) and tenant_refresh.provided:
        return JSONResponse(
            await tenant_refresh.ask(auth.session, runtime, body.refresh_token, client)
        )
    return _pair(await auth.refresh(body.refresh_token, client))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request,
    runtime: RuntimeDep,
    auth: AuthServiceDep,
    principal: OptionalPrincipal,
    client: ClientDep,
    body: LogoutRequest | None = None,
) -> Response:
    refresh_token = body.refresh_token if body else None
    bearer = await oauth2_scheme(request)
    if (is_portal_token(bearer) or is_portal_token(refresh_token)) and tenant_logout.provided:
        # A portal session: it ends here and in the tenant's Odoo.
        await tenant_logout.ask(
            auth.session,
            runtime,
            bearer if is_portal_token(bearer) else None,
            refresh_token if is_portal_token(refresh_token) else None,
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    if principal is None and not refresh_token:
        raise Unauthorized("Authentication required")
    await auth.logout(principal, refresh_token, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/password-reset/request",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Message,
    dependencies=[Depends(limit_password_reset)],
)
async def password_reset_request(
    body: EmailRequest, auth: AuthServiceDep, client: ClientDep, runtime: RuntimeDep
) -> Message:
    # Per address too: applies to every address alike, so it reveals nothing about accounts.
    await runtime.rate_limiter.check(
        runtime.settings.rate_limit_password_reset_email, "reset-email", body.email.lower()
    )
    await auth.request_password_reset(body.email, client)
    return Message(message="If an account exists for this address, a reset link is on its way")


@router.post("/password-reset/confirm", response_model=Message)
async def password_reset_confirm(
    body: PasswordResetConfirm, auth: AuthServiceDep, client: ClientDep
) -> Message:
    await auth.confirm_password_reset(body.token, body.new_password, client)
    return Message(message="Password changed; every session has been signed out")


@router.post("/change-password", response_model=Message)
async def change_password(
    body: PasswordChange, principal: CurrentPrincipal, auth: AuthServiceDep, client: ClientDep
) -> Message:
    await auth.change_password(principal, body.current_password, body.new_password, client)
    return Message(message="Password changed; other sessions have been signed out")


@router.patch("/profile", response_model=UserRead)
async def update_profile(
    body: ProfileUpdate, principal: CurrentPrincipal, auth: AuthServiceDep
) -> UserRead:
    # The row itself: ``principal.user`` is a read-only copy (see Principal).
    user = await users.get_user(auth.session, principal.user.id)
    before = (user.full_name, user.first_name, user.last_name)
    users.update_names(
        user,
        full_name=body.full_name,
        first_name=body.first_name,
        last_name=body.last_name,
    )
    await auth.session.flush()
    after = (user.full_name, user.first_name, user.last_name)
    if after != before:
        changed = [n for n, b, a in zip(NAME_FIELDS, before, after, strict=True) if a != b]
        await users.emit_user_event(auth.session, events.USER_UPDATED, user, changed)
    return UserRead.model_validate(user)
