"""The block list at the door of ``/api``, and the security events no other table keeps.

Installed by ``create_app`` outside the rate limiter: a blocked IP is refused (403
``FORBIDDEN``) before it spends any budget or reaches any endpoint, and the answers the
rate limiter and the endpoints gave are seen on the way out. A request costs one lookup in
the process's copy of the block list; only refused requests (403 blocked, 429) and 404s on
a tenant id write a row (``security_events``), in a short transaction of their own after
the answer has been sent. A blocked IP's refusals are only counted in memory
(``blocklist.RefusalTally``) and written as one row per IP every
``security_refusal_flush_seconds``, with its ``count``: a flood of refused requests costs a
bounded number of writes, and the metrics still count every request.
"""

from __future__ import annotations

import json
import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saas_server.core import clock
from saas_server.core.errors import AppError
from saas_server.core.http import error_body
from saas_server.core.ratelimit_middleware import ACCESS_CLAIMS_STATE
from saas_server.core.runtime import Runtime
from saas_server.core.security import AccessClaims
from saas_server.security.blocklist import BlockList
from saas_server.security.models import SecurityEvent, SecurityEventType

logger = logging.getLogger(__name__)

BLOCKED_MESSAGE = "Requests from your address are blocked"
TENANTS_PREFIX = "/api/v1/tenants/"
TENANT_NOT_FOUND_CODE = b'"TENANT_NOT_FOUND"'
_PATH_MAX = 512


def block_list_of(scope: Scope) -> BlockList:
    """The app's block list, made on first use (``create_app`` starts its listener in the
    lifespan and closes it there)."""
    state = scope["app"].state
    found: BlockList | None = getattr(state, "block_list", None)
    if found is None:
        found = state.block_list = BlockList(state.runtime)
    return found


class SecurityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith("/api/") or path == "/api"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else None
        if await block_list_of(scope).blocks(ip):
            body = json.dumps(error_body("FORBIDDEN", BLOCKED_MESSAGE)).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            block_list_of(scope).refusals.note(ip, path)
            return

        status = 0
        tenant_miss = False

        async def watch(message: Message) -> None:
            nonlocal status, tenant_miss
            if message["type"] == "http.response.start":
                status = message["status"]
            elif (
                message["type"] == "http.response.body"
                and status == 404
                and path.startswith(TENANTS_PREFIX)
                and TENANT_NOT_FOUND_CODE in message.get("body", b"")
            ):
                tenant_miss = True
            await send(message)

        await self.app(scope, receive, watch)
        if status == 429:
            await _record(scope, SecurityEventType.RATE_LIMITED, ip, _user_id(scope))
        elif tenant_miss:
            user_id = _user_id(scope)
            if user_id is not None:  # anonymous callers get 401 before any tenant lookup
                await _record(scope, SecurityEventType.TENANT_NOT_FOUND, ip, user_id)


def _user_id(scope: Scope) -> uuid.UUID | None:
    """The caller named by a valid bearer token (the rate limiter's check when it made one)."""
    claims: AccessClaims | None = scope.get("state", {}).get(ACCESS_CLAIMS_STATE)
    if claims is not None:
        return claims.user_id
    runtime: Runtime = scope["app"].state.runtime
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            try:
                return runtime.access_tokens.decode(token.strip()).user_id
            except AppError:
                return None
    return None


async def _record(
    scope: Scope, kind: SecurityEventType, ip: str | None, user_id: uuid.UUID | None
) -> None:
    runtime: Runtime = scope["app"].state.runtime
    try:
        async with runtime.db.transaction() as session:
            session.add(
                SecurityEvent(
                    type=kind.value,
                    occurred_at=clock.now(),
                    ip_address=ip[:64] if ip else None,
                    user_id=user_id,
                    path=scope.get("path", "")[:_PATH_MAX],
                )
            )
    except Exception:
        # The answer is already sent; a lost event must not turn into an error page.
        logger.exception("could not record a security event (%s)", kind.value)
