"""The web dashboard: server-rendered pages over the public API (decision 0022).

Every page reads and writes through :class:`~saas_server.dashboard.client.ApiClient` with the
person's own access token, as any client of the API would; nothing here touches the database
or another package's services. Forms are plain HTML posts (they work without JavaScript);
``static/live.js`` only refreshes parts of a page when the event stream says something changed.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from saas_server.core.settings import resolve_secret_key
from saas_server.dashboard import charts
from saas_server.dashboard.client import API, ApiClient, ApiError, stream_asgi
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

router = APIRouter(include_in_schema=False)


class CachedStaticFiles(StaticFiles):
    """The stylesheet and scripts: cacheable for an hour (the pipeline's default is no-store)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=3600"
        return response


def static_files() -> CachedStaticFiles:
    return CachedStaticFiles(directory=HERE / "static")


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


def _client_address(request: Request) -> tuple[str, int]:
    if request.client is not None:
        return (request.client.host, request.client.port)
    return ("127.0.0.1", 0)


class Ctx:
    """One browser request: its session (refreshed when due) and its API client."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.session: DashboardSession | None = None
        self.session_changed = False
        self.api = ApiClient(request.app, _client_address(request))

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
            return self.redirect(_login_url(self.request))
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
                    return ctx.redirect(_login_url(request))
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
        params = [p for name, p in _signature(handler).parameters.items() if name != "ctx"]
        wrapper.__signature__ = _signature(handler).replace(  # type: ignore[attr-defined]
            parameters=[_request_param(), *params]
        )
        del wrapper.__wrapped__
        return wrapper

    return decorate


def _signature(handler: Handler) -> Any:
    import inspect

    return inspect.signature(handler)


def _request_param() -> Any:
    import inspect

    return inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)


def _login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")


def _safe_next(value: str | None, default: str = "/app/tenants") -> str:
    # Only a path of this site: never "//evil.example" or a scheme.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


async def _form(ctx: Ctx) -> dict[str, str]:
    form = await ctx.request.form()
    return {k: str(v).strip() for k, v in form.items() if k != CSRF_FIELD and isinstance(v, str)}


def _form_error(error: ApiError) -> dict[str, str]:
    errors = error.field_errors()
    if not errors:
        errors["_form"] = error.message
    return errors


# -- public pages: landing, sign-up, login, the mailed links -----------------------------------


@router.get("/")
@page(login=False)
async def landing(ctx: Ctx) -> Response:
    return ctx.redirect("/app/tenants" if ctx.session else "/login")


@router.get("/login")
@page(login=False)
async def login_form(ctx: Ctx) -> Response:
    return ctx.render("login.html", next=_safe_next(ctx.request.query_params.get("next")))


@router.post("/login")
@page(login=False)
async def login_submit(ctx: Ctx) -> Response:
    form = await _form(ctx)
    target = _safe_next(form.get("next"))
    try:
        pair = await ctx.api.request(
            "POST",
            "/auth/login",
            json={"email": form.get("email"), "password": form.get("password")},
        )
    except ApiError as error:
        return ctx.render(
            "login.html", status=error.status, errors=_form_error(error), form=form, next=target
        )
    ctx.login(pair)
    return ctx.redirect(target)


@router.post("/logout")
@page(login=False)
async def logout(ctx: Ctx) -> Response:
    if ctx.session is not None:
        try:
            await ctx.api.request(
                "POST", "/auth/logout", json={"refresh_token": ctx.session.refresh_token}
            )
        except ApiError:
            pass  # the session is already over on the API's side
    ctx.logout()
    return ctx.redirect("/login", "You are signed out.")


@router.get("/signup")
@page(login=False)
async def signup_form(ctx: Ctx) -> Response:
    return ctx.render("signup.html")


@router.post("/signup")
@page(login=False)
async def signup_submit(ctx: Ctx) -> Response:
    form = await _form(ctx)
    body: dict[str, Any] = {
        "email": form.get("email"),
        "password": form.get("password"),
        "password_confirm": form.get("password_confirm"),
        "full_name": form.get("full_name"),
    }
    if form.get("tenant_name") or form.get("subdomain"):
        body["tenant_name"] = form.get("tenant_name") or None
        body["subdomain"] = form.get("subdomain") or None
    try:
        await ctx.api.request("POST", "/auth/register", json=body)
    except ApiError as error:
        return ctx.render("signup.html", status=error.status, errors=_form_error(error), form=form)
    return ctx.render(
        "message.html",
        title="Check your mailbox",
        message=f"We sent a link to {form.get('email')}. Open it to verify your address, "
        "then log in.",
    )


@router.get("/verify-email")
@page(login=False)
async def verify_email(ctx: Ctx) -> Response:
    token = ctx.request.query_params.get("token", "")
    try:
        result = await ctx.api.request("POST", "/auth/verify-email", json={"token": token})
    except ApiError as error:
        return ctx.render(
            "message.html",
            status=error.status,
            title="This link does not work",
            message=error.message + " Ask for a new link from the login page.",
        )
    tenant = result.get("tenant")
    extra = f" Your tenant {tenant['name']} is being created." if tenant else ""
    return ctx.render(
        "message.html",
        title="Email address verified",
        message="Your address is verified." + extra,
        link=("/app/tenants", "Go to your tenants") if ctx.session else ("/login", "Log in"),
    )


@router.get("/forgot-password")
@page(login=False)
async def forgot_form(ctx: Ctx) -> Response:
    return ctx.render("forgot.html")


@router.post("/forgot-password")
@page(login=False)
async def forgot_submit(ctx: Ctx) -> Response:
    form = await _form(ctx)
    try:
        result = await ctx.api.request(
            "POST", "/auth/password-reset/request", json={"email": form.get("email")}
        )
    except ApiError as error:
        return ctx.render("forgot.html", status=error.status, errors=_form_error(error), form=form)
    return ctx.render("message.html", title="Check your mailbox", message=result["message"])


@router.get("/reset-password")
@page(login=False)
async def reset_form(ctx: Ctx) -> Response:
    return ctx.render("reset.html", token=ctx.request.query_params.get("token", ""))


@router.post("/reset-password")
@page(login=False)
async def reset_submit(ctx: Ctx) -> Response:
    form = await _form(ctx)
    if form.get("new_password") != form.get("new_password_confirm"):
        return ctx.render(
            "reset.html",
            status=422,
            token=form.get("token", ""),
            errors={"new_password_confirm": "The two passwords differ."},
        )
    try:
        await ctx.api.request(
            "POST",
            "/auth/password-reset/confirm",
            json={"token": form.get("token"), "new_password": form.get("new_password")},
        )
    except ApiError as error:
        return ctx.render(
            "reset.html",
            status=error.status,
            token=form.get("token", ""),
            errors=_form_error(error),
        )
    return ctx.redirect("/login", "Your password is changed. Log in with the new one.")


@router.get("/accept-invitation")
@page(login=False)
async def accept_form(ctx: Ctx) -> Response:
    token = ctx.request.query_params.get("token", "")
    return ctx.render("accept.html", token=token, login_url=_login_url(ctx.request))


@router.post("/accept-invitation")
@page()
async def accept_submit(ctx: Ctx) -> Response:
    form = await _form(ctx)
    try:
        result = await ctx.api.post("/invitations/accept", {"token": form.get("token")})
    except ApiError as error:
        return ctx.render(
            "accept.html",
            status=error.status,
            token=form.get("token", ""),
            errors=_form_error(error),
            login_url="/login",
        )
    tenant_id = (result.get("tenant") or {}).get("id") or result.get("tenant_id")
    return ctx.redirect(
        f"/app/tenants/{tenant_id}" if tenant_id else "/app/tenants", "You joined the tenant."
    )


# -- the signed-in person: profile, password, API keys ----------------------------------------


@router.get("/app/profile")
@page()
async def profile(ctx: Ctx) -> Response:
    me = await ctx.api.get("/auth/me")
    return ctx.render("profile.html", user=me, form=me)


@router.post("/app/profile")
@page()
async def profile_submit(ctx: Ctx) -> Response:
    form = await _form(ctx)
    if "current_password" in form:
        try:
            await ctx.api.post(
                "/auth/change-password",
                {
                    "current_password": form["current_password"],
                    "new_password": form.get("new_password"),
                },
            )
        except ApiError as error:
            me = await ctx.api.get("/auth/me")
            return ctx.render(
                "profile.html", status=error.status, user=me, form=me, errors=_form_error(error)
            )
        # The API ends the other sessions; this one's tokens stay valid.
        return ctx.redirect("/app/profile", "Your password is changed.")
    try:
        me = await ctx.api.request(
            "PATCH", "/auth/profile", json={"full_name": form.get("full_name")}
        )
    except ApiError as error:
        me = await ctx.api.get("/auth/me")
        return ctx.render(
            "profile.html", status=error.status, user=me, form=form, errors=_form_error(error)
        )
    assert ctx.session is not None
    ctx.session.user.update(full_name=me["full_name"])
    ctx.session_changed = True
    return ctx.redirect("/app/profile", "Your profile is saved.")


@router.get("/app/api-keys")
@page()
async def api_keys(ctx: Ctx) -> Response:
    keys = await ctx.api.get("/api-keys", page_size=100)
    return ctx.render("api_keys.html", keys=keys["results"])


@router.post("/app/api-keys")
@page()
async def api_keys_submit(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    revoke = form.get("revoke")
    if revoke:
        await ctx.api.request("DELETE", f"/api-keys/{_uuid(str(revoke))}")
        return ctx.redirect("/app/api-keys", "The key is revoked.")
    scopes = [str(s) for s in form.getlist("scopes")]
    body = {"name": str(form.get("name") or "").strip(), "scopes": scopes}
    try:
        created = await ctx.api.post("/api-keys", body)
    except ApiError as error:
        keys = await ctx.api.get("/api-keys", page_size=100)
        return ctx.render(
            "api_keys.html",
            status=error.status,
            keys=keys["results"],
            errors=_form_error(error),
            form=body,
        )
    keys = await ctx.api.get("/api-keys", page_size=100)
    # Shown once, in this answer only (never in a URL or a cookie).
    return ctx.render("api_keys.html", keys=keys["results"], new_key=created)


# -- tenants ----------------------------------------------------------------------------------


@router.get("/app/tenants")
@page()
async def tenants(ctx: Ctx) -> Response:
    listing = await ctx.api.get("/tenants", page_size=100, ordering="-created_at")
    return ctx.render("tenants.html", tenants=listing["results"], count=listing["count"])


@router.get("/app/tenants/new")
@page()
async def tenant_new(ctx: Ctx) -> Response:
    return ctx.render("tenant_new.html")


@router.post("/app/tenants/new")
@page()
async def tenant_create(ctx: Ctx) -> Response:
    form = await _form(ctx)
    body = {
        "name": form.get("name"),
        "subdomain": form.get("subdomain"),
        "tier": form.get("tier") or "starter",
    }
    try:
        tenant = await ctx.api.post("/tenants", body)
    except ApiError as error:
        return ctx.render(
            "tenant_new.html", status=error.status, errors=_form_error(error), form=form
        )
    return ctx.redirect(f"/app/tenants/{tenant['id']}", "Your tenant is being created.")


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "Not found") from None


async def _tenant_page(ctx: Ctx, tenant_id: str, **extra: Any) -> Response:
    tenant = await ctx.api.get(f"/tenants/{tenant_id}")
    operator = True
    backups: list[dict[str, Any]] = []
    restores: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    invitations: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    usage: list[Any] = []
    if tenant["status"] != "deleted":
        members = (await ctx.api.get(f"/tenants/{tenant_id}/users", page_size=100))["results"]
    try:
        backups = (
            await ctx.api.get(f"/tenants/{tenant_id}/backups", page_size=20, ordering="-created_at")
        )["results"]
        restores = (await ctx.api.get(f"/tenants/{tenant_id}/restores", page_size=5))["results"]
        invitations = (await ctx.api.get(f"/tenants/{tenant_id}/invitations", page_size=50))[
            "results"
        ]
        logs = (await ctx.api.get(f"/tenants/{tenant_id}/logs", page_size=15))["results"]
        metric_list = (await ctx.api.get(f"/tenants/{tenant_id}/metrics"))["metrics"]
        for metric in metric_list[:4]:
            if metric.get("latest") is None:
                continue
            series = await ctx.api.get(
                f"/tenants/{tenant_id}/metrics", metric=metric["name"], granularity="minute"
            )
            points = [charts.Point(p["at"][11:16], p["value"]) for p in series["points"][-60:]]
            usage.append(
                charts.line_chart(metric["name"].replace("_", " "), points, metric["unit"])
            )
    except ApiError as error:
        if error.status not in (403, 404):
            raise
        operator = False  # members who are not owners or admins see the tenant only
    instance = tenant.get("instance") or {}
    live = (
        tenant["status"] in TRANSITIONAL
        or instance.get("status") in TRANSITIONAL
        or any(b["status"] in TRANSITIONAL for b in backups)
        or any(r["status"] in TRANSITIONAL for r in restores)
    )
    return ctx.render(
        "tenant.html",
        tenant=tenant,
        instance=instance,
        operator=operator,
        backups=backups,
        restores=restores,
        members=members,
        invitations=invitations,
        logs=logs,
        usage=usage,
        live=live,
        **extra,
    )


@router.get("/app/tenants/{tenant_id}")
@page()
async def tenant_detail(ctx: Ctx, tenant_id: str) -> Response:
    return await _tenant_page(ctx, _uuid(tenant_id))


@router.post("/app/tenants/{tenant_id}")
@page()
async def tenant_act(ctx: Ctx, tenant_id: str) -> Response:
    """Every form of the tenant page posts here, its ``intent`` saying what it asks."""
    tenant_id = _uuid(tenant_id)
    form = await _form(ctx)
    intent = form.get("intent", "")
    here = f"/app/tenants/{tenant_id}"
    try:
        if intent in ("start", "stop", "restart", "retry"):
            tenant = await ctx.api.get(f"/tenants/{tenant_id}")
            instance_id = (tenant.get("instance") or {}).get("id")
            if not instance_id:
                raise ApiError(409, "CONFLICT", "This tenant has no instance yet.")
            await ctx.api.post(f"/instances/{instance_id}/actions", {"action": intent})
            return ctx.redirect(here, f"Asked Odoo to {intent}.")
        if intent == "backup":
            await ctx.api.post(
                f"/tenants/{tenant_id}/backups", {"reason": form.get("reason") or None}
            )
            return ctx.redirect(here, "The backup has started.")
        if intent == "invite":
            await ctx.api.post(
                f"/tenants/{tenant_id}/users",
                {"email": form.get("email"), "role": form.get("role") or "member"},
            )
            return ctx.redirect(here, f"Invited {form.get('email')}.")
        if intent in ("restore", "delete"):
            tenant = await ctx.api.get(f"/tenants/{tenant_id}")
            if form.get("confirm") != tenant["subdomain"]:
                return await _tenant_page(
                    ctx,
                    tenant_id,
                    errors={f"{intent}_confirm": f"Type {tenant['subdomain']} to confirm."},
                )
            if intent == "delete":
                await ctx.api.request("DELETE", f"/tenants/{tenant_id}")
                return ctx.redirect("/app/tenants", f"{tenant['name']} is being deleted.")
            backup_id = _uuid(form.get("backup_id", ""))
            await ctx.api.post(f"/tenants/{tenant_id}/backups/{backup_id}/restore", {})
            return ctx.redirect(here, "The restore has started.")
    except ApiError as error:
        if error.status in (401, 404):
            raise
        return await _tenant_page(ctx, tenant_id, errors={f"{intent}_form": error.message})
    raise ApiError(400, "BAD_REQUEST", "Unknown action")


@router.get("/app/tenants/{tenant_id}/backups/{backup_id}/download")
@page()
async def backup_download(ctx: Ctx, tenant_id: str, backup_id: str) -> Response:
    backup = await ctx.api.get(f"/tenants/{_uuid(tenant_id)}/backups/{_uuid(backup_id)}")
    url = backup.get("download_url")
    if not url:
        raise ApiError(409, "CONFLICT", "This backup cannot be downloaded (not completed yet).")
    # A signed, short-lived link the API made for this person: the browser follows it.
    return ctx.redirect(url)


# -- the event stream, relayed with the session's token ----------------------------------------


@router.get("/app/events")
async def events(request: Request) -> Response:
    ctx = await Ctx(request).load()
    await ctx.api.aclose()
    if ctx.session is None:
        return Response(status_code=401)
    headers = [
        (b"authorization", f"Bearer {ctx.session.access_token}".encode()),
        (b"accept", b"text/event-stream"),
    ]
    last_id = request.headers.get("last-event-id")
    if last_id:
        headers.append((b"last-event-id", last_id.encode()))
    query = ""
    tenant_id = request.query_params.get("tenant_id")
    if tenant_id:
        query = "tenant_id=" + _uuid(tenant_id)
    status, body = await stream_asgi(
        request.app, f"{API}/events/stream", query, headers, _client_address(request)
    )
    if status != 200:
        await body.aclose()  # type: ignore[attr-defined]
        return Response(status_code=status)
    response = StreamingResponse(
        _as_plain_messages(body),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    return ctx.finish(response)


async def _as_plain_messages(body: Any) -> Any:
    """Drop the ``event:`` lines: the browser then hands every message to ``onmessage``, and
    the type is in the data anyway."""
    tail = b""
    try:
        async for chunk in body:
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            kept = [line for line in lines if not line.startswith(b"event:")]
            if kept:
                yield b"\n".join(kept) + b"\n"
    finally:
        await body.aclose()


# -- the admin console -------------------------------------------------------------------------


@router.get("/app/admin")
@page(admin=True)
async def admin_home(ctx: Ctx) -> Response:
    stats = await ctx.api.get("/admin/stats")
    platform = await ctx.api.get("/admin/metrics/platform")
    by_status = platform.get("tenants", {}).get("by_status", {})
    status_chart = charts.bar_chart(
        "Tenants by status", [charts.Point(k, float(v)) for k, v in sorted(by_status.items())]
    )
    growth_chart = charts.bar_chart(
        "Sign-ups",
        [charts.Point(f"last {k}", float(v)) for k, v in stats.get("signups", {}).items()],
    )
    return ctx.render(
        "admin.html", stats=stats, status_chart=status_chart, growth_chart=growth_chart
    )


@router.get("/app/admin/hosts")
@page(admin=True)
async def admin_hosts(ctx: Ctx) -> Response:
    hosts = await ctx.api.get("/admin/odoo-hosts", page_size=100)
    return ctx.render("admin_hosts.html", hosts=hosts["results"])


@router.post("/app/admin/hosts")
@page(admin=True)
async def admin_hosts_act(ctx: Ctx) -> Response:
    form = await _form(ctx)
    host_id = _uuid(form.get("host_id", ""))
    action = form.get("action", "")
    try:
        await ctx.api.post(f"/admin/odoo-hosts/{host_id}/actions", {"action": action})
    except ApiError as error:
        if error.status in (401, 404):
            raise
        hosts = await ctx.api.get("/admin/odoo-hosts", page_size=100)
        return ctx.render(
            "admin_hosts.html",
            status=error.status,
            hosts=hosts["results"],
            errors={host_id: error.message},
        )
    return ctx.redirect("/app/admin/hosts", f"Host: {action} done.")


@router.get("/app/admin/tenants")
@page(admin=True)
async def admin_tenants(ctx: Ctx) -> Response:
    search = ctx.request.query_params.get("search")
    listing = await ctx.api.get("/admin/tenants", page_size=100, search=search)
    return ctx.render("admin_tenants.html", tenants=listing["results"], search=search or "")


@router.post("/app/admin/tenants")
@page(admin=True)
async def admin_tenants_act(ctx: Ctx) -> Response:
    form = await _form(ctx)
    tenant_id = _uuid(form.get("tenant_id", ""))
    try:
        await ctx.api.post(
            f"/admin/tenants/{tenant_id}/actions",
            {"action": form.get("action"), "reason": form.get("reason") or None},
        )
    except ApiError as error:
        if error.status in (401, 404):
            raise
        listing = await ctx.api.get("/admin/tenants", page_size=100)
        return ctx.render(
            "admin_tenants.html",
            status=error.status,
            tenants=listing["results"],
            search="",
            errors={tenant_id: error.message},
        )
    return ctx.redirect("/app/admin/tenants", f"{form.get('action')}: asked, with your reason.")


@router.get("/app/admin/audit")
@page(admin=True)
async def admin_audit(ctx: Ctx) -> Response:
    q = ctx.request.query_params
    filters = {
        k: q.get(k, "") for k in ("action", "resource_type", "tenant_id", "date_from", "date_to")
    }
    entries = await ctx.api.get("/audit/logs", page_size=50, **filters)
    return ctx.render(
        "admin_audit.html", entries=entries["results"], count=entries["count"], filters=filters
    )
