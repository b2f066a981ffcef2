"""The per-caller budget on every ``/api`` request, with ``X-RateLimit-*`` headers.

``create_app`` adds it with ``app.add_middleware``, which puts it inside the request
pipeline (``PlatformApp`` wraps the whole Starlette stack in ``RequestPipelineMiddleware``):
a 429 from here carries the request id, the security headers and the error envelope like
any other answer, and ``/health`` and ``/metrics``, outside ``/api``, pay nothing.

The caller is identified without the database: a bearer token whose signature and expiry
check out names the user, anything else counts against the client IP (the endpoint then
answers 401 itself if it needs a user). The user's plan (the highest tier among their
tenants, or ``admin`` for platform admins) is looked up in the database only when the
limiter's cache of it has expired, by the lookup the runtime's parts carry (the tenants
domain provides it: core does not read domains' tables).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saas_server.core.errors import AppError
from saas_server.core.http import error_body
from saas_server.core.runtime import Runtime
from saas_server.core.security import AccessClaims

# Where the verified claims of the request's bearer token are left (``request.state``),
# so later code can reuse the check instead of repeating it.
ACCESS_CLAIMS_STATE = "access_claims"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _under_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        if not runtime.settings.rate_limit_enabled:
            await self.app(scope, receive, send)
            return
        limiter = runtime.rate_limiter
        claims, api_key = _credentials(scope, runtime)
        user_id = None
        budget: tuple[str, str] | None = None
        if claims is not None:
            scope.setdefault("state", {})[ACCESS_CLAIMS_STATE] = claims
            user_id = claims.user_id
        elif api_key is not None and runtime.parts.bearer_budget is not None:
            # Another domain's token (a portal client's) counts against its own budget.
            budget = runtime.parts.bearer_budget(runtime, api_key)
        if budget is None and api_key is not None and runtime.parts.api_key_user is not None:
            user_id = await runtime.parts.api_key_user(runtime, api_key)
        client = scope.get("client")
        ip = client[0] if client else "-"
        route = None
        if budget is None and runtime.parts.route_budget is not None:
            # Routes with a budget of their own count against it alone, and their headers
            # describe it.
            route = runtime.parts.route_budget(runtime, scope["path"], user_id, ip)
        if scope["path"].startswith(limiter.intake_paths):
            state = await limiter.hit(limiter.intake_limit, "intake", ip)
        elif budget is not None:
            state = await limiter.hit(budget[1], "bearer", budget[0])
        elif route is not None:
            state = await limiter.hit(route[1], "route", route[0])
        elif user_id is not None:
            plan = await limiter.plan_of(
                str(user_id), lambda: runtime.parts.plan_of(runtime, user_id)
            )
            state = await limiter.hit(limiter.plan_limits[plan], "user", str(user_id))
        else:
            state = await limiter.hit(limiter.anonymous_limit, "ip", ip)
        if state is None:  # counters unavailable: fail open, with no figures to vouch for
            await self.app(scope, receive, send)
            return
        headers = [(k.lower().encode(), v.encode()) for k, v in state.headers().items()]
        if not state.allowed:
            body = json.dumps(
                error_body("RATE_LIMIT_EXCEEDED", "Too many requests; slow down")
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
                # An endpoint's own budget (login, reset, registration) answered a 429 with
                # its figures: those are the ones the client must see.
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in headers if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _under_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/api"


def _credentials(scope: Scope, runtime: Runtime) -> tuple[AccessClaims | None, str | None]:
    """The verified claims of the request's bearer token, or else the API key it may carry
    (``X-API-Key``, or a bearer token that is no JWT): the caller names the user by either."""
    api_key: str | None = None
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                continue
            try:
                return runtime.access_tokens.decode(token.strip()), None
            except AppError:
                api_key = api_key or token.strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip()
    return None, api_key or None
