"""The dashboard pages' plumbing: the session, the API client, rendering, the page decorator.

The pages themselves are in router.py (people and their tenants) and admin_pages.py.
See decision 0022 for the shape.

Every page reads and writes through :class:`~saas_server.dashboard.client.ApiClient` with the
person's own access token, as any client of the API would; nothing here touches the database
or another package's services. Forms are plain HTML posts (they work without JavaScript);
``static/live.js`` only refreshes parts of a page when the event stream says something changed.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from saas_server.core.http import error_response
from saas_server.core.routing import PrefixedRoute
from saas_server.core.settings import resolve_secret_key
from saas_server.dashboard.client import ApiClient, ApiError
from saas_server.dashboard.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    DashboardSession,
    RefreshGate,
    SessionCodec,
    clear_session_cookie,
    csrf_matches,
    csrf_token_of,
    needs_refresh,
    set_csrf_cookie_if_new,
    set_session_cookie,
)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD


def when(value: object) -> str:
    """An API timestamp as a person reads it: ``2026-12-05 08:12 UTC`` (the API speaks UTC)."""
    if not value:
        return ""
    text = str(value)
    match = re.match(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})", text)
    return f"{match.group(1)} {match.group(2)} UTC" if match else text


def limit_value(value: object) -> str:
    """A tier limit: nested policies (backups) as ``daily 7, weekly 4``."""
    if isinstance(value, dict):
        return ", ".join(f"{str(k).replace('_', ' ')} {v}" for k, v in value.items())
    return str(value)


def cents(value: object, currency: str = "") -> str:
    """Integer cents as money, ``-27.77 EUR``: exact (no float ever holds the amount)."""
    amount = int(value or 0)  # type: ignore[call-overload]
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 100)
    return f"{sign}{whole}.{part:02d}" + (f" {currency}" if currency else "")


templates.env.filters["when"] = when
templates.env.filters["cents"] = cents
templates.env.filters["limit_value"] = limit_value

# The pages' own policy: scripts, styles and images from this origin only, never inline
# (the platform's API_CSP is stricter still, for JSON answers).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
FLASH_COOKIE = "saas_flash"
TRANSITIONAL = {
    "pending",
    "provisioning",
    "creating",
    "starting",
    "stopping",
    "restarting",
    "restoring",
    "deleting",
    "running",
    "queued",
    "in_progress",
    "migrating",
}


def dashboard_router() -> APIRouter:
    """A router of pages: left out of the OpenAPI document, its routes the platform's own."""
    return APIRouter(include_in_schema=False, route_class=PrefixedRoute)


# The stylesheet and scripts, by name: only these files are ever served from /static.
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
STATIC_FILES = {
    path.name: path for path in (HERE / "static").iterdir() if path.suffix in STATIC_TYPES
}


# Seed 004: static assets are cached for a week. The pages name each asset with its
# content's digest (``static_url``), so a release that changes one is fetched at once.
STATIC_MAX_AGE = 7 * 24 * 3600
STATIC_VERSIONS = {
    name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for name, path in STATIC_FILES.items()
}


def static_url(name: str) -> str:
    """The URL the pages use for an asset: its path with its version (``?v=`` digest)."""
    return f"/static/{name}?v={STATIC_VERSIONS[name]}"


templates.env.globals["static_url"] = static_url


def static_response(name: str) -> Response:
    """One asset, cacheable for a week (the pipeline's default is no-store)."""
    path = STATIC_FILES.get(name)
    if path is None:
        return error_response(404, "NOT_FOUND", "Not found")
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": f"public, max-age={STATIC_MAX_AGE}"},
    )


# -- plumbing --------------------------------------------------------------------------------


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec | None = getattr(request.app.state, "dashboard_codec", None)
    if codec is None:
        codec = SessionCodec(resolve_secret_key(request.app.state.settings))
        request.app.state.dashboard_codec = codec
    return codec


def _gate(request: Request) -> RefreshGate:
    gate: RefreshGate | None = getattr(request.app.state, "dashboard_refresh_gate", None)
    if gate is None:
        gate = request.app.state.dashboard_refresh_gate = RefreshGate()
    return gate


def client_address(request: Request) -> tuple[str, int]:
    if request.client is not None:
        return (request.client.host, request.client.port)
    return ("127.0.0.1", 0)


