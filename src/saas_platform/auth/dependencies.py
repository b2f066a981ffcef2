"""Who is calling: bearer-token authentication and the role checks built on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from saas_platform.auth.service import AuthService, Principal
from saas_platform.core.deps import RuntimeDep, SessionDep
from saas_platform.core.errors import Forbidden, Unauthorized

# Declares the scheme in the OpenAPI document (Swagger's Authorize button posts the form here).
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_auth_service(session: SessionDep, runtime: RuntimeDep) -> AuthService:
    return AuthService(session, runtime)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_optional_principal(
    auth: AuthServiceDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal | None:
    if not token:
        return None
    return await auth.authenticate(token)


async def get_principal(
    principal: Annotated[Principal | None, Depends(get_optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized("Authentication required")
    return principal


async def get_platform_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.user.is_platform_admin:
        raise Forbidden("Platform administrators only")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
PlatformAdmin = Annotated[Principal, Depends(get_platform_admin)]
