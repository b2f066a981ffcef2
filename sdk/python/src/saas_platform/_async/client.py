"""The asynchronous client. ``_sync/client.py`` is generated from this file by
``scripts/unasync.py``: edit this one, then run the script."""

from __future__ import annotations

import asyncio
import json as jsonlib
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from saas_platform._async.resources import (
    AsyncApiKeys,
    AsyncAuth,
    AsyncBackups,
    AsyncEvents,
    AsyncInstances,
    AsyncInvitations,
    AsyncInvoices,
    AsyncMembers,
    AsyncPlans,
    AsyncSubscriptions,
    AsyncTenants,
    AsyncUsers,
    AsyncWebhookEndpoints,
)
from saas_platform._shared import (
    REFRESH_MARGIN_SECONDS,
    RETRY_STATUSES,
    UNSAFE_METHODS,
    USER_AGENT,
    ServerSentEvent,
    SSEParser,
    api_path,
    backoff_delay,
    new_idempotency_key,
    query_of,
    resolve_base_url,
    retry_delay,
    worth_retrying,
)
from saas_platform.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    NotFound,
    PermissionDenied,
    WaitTimeout,
    error_from_response,
)
from saas_platform.models import Event, Model, Page, User

M = TypeVar("M", bound=Model)
T = TypeVar("T")

# The stream sends a ping every 15 s: three missed ones mean the connection is gone.
STREAM_READ_TIMEOUT = 45.0
# While waiting on the stream, the awaited resource is also read again at the first ping after
# this long without news: a safety net for an event the stream could not deliver (two commits
# crossing their sequence numbers at a reconnection, docs/events.md).
WAIT_REREAD_SECONDS = 60.0


@dataclass
class _Session:
    access_token: str
    refresh_token: str
    expires_at: float  # time.monotonic()


