"""The dashboard's way to the API: the public API of the same process, as any client calls it.

Requests go over httpx to the app object in-process (decision 0022): no socket, no address
to configure behind a proxy, and every rule of the API (authentication, scopes, rate limits,
the IP block list, maintenance mode, the audit trail's client address) applies exactly as
for any other client, because each request carries the browser's own address as the ASGI
client. ``httpx.ASGITransport`` hands a response over only once the app has returned
(its transaction committed), which is what a page that reads its own writes wants; the one
streaming call (the event stream) goes through :func:`stream_asgi` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

API = "/api/v1"


@dataclass
class ApiError(Exception):
    """An answer in the API's error envelope (conventions.md)."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def field_errors(self) -> dict[str, str]:
        """``{"field": "message"}`` for the details that name a field (validation errors)."""
        found: dict[str, str] = {}
        for name, value in self.details.items():
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                found[name.removeprefix("body.")] = " ".join(value)
        if isinstance(self.details.get("field"), str):
            found[self.details["field"]] = self.message
        return found


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
        error = body["error"]
        return ApiError(
            response.status_code,
            str(error.get("code", "ERROR")),
            str(error.get("message", "")),
            dict(error.get("details") or {}),
        )
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, "ERROR", response.text[:200] or "Request failed")


class ApiClient:
    """One browser request's calls to the API, with that person's access token."""

    def __init__(
        self, app: ASGIApp, client_address: tuple[str, int], access_token: str | None = None
    ) -> None:
        self.app = app
        self.client_address = client_address
        self.access_token = access_token
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=client_address),
            base_url="http://dashboard.internal",
            timeout=60,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self, token: str | None) -> dict[str, str]:
        token = token or self.access_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Any:
        """Call ``/api/v1{path}``; the decoded body, None for 204; ApiError otherwise."""
        response = await self._http.request(
            method,
            API + path,
            json=json,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            headers=self._headers(token),
        )
        if response.status_code >= 400:
            raise _error_of(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.request("POST", path, json=json if json is not None else {})

    async def raw(self, method: str, url: str) -> httpx.Response:
        """Any path of the app (a signed download link), the answer as it is."""
        return await self._http.request(method, url, headers=self._headers(None))


async def stream_asgi(
    app: ASGIApp,
    path: str,
    query_string: str,
    headers: list[tuple[bytes, bytes]],
    client_address: tuple[str, int],
) -> tuple[int, AsyncIterator[bytes]]:
    """A GET to the app whose body is handed on as the app sends it (the event stream).

    The app runs in its own task; closing the returned iterator (the browser went away)
    tells it the client disconnected and waits for it to finish.
    """
    queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=64)
    disconnected = asyncio.Event()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query_string.encode(),
        "headers": [(b"host", b"dashboard.internal"), *headers],
        "client": client_address,
        "server": ("dashboard.internal", 80),
    }
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        await queue.put(message)

    async def run() -> None:
        try:
            await app(scope, receive, send)
        finally:
            await queue.put({"type": "http.response.body", "body": b"", "more_body": False})

    task = asyncio.create_task(run(), name="dashboard-event-relay")
    start = await queue.get()
    if start["type"] != "http.response.start":  # the app ended without answering
        disconnected.set()
        await task
        return 502, _empty()
    status = int(start["status"])

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                message = await queue.get()
                if message["type"] != "http.response.body":
                    continue
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body", False):
                    return
        finally:
            disconnected.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    return status, body()


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator
