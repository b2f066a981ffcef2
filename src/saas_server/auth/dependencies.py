"""Who is calling: bearer-token authentication and the role checks built on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.base import SecurityBase

from saas_server.auth.api_keys import API_KEY_HEADER, authenticate_api_key, looks_like_api_key
from saas_server.auth.service import AuthService, Principal, authenticate
from saas_server.auth.tenant_login import is_portal_token
from saas_server.core.deps import RuntimeDep, SessionDep
from saas_server.core.errors import Forbidden, Unauthorized

# Declares the scheme in the OpenAPI document (Swagger's Authorize button posts the form here).
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_auth_service(session: SessionDep, runtime: RuntimeDep) -> AuthService:
    return AuthService(session, runtime)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


class PrincipalScheme(SecurityBase):
    """The bearer scheme of ``oauth2_scheme`` (same OpenAPI declaration), resolving straight
    to the caller.

    One dependency where a scheme plus a function reading it would be two: FastAPI's
    resolution of each dependency costs more than a cached authentication. It takes the
    runtime from the request and opens no request session, so an endpoint that only reads
    the caller (GET /auth/me) does no database work when the principal is cached.
    """

    def __init__(self, *, required: bool) -> None:
        self.model = oauth2_scheme.model
        self.scheme_name = oauth2_scheme.scheme_name
        self.required = required

    async def __call__(self, request: Request) -> Principal | None:
        token = await oauth2_scheme(request)
        # An API key, in its own header or as the bearer token (its prefix tells it from a JWT).
        api_key = request.headers.get(API_KEY_HEADER)
        if api_key is None and token and looks_like_api_key(token):
            api_key = token
        if api_key is not None:
            return await authenticate_api_key(request, api_key.strip())
        if not token or is_portal_token(token):
            # A portal token (auth/tenant_login.py) is no platform user's.
            if self.required:
                raise Unauthorized("Authentication required")
            return None
        return await authenticate(request.app.state.runtime, token)


get_principal = PrincipalScheme(required=True)
get_optional_principal = PrincipalScheme(required=False)


async def get_platform_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.user.is_platform_admin:
        raise Forbidden("Platform administrators only")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
PlatformAdmin = Annotated[Principal, Depends(get_platform_admin)]


async def limit_login(request: Request, runtime: RuntimeDep) -> None:
    """Login attempts per IP (besides the per-account lockout)."""
    await runtime.rate_limiter.check(
        runtime.settings.rate_limit_login, "login", _client_ip(request)
    )


async def limit_registration(request: Request, runtime: RuntimeDep) -> None:
    await runtime.rate_limiter.check(
        runtime.settings.rate_limit_register, "register", _client_ip(request)
    )


async def limit_password_reset(request: Request, runtime: RuntimeDep) -> None:
    """Per IP here; per email in the endpoint, once the body is parsed."""
    await runtime.rate_limiter.check(
        runtime.settings.rate_limit_password_reset_ip, "reset-ip", _client_ip(request)
    )


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
