"""The browser's session: one encrypted, httpOnly cookie holding the API's token pair.

The cookie is sealed with AES-GCM under a key derived from ``SAAS_SECRET_KEY`` for this
purpose only (core/crypto.py), so scripts cannot read it (httpOnly), other sites cannot send
it on a form post (SameSite=Lax), and nothing is stored server-side: any API process serves
any browser. The access token is used until shortly before it expires; then the refresh
token is exchanged (the API rotates it) and the cookie rewritten.

CSRF: a double-submit token. A random ``saas_csrf`` cookie (httpOnly too) is set on the first
page; every form carries the same value in a hidden field and every POST must match it. A
cross-site page can neither read the cookie nor set it, so it cannot build a matching form.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from saas_server.core.crypto import SecretBox, new_token

SESSION_COOKIE = "saas_session"
CSRF_COOKIE = "saas_csrf"
CSRF_FIELD = "csrf_token"
# Refresh a little before the access token expires, so no API call meets an expired one.
REFRESH_MARGIN_SECONDS = 30
SESSION_MAX_AGE = 30 * 24 * 3600


@dataclass
class DashboardSession:
    access_token: str
    refresh_token: str
    user: dict[str, Any]

    @property
    def is_admin(self) -> bool:
        return bool(self.user.get("is_superuser")) or self.user.get("role") in (
            "admin",
            "superadmin",
        )


def token_expiry(access_token: str) -> float:
    """The ``exp`` claim of a JWT, read without verifying (the API verifies it)."""
    try:
        payload = access_token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return float(json.loads(base64.urlsafe_b64decode(payload))["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0


class SessionCodec:
    def __init__(self, secret_key: str) -> None:
        self._box = SecretBox(secret_key, purpose="dashboard-session")

    def seal(self, session: DashboardSession) -> str:
        user = {
            k: session.user.get(k) for k in ("id", "email", "full_name", "role", "is_superuser")
        }
        data = {"a": session.access_token, "r": session.refresh_token, "u": user}
        return self._box.encrypt(json.dumps(data, separators=(",", ":")), b"session")

    def open(self, cookie: str | None) -> DashboardSession | None:
        if not cookie:
            return None
        try:
            data = json.loads(self._box.decrypt(cookie, b"session"))
            return DashboardSession(data["a"], data["r"], dict(data["u"]))
        except Exception:  # tampered, or sealed under another key: no session
            return None


class RefreshGate:
    """One refresh per refresh token in this process.

    Two requests of the same browser arriving together at expiry share one refresh: the
    second waits for the first and takes its new pair. Across API processes the API itself
    answers a rotated refresh token presented again within its reuse grace window with the
    same successor (docs/decisions/0034-refresh-reuse-grace.md); this gate saves the round
    trip and works with the grace off too.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._done: dict[str, tuple[float, dict[str, Any]]] = {}

    async def refresh(self, refresh_token: str, exchange: Any) -> dict[str, Any]:
        now = time.monotonic()
        for key, (at, _) in list(self._done.items()):
            if now - at > 60:
                del self._done[key]
        lock = self._locks.setdefault(refresh_token, asyncio.Lock())
        async with lock:
            if refresh_token in self._done:
                return self._done[refresh_token][1]
            pair: dict[str, Any] = await exchange(refresh_token)
            self._done[refresh_token] = (time.monotonic(), pair)
        self._locks.pop(refresh_token, None)
        return pair


def needs_refresh(session: DashboardSession) -> bool:
    return token_expiry(session.access_token) - time.time() < REFRESH_MARGIN_SECONDS


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, sealed: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        sealed,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        secure=is_https(request),
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def csrf_token_of(request: Request) -> str:
    """The browser's CSRF token, made for this response when it has none yet."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) >= 32:
        return existing
    token: str | None = getattr(request.state, "new_csrf", None)
    if token is None:
        token = new_token(32)
        request.state.new_csrf = token
    return token


def set_csrf_cookie_if_new(response: Response, request: Request) -> None:
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, secure=is_https(request), samesite="lax", path="/"
        )


def csrf_matches(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())
