"""What the sync and async clients share: configuration, the retry policy, the SSE parser."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from saas_platform._version import __version__
from saas_platform.errors import retry_after_seconds

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"
USER_AGENT = f"saas-platform-python/{__version__}"

# Answers worth trying again: rate limited, a bad gateway (the Odoo host, a proxy), maintenance
# or an overloaded process. A 429 says nothing was done; a 502 or 503 may come after the
# request was acted on (an Odoo host failing mid-call), see ``worth_retrying``.
RETRY_STATUSES = frozenset({429, 502, 503})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Methods whose repetition does nothing more than the first time (HTTP's idempotent methods):
# the TypeScript SDK's list too.
SAFE_TO_REPEAT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# A session's access token is refreshed this long before it expires, so a request sent just
# before the expiry does not arrive just after it.
REFRESH_MARGIN_SECONDS = 30.0


def resolve_base_url(base_url: str | None) -> str:
    url = base_url or os.environ.get("SAAS_PLATFORM_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


def api_path(path: str) -> str:
    """``/tenants`` -> ``/api/v1/tenants``; paths already under /api/v1 (or /health) stay."""
    if path.startswith((API_PREFIX, "/health")):
        return path
    return API_PREFIX + (path if path.startswith("/") else "/" + path)


def new_idempotency_key() -> str:
    return f"saas-py-{uuid.uuid4()}"


def worth_retrying(method: str, status: int, keyed: bool) -> bool:
    """Whether an answer ``status`` to ``method`` may be asked again: a 429 always (refused
    before anything was done); a 502 or 503 for a method safe to repeat, or for a POST or
    PATCH sent with an ``Idempotency-Key`` chosen for it (``keyed``: the resource methods of
    the endpoints that honour one, or the caller's own), so the platform answers a repeat
    with the first answer instead of acting twice."""
    if status == 429:
        return True
    if status not in RETRY_STATUSES:
        return False
    return method in SAFE_TO_REPEAT or keyed


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with full jitter's gentler cousin (between half and all of it)."""
    delay = min(maximum, initial * (2**attempt))
    return float(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret


def retry_delay(
    response: httpx.Response | None, attempt: int, initial: float, maximum: float
) -> float:
    """How long to wait before attempt ``attempt + 1``: the server's ``Retry-After`` when it
    gave one (never less: asking sooner only earns another 429), else the backoff."""
    if response is not None:
        told = retry_after_seconds(response)
        if told is not None:
            return told
    return backoff_delay(attempt, initial, maximum)


def query_of(url: str | None) -> dict[str, str] | None:
    """The query parameters of a page's ``next`` link: the next page is asked for on the
    client's own base URL (the link names the platform's public URL, which a client behind
    another address may not reach)."""
    if not url:
        return None
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@dataclass
class ServerSentEvent:
    """One message of a ``text/event-stream``; ``comment`` set for a comment line alone."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    comment: str | None = None


@dataclass
class SSEParser:
    """The event-stream format of the HTML standard, fed one line at a time (no line ending)."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None
    _retry: int | None = None
    _dirty: bool = False

    def feed(self, line: str) -> ServerSentEvent | None:
        if line == "":
            if not self._dirty:
                return None
            message = ServerSentEvent(
                event=self._event or "message",
                data="\n".join(self._data),
                id=self._id,
                retry=self._retry,
            )
            self._event, self._data, self._retry, self._dirty = "", [], None, False
            return message
        if line.startswith(":"):
            return ServerSentEvent(event="", comment=line[1:].strip())
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value  # the last event id persists across messages, per the standard
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        else:
            return None
        self._dirty = True
        return None
