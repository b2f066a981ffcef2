"""The per-caller budget on every ``/api`` request, with ``X-RateLimit-*`` headers.

It sits inside the request pipeline (so a 429 carries the request id and the security
headers). The caller is identified without the database: a valid bearer token names the
user, anything else counts against the client IP. The user's plan (from their highest
tenant tier, or ``admin``) is looked up once a minute at most.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saas_platform.core.errors import AppError
from saas_platform.core.http import error_body
from saas_platform.core.ratelimit import TIER_LIMITS
from saas_platform.core.runtime import Runtime


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        if not runtime.settings.rate_limit_enabled:
            await self.app(scope, receive, send)
            return
        limiter = runtime.rate_limiter
        user_id = _bearer_user(scope, runtime)
        if user_id is not None:
            plan = await limiter.plan_of(user_id, lambda: _plan(runtime, user_id))
            state = await limiter.hit(limiter.plan_limit(plan), "user", user_id)
        else:
            client = (scope.get("client") or ("unknown",))[0]
            state = await limiter.hit(runtime.settings.rate_limit_anonymous, "ip", client)
        if state is None:  # storage down: fail open, without headers we cannot vouch for
            await self.app(scope, receive, send)
            return
        headers = [(k.lower().encode(), v.encode()) for k, v in state.headers().items()]
        if not state.allowed:
            body = json.dumps(
                error_body("RATE_LIMIT_EXCEEDED", "Too many requests; slow down", {})
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in headers if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _bearer_user(scope: Scope, runtime: Runtime) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return None
            try:
                return str(runtime.access_tokens.decode(token.strip()).user_id)
            except AppError:
                return None
    return None


async def _plan(runtime: Runtime, user_id: str) -> str:
    from saas_platform.tenants.service import highest_tier
    from saas_platform.users.models import User

    async with runtime.db.sessionmaker() as session:
        role = (
            await session.execute(select(User.role).where(User.id == uuid.UUID(user_id)))
        ).scalar_one_or_none()
        if role == "admin":
            return "admin"
        tier = await highest_tier(session, uuid.UUID(user_id)) if role else None
    return TIER_LIMITS.get(tier or "", "standard")