class AsyncClient:
    """The platform's API.

    ``AsyncClient(api_key="saas_live_...")`` acts with an API key;
    ``AsyncClient(email=..., password=...)`` logs in on first use and refreshes its session
    by itself; ``AsyncClient()`` is anonymous (register, verify, plans) until ``login``.
    Without arguments the key comes from ``SAAS_PLATFORM_API_KEY`` and the URL from
    ``SAAS_PLATFORM_URL`` (else ``http://127.0.0.1:8000``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        email: str | None = None,
        password: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_initial_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        max_retry_after: float = 60.0,
        headers: dict[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if api_key is not None and (email is not None or password is not None):
            raise ValueError("give either api_key or email and password, not both")
        if (email is None) != (password is None):
            raise ValueError("email and password go together")
        if api_key is None and email is None:
            api_key = os.environ.get("SAAS_PLATFORM_API_KEY") or None
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_initial_delay = retry_initial_delay
        self.retry_max_delay = retry_max_delay
        # A Retry-After longer than this is not waited for: the error is raised at once.
        self.max_retry_after = max_retry_after
        self._api_key = api_key
        self._credentials = (email, password) if email is not None else None
        self._session: _Session | None = None
        self._lock = asyncio.Lock()
        self._http = http_client or httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        )

        self.auth = AsyncAuth(self)
        self.users = AsyncUsers(self)
        self.tenants = AsyncTenants(self)
        self.members = AsyncMembers(self)
        self.invitations = AsyncInvitations(self)
        self.instances = AsyncInstances(self)
        self.backups = AsyncBackups(self)
        self.api_keys = AsyncApiKeys(self)
        self.webhook_endpoints = AsyncWebhookEndpoints(self)
        self.plans = AsyncPlans(self)
        self.subscriptions = AsyncSubscriptions(self)
        self.invoices = AsyncInvoices(self)
        self.events = AsyncEvents(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- authentication ---------------------------------------------------------------------

    async def login(self, email: str, password: str) -> User:
        """Log in (``POST /auth/login``); the client then acts as this user and refreshes
        its session by itself, logging in again if the session ends."""
        self._api_key = None
        self._credentials = (email, password)
        async with self._lock:
            return await self._login_locked()

    async def logout(self) -> None:
        """End the session on the platform (its refresh token is revoked) and forget it."""
        async with self._lock:
            session, self._session, self._credentials = self._session, None, None
        if session is not None:
            await self.request(
                "POST",
                "/auth/logout",
                json={"refresh_token": session.refresh_token},
                headers={"Authorization": f"Bearer {session.access_token}"},
                authenticated=False,
            )

    async def _login_locked(self) -> User:
        assert self._credentials is not None
        email, password = self._credentials
        response = await self.request(
            "POST", "/auth/login", json={"email": email, "password": password}, authenticated=False
        )
        body = response.json()
        self._keep_session(body)
        return User.model_validate(body["user"])

    async def _refresh_locked(self) -> None:
        if self._session is not None:
            try:
                response = await self.request(
                    "POST",
                    "/auth/refresh",
                    json={"refresh_token": self._session.refresh_token},
                    authenticated=False,
                )
            except AuthenticationError:
                # The session ended (expired, revoked, logged out elsewhere).
                self._session = None
                if self._credentials is None:
                    raise
            else:
                self._keep_session(response.json())
                return
        await self._login_locked()

    def _keep_session(self, body: dict[str, Any]) -> None:
        self._session = _Session(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=time.monotonic() + float(body.get("expires_in") or 900),
        )

    async def _auth_headers(self) -> dict[str, str]:
        if self._api_key is not None:
            return {"Authorization": f"Bearer {self._api_key}"}
        if self._session is None and self._credentials is None:
            return {}
        # One lock: refresh tokens rotate on every use, and the platform treats a second use
        # of a rotated token as theft (it revokes the whole session), so two requests must
        # never refresh with the same token.
        async with self._lock:
            if self._session is None:
                await self._login_locked()
            elif time.monotonic() >= self._session.expires_at - REFRESH_MARGIN_SECONDS:
                await self._refresh_locked()
            assert self._session is not None
            return {"Authorization": f"Bearer {self._session.access_token}"}

    async def _reauthenticate(self, used: str | None) -> bool:
        """After a 401 on a session: refresh (or log in again), unless another request
        already did since ``used`` was sent. False when there is nothing to renew."""
        if self._api_key is not None or (self._session is None and self._credentials is None):
            return False
        async with self._lock:
            current = self._session.access_token if self._session is not None else None
            if current is not None and f"Bearer {current}" != used:
                return True
            await self._refresh_locked()
        return True

    # -- requests ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """One API call, with authentication, retries and errors handled; the raw answer.

        ``path`` is relative to ``/api/v1`` (``"/tenants"``). Unsafe methods carry an
        ``Idempotency-Key`` (the one given, else a new one), the same on every retry. A POST
        or PATCH answered 502 or 503 is tried again only with a key given: elsewhere the
        platform may have acted already, and would act again."""
        method = method.upper()
        keyed = idempotency_key is not None
        sent_headers = dict(headers or {})
        if method in UNSAFE_METHODS:
            sent_headers["Idempotency-Key"] = idempotency_key or new_idempotency_key()
        attempt = 0
        renewed = False
        while True:
            if authenticated:
                sent_headers.update(await self._auth_headers())
            try:
                response = await self._http.request(
                    method, api_path(path), params=params, json=json, headers=sent_headers
                )
            except httpx.TransportError as exc:
                # A connection never made sent nothing: always safe to try again. Anything
                # else may have reached the platform, so only reads are tried again.
                unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if attempt < self.max_retries and (unsent or method not in UNSAFE_METHODS):
                    await asyncio.sleep(
                        backoff_delay(attempt, self.retry_initial_delay, self.retry_max_delay)
                    )
                    attempt += 1
                    continue
                raise APIConnectionError(f"{method} {path}: {exc!r}") from exc
            if response.status_code == 401 and authenticated and not renewed:
                renewed = True
                if await self._reauthenticate(sent_headers.get("Authorization")):
                    continue
            if attempt < self.max_retries and worth_retrying(method, response.status_code, keyed):
                delay = retry_delay(
                    response, attempt, self.retry_initial_delay, self.retry_max_delay
                )
                if delay <= self.max_retry_after:
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
            if response.status_code >= 400:
                raise error_from_response(response)
            return response

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> M:
        response = await self.request(
            method, path, params=params, json=json, idempotency_key=idempotency_key
        )
        return model.model_validate(response.json())

    async def _call_no_content(self, method: str, path: str, *, json: Any = None) -> None:
        await self.request(method, path, json=json)

    def _paginate(
        self, path: str, model: type[M], params: dict[str, Any] | None = None
    ) -> AsyncPaginator[M]:
        return AsyncPaginator(self, path, model, params or {})

    # -- the event stream -------------------------------------------------------------------

    async def _stream_messages(
        self,
        *,
        tenant_id: str | None = None,
        last_event_id: str | None = None,
        deadline: float | None = None,
        reconnect: bool = True,
    ) -> AsyncGenerator[ServerSentEvent, None]:
        """The stream's messages, comments included (``: ready`` once it listens); on a
        dropped connection it reconnects with ``Last-Event-ID``, so nothing is missed.
        With ``deadline`` (``time.monotonic()``), raises WaitTimeout once it has passed."""
        attempt = 0
        renewed = False
        while True:
            read_timeout = STREAM_READ_TIMEOUT
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout("the awaited event did not come in time")
                read_timeout = min(read_timeout, remaining)
            headers = {"Accept": "text/event-stream", **(await self._auth_headers())}
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            params = {"tenant_id": tenant_id} if tenant_id is not None else None
            try:
                async with self._http.stream(
                    "GET",
                    api_path("/events/stream"),
                    params=params,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout, read=read_timeout),
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        if response.status_code == 401 and not renewed:
                            renewed = True
                            if await self._reauthenticate(headers.get("Authorization")):
                                continue
                        if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                            delay = retry_delay(
                                response, attempt, self.retry_initial_delay, self.retry_max_delay
                            )
                            if delay <= self.max_retry_after:
                                await asyncio.sleep(delay)
                                attempt += 1
                                continue
                        raise error_from_response(response)
                    attempt = 0
                    parser = SSEParser()
                    async for line in response.aiter_lines():
                        message = parser.feed(line)
                        if message is None:
                            continue
                        if message.id is not None:
                            last_event_id = message.id
                        yield message
            except httpx.TransportError as exc:
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeout("the awaited event did not come in time") from exc
                if not reconnect or attempt >= self.max_retries:
                    raise APIConnectionError(f"event stream: {exc!r}") from exc
                await asyncio.sleep(
                    backoff_delay(attempt, self.retry_initial_delay, self.retry_max_delay)
                )
                attempt += 1
                continue
            # The platform closed the stream (a restart, a client too slow to keep up): back
            # shortly, resuming after the last event handled.
            if not reconnect:
                return
            await asyncio.sleep(backoff_delay(0, self.retry_initial_delay, self.retry_max_delay))

    async def _events(
        self,
        *,
        tenant_id: str | None = None,
        last_event_id: str | None = None,
        reconnect: bool = True,
    ) -> AsyncGenerator[Event, None]:
        messages = self._stream_messages(
            tenant_id=tenant_id, last_event_id=last_event_id, reconnect=reconnect
        )
        async with aclosing(messages):
            async for message in messages:
                if message.comment is None and message.data:
                    yield _event_of(message)

    async def _wait(
        self,
        fetch: Callable[[], Awaitable[T]],
        done: Callable[[T], bool],
        *,
        event_types: frozenset[str],
        matches: Callable[[Event], bool],
        tenant_id: str | None,
        timeout: float,
        poll_interval: float,
        what: str,
    ) -> T:
        """Wait until ``done(await fetch())``: woken by the event stream (the state is read
        once the stream listens, again at each matching event, and at a ping after a minute
        without one); polling
        every ``poll_interval`` when the stream is not open to this caller (a key without
        ``events:read``, a key confined to a tenant) or cannot be reached."""
        deadline = time.monotonic() + timeout
        messages = self._stream_messages(tenant_id=tenant_id, deadline=deadline)
        read_at: float | None = None
        try:
            async with aclosing(messages):
                async for message in messages:
                    if message.comment is None:
                        if message.event not in event_types or not matches(_event_of(message)):
                            continue
                    elif message.comment != "ready" and (
                        read_at is not None and time.monotonic() - read_at < WAIT_REREAD_SECONDS
                    ):
                        continue  # a ping, and the resource was read recently
                    current = await fetch()
                    read_at = time.monotonic()
                    if done(current):
                        return current
        except WaitTimeout:
            raise WaitTimeout(f"{what} within {timeout} s") from None
        except (PermissionDenied, NotFound, APIConnectionError):
            pass
        while True:
            current = await fetch()
            if done(current):
                return current
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"{what} within {timeout} s")
            await asyncio.sleep(min(poll_interval, remaining))


def _event_of(message: ServerSentEvent) -> Event:
    try:
        body = jsonlib.loads(message.data)
    except ValueError:
        body = {"type": message.event, "data": {"raw": message.data}}
    if not isinstance(body, dict):
        body = {"type": message.event, "data": {"value": body}}
    body.setdefault("type", message.event)
    return Event.model_validate({**body, "id": message.id})


class AsyncPaginator(Generic[M]):
    """A list: iterate it for every item, page after page (``async for t in
    client.tenants.list()``), or ask for one page with ``await ....page(2)``."""

    def __init__(
        self, client: AsyncClient, path: str, model: type[M], params: dict[str, Any]
    ) -> None:
        self._client = client
        self._path = path
        self._model = model
        self._params = {key: value for key, value in params.items() if value is not None}

    async def page(self, page: int | None = None, page_size: int | None = None) -> Page[M]:
        params = dict(self._params)
        if page is not None:
            params["page"] = page
        if page_size is not None:
            params["page_size"] = page_size
        return await self._fetch(params)

    async def _fetch(self, params: dict[str, Any]) -> Page[M]:
        response = await self._client.request("GET", self._path, params=params)
        return Page[self._model].model_validate(response.json())  # type: ignore[name-defined]

    async def __aiter__(self) -> AsyncIterator[M]:
        params = dict(self._params)
        while True:
            page = await self._fetch(params)
            for item in page.results:
                yield item
            following = query_of(page.next)
            if not following or not page.results:
                return
            params = {**self._params, **following}


__all__ = ["APIError", "AsyncClient", "AsyncPaginator"]