class Ctx:
    """One browser request: its session (refreshed when due) and its API client."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.session: DashboardSession | None = None
        self.session_changed = False
        self.api = ApiClient(request.app, client_address(request))

    async def load(self) -> Ctx:
        session = _codec(self.request).open(self.request.cookies.get(SESSION_COOKIE))
        if session is not None and needs_refresh(session):
            session = await self._refresh(session)
        self.session = session
        self.api.access_token = session.access_token if session else None
        return self

    async def _refresh(self, session: DashboardSession) -> DashboardSession | None:
        async def exchange(refresh_token: str) -> dict[str, Any]:
            pair: dict[str, Any] = await self.api.request(
                "POST", "/auth/refresh", json={"refresh_token": refresh_token}
            )
            return pair

        self.session_changed = True
        try:
            pair = await _gate(self.request).refresh(session.refresh_token, exchange)
        except ApiError:
            return None
        return DashboardSession(pair["access_token"], pair["refresh_token"], pair["user"])

    def login(self, pair: dict[str, Any]) -> None:
        self.session = DashboardSession(pair["access_token"], pair["refresh_token"], pair["user"])
        self.session_changed = True
        self.api.access_token = self.session.access_token

    def logout(self) -> None:
        self.session = None
        self.session_changed = True

    def finish(self, response: Response) -> Response:
        set_csrf_cookie_if_new(response, self.request)
        if self.session_changed:
            if self.session is None:
                clear_session_cookie(response)
            else:
                set_session_cookie(response, self.request, _codec(self.request).seal(self.session))
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = PAGE_CSP
            response.headers["X-Frame-Options"] = "DENY"
        return response

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        flash = self.request.cookies.get(FLASH_COOKIE)
        response = templates.TemplateResponse(
            self.request,
            template,
            {
                "me": self.session.user if self.session else None,
                "is_admin": bool(self.session and self.session.is_admin),
                "csrf": csrf_token_of(self.request),
                "flash": unquote(flash) if flash else None,
                "errors": {},
                "form": {},
                **context,
            },
            status_code=status,
        )
        if flash:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return self.finish(response)

    def redirect(self, url: str, flash: str | None = None) -> Response:
        response = RedirectResponse(url, status_code=303)
        if flash:
            response.set_cookie(FLASH_COOKIE, quote(flash), httponly=True, samesite="lax", path="/")
        return self.finish(response)

    def error_page(self, error: ApiError) -> Response:
        if error.status == 401:
            self.logout()
            return self.redirect(login_url(self.request))
        return self.render("error.html", status=error.status, error=error)


Handler = Callable[..., Awaitable[Response]]


def page(*, login: bool = True, admin: bool = False) -> Callable[[Handler], Handler]:
    """A dashboard page: session loaded, login (or platform admin) required, API errors shown."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: Request, **kwargs: Any) -> Response:
            ctx = await Ctx(request).load()
            try:
                if login and ctx.session is None:
                    return ctx.redirect(login_url(request))
                if admin and not (ctx.session and ctx.session.is_admin):
                    return ctx.error_page(ApiError(404, "NOT_FOUND", "Not found"))
                if request.method == "POST":
                    form = await request.form()
                    if not csrf_matches(request, str(form.get(CSRF_FIELD) or "")):
                        return ctx.render(
                            "error.html",
                            status=403,
                            error=ApiError(
                                403,
                                "CSRF_FAILED",
                                "This form has expired or came from another site. "
                                "Go back, reload the page and send it again.",
                            ),
                        )
                return await handler(ctx, **kwargs)
            except ApiError as error:
                return ctx.error_page(error)
            finally:
                await ctx.api.aclose()

        # FastAPI reads the parameters: the request, plus the handler's path parameters.
        signature = inspect.signature(handler)
        params = [p for name, p in signature.parameters.items() if name != "ctx"]
        request = inspect.Parameter(
            "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
        )
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[request, *params]
        )
        del wrapper.__wrapped__
        return wrapper

    return decorate


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")


def safe_next(value: str | None, default: str = "/app/tenants") -> str:
    # Only a path of this site: never "//evil.example" or a scheme.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


async def read_form(ctx: Ctx) -> dict[str, str]:
    form = await ctx.request.form()
    return {k: str(v).strip() for k, v in form.items() if k != CSRF_FIELD and isinstance(v, str)}


def form_errors(error: ApiError) -> dict[str, str]:
    errors = error.field_errors()
    if not errors:
        errors["_form"] = error.message
    return errors


def parse_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "Not found") from None
