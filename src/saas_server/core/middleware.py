"""The request pipeline as one pure ASGI middleware (cheaper than a stack of BaseHTTPMiddleware).

Per request it: assigns the request id, strips a trailing slash (every path works with and
without one), enforces the body size limit, adds the request id and security headers to the
response, records metrics and an access log line, and turns an unhandled exception into a
500 in the error envelope with no trace.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saas_server.core.http import error_body
from saas_server.core.logging import request_id_var
from saas_server.core.metrics import HttpMetrics

logger = logging.getLogger("saas_server.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# Swagger UI and ReDoc load their script and style from /docs/assets (core/docs.py, no CDN)
# and inline a bootstrap.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
CACHEABLE_PATHS = (*DOCS_PATHS, "/openapi.json")


class BodyTooLarge(Exception):
    pass


class RequestPipelineMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        max_body_bytes: int,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # Paths whose bodies may be larger (file uploads): path -> their own limit.
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope["path"] = path.rstrip("/") or "/"
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        status_holder = {"status": 500, "started": False}
        headers_to_add = _response_headers(scope, request_id)
        self.metrics.in_flight.inc()
        limit = self.body_limits.get(scope["path"], self.max_body_bytes)
        body_exceeded = False

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                existing = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in headers_to_add if k not in existing]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        async def send_guarded(message: Message) -> None:
            # Once the body went over the limit, whatever the app answers (FastAPI turns the
            # read error into a 400) is replaced by the 413 the client needs to see.
            if body_exceeded:
                if message["type"] == "http.response.start" and not status_holder["started"]:
                    await _send_too_large(send_wrapper, limit)
                return
            await send_wrapper(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received, body_exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    body_exceeded = True
                    raise BodyTooLarge
            return message

        declared = _content_length(scope)
        try:
            if declared is not None and declared > limit:
                raise BodyTooLarge
            await self.app(scope, receive_limited, send_guarded)
        except BodyTooLarge:
            if not status_holder["started"]:
                await _send_too_large(send_wrapper, limit)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope["path"]})
            if not status_holder["started"]:
                await _send_error(send_wrapper, 500, "INTERNAL_ERROR", "An internal error occurred")
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            status = int(status_holder["status"])
            # Routing copied the matched route's path parameters into the scope.
            tenant_id = (scope.get("path_params") or {}).get("tenant_id")
            self.metrics.observe(scope["method"], template, status, elapsed, tenant_id)
            logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": (scope.get("client") or (None,))[0],
                },
            )
            request_id_var.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            return candidate if _VALID_REQUEST_ID.match(candidate) else None
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _response_headers(scope: Scope, request_id: str) -> list[tuple[bytes, bytes]]:
    path: str = scope["path"]
    csp = DOCS_CSP if path.startswith(DOCS_PATHS) else API_CSP
    headers = [
        (b"x-request-id", request_id.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"content-security-policy", csp.encode()),
    ]
    if scope.get("scheme") == "https":
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    if not path.startswith(CACHEABLE_PATHS):
        # Answers carry tokens, passwords, signed download links: no cache keeps one unless
        # its route says otherwise (its own Cache-Control wins).
        headers.append((b"cache-control", b"no-store"))
    return headers


async def _send_too_large(send: Send, limit: int) -> None:
    await _send_error(
        send,
        413,
        "PAYLOAD_TOO_LARGE",
        f"The request body is larger than {limit} bytes",
        {"max_bytes": limit},
    )


async def _send_error(
    send: Send, status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> None:
    body = json.dumps(error_body(code, message, details)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
