"""The web dashboard: server-rendered pages over the public API (decision 0022).

Every page reads and writes through :class:`~saas_server.dashboard.client.ApiClient` with the
person's own access token, as any client of the API would; nothing here touches the database
or another package's services. Forms are plain HTML posts (they work without JavaScript);
``static/live.js`` only refreshes parts of a page when the event stream says something changed.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from saas_server.core import clock
from saas_server.dashboard import charts
from saas_server.dashboard.account_pages import router as account_router
from saas_server.dashboard.admin_pages import router as admin_router
from saas_server.dashboard.client import API, ApiError, stream_asgi
from saas_server.dashboard.console_pages import router as console_router
from saas_server.dashboard.web import (
    TRANSITIONAL,
    Ctx,
    client_address,
    dashboard_router,
    form_errors,
    login_url,
    page,
    parse_uuid,
    read_form,
    safe_next,
    static_response,
)

router = dashboard_router()


# -- public pages: landing, sign-up, login, the mailed links -----------------------------------


@router.get("/")
@page(login=False)
async def landing(ctx: Ctx) -> Response:
    return ctx.redirect("/app/tenants" if ctx.session else "/login")


@router.get("/login")
@page(login=False)
async def login_form(ctx: Ctx) -> Response:
    return ctx.render("login.html", next=safe_next(ctx.request.query_params.get("next")))


@router.post("/login")
@page(login=False)
async def login_submit(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    target = safe_next(form.get("next"))
    try:
        pair = await ctx.api.request(
            "POST",
            "/auth/login",
            json={"email": form.get("email"), "password": form.get("password")},
        )
    except ApiError as error:
        return ctx.render(
            "login.html", status=error.status, errors=form_errors(error), form=form, next=target
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
    form = await read_form(ctx)
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
        return ctx.render("signup.html", status=error.status, errors=form_errors(error), form=form)
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
    form = await read_form(ctx)
    try:
        result = await ctx.api.request(
            "POST", "/auth/password-reset/request", json={"email": form.get("email")}
        )
    except ApiError as error:
        return ctx.render("forgot.html", status=error.status, errors=form_errors(error), form=form)
    return ctx.render("message.html", title="Check your mailbox", message=result["message"])


@router.get("/reset-password")
@page(login=False)
async def reset_form(ctx: Ctx) -> Response:
    return ctx.render("reset.html", token=ctx.request.query_params.get("token", ""))


@router.post("/reset-password")
@page(login=False)
async def reset_submit(ctx: Ctx) -> Response:
    form = await read_form(ctx)
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
            errors=form_errors(error),
        )
    return ctx.redirect("/login", "Your password is changed. Log in with the new one.")


@router.get("/accept-invitation")
@page(login=False)
async def accept_form(ctx: Ctx) -> Response:
    token = ctx.request.query_params.get("token", "")
    return ctx.render("accept.html", token=token, login_url=login_url(ctx.request))


@router.post("/accept-invitation")
@page()
async def accept_submit(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    try:
        result = await ctx.api.post("/invitations/accept", {"token": form.get("token")})
    except ApiError as error:
        return ctx.render(
            "accept.html",
            status=error.status,
            token=form.get("token", ""),
            errors=form_errors(error),
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
    form = await read_form(ctx)
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
                "profile.html", status=error.status, user=me, form=me, errors=form_errors(error)
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
            "profile.html", status=error.status, user=me, form=form, errors=form_errors(error)
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
        await ctx.api.request("DELETE", f"/api-keys/{parse_uuid(str(revoke))}")
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
            errors=form_errors(error),
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
    form = await read_form(ctx)
    body = {
        "name": form.get("name"),
        "subdomain": form.get("subdomain"),
        "tier": form.get("tier") or "starter",
    }
    try:
        tenant = await ctx.api.post("/tenants", body)
    except ApiError as error:
        return ctx.render(
            "tenant_new.html", status=error.status, errors=form_errors(error), form=form
        )
    return ctx.redirect(f"/app/tenants/{tenant['id']}", "Your tenant is being created.")


async def _tenant_page(ctx: Ctx, tenant_id: str, **extra: Any) -> Response:
    tenant = await ctx.api.get(f"/tenants/{tenant_id}")
    operator = True
    backups: list[dict[str, Any]] = []
    restores: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    invitations: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    scans: list[dict[str, Any]] = []
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
        scans = (await ctx.api.get("/security/scans", tenant_id=tenant_id, page_size=5))["results"]
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
        rendered_at=clock.isoformat(clock.now()),
        tenant=tenant,
        instance=instance,
        operator=operator,
        backups=backups,
        restores=restores,
        members=members,
        invitations=invitations,
        logs=logs,
        scans=scans,
        usage=usage,
        live=live,
        **extra,
    )


@router.get("/app/tenants/{tenant_id}")
@page()
async def tenant_detail(ctx: Ctx, tenant_id: str) -> Response:
    return await _tenant_page(ctx, parse_uuid(tenant_id))


@router.post("/app/tenants/{tenant_id}")
@page()
async def tenant_act(ctx: Ctx, tenant_id: str) -> Response:
    """Every form of the tenant page posts here, its ``intent`` saying what it asks."""
    tenant_id = parse_uuid(tenant_id)
    form = await read_form(ctx)
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
        if intent in ("member_role", "member_remove"):
            user_id = parse_uuid(form.get("user_id", ""))
            if intent == "member_remove":
                await ctx.api.request("DELETE", f"/tenants/{tenant_id}/users/{user_id}")
                return ctx.redirect(here, "The member is removed.")
            await ctx.api.request(
                "PATCH", f"/tenants/{tenant_id}/users/{user_id}", json={"role": form.get("role")}
            )
            return ctx.redirect(here, "The role is changed.")
        if intent == "scan":
            await ctx.api.post("/security/scans", {"tenant_id": tenant_id})
            return ctx.redirect(here, "The security scan has started.")
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
            backup_id = parse_uuid(form.get("backup_id", ""))
            await ctx.api.post(f"/tenants/{tenant_id}/backups/{backup_id}/restore", {})
            return ctx.redirect(here, "The restore has started.")
    except ApiError as error:
        if error.status in (401, 404):
            raise
        return await _tenant_page(ctx, tenant_id, errors={f"{intent}_form": error.message})
    raise ApiError(400, "BAD_REQUEST", "Unknown action")


# What each view shows: its name and how many of the latest samples (minutes, hours, days).
GRANULARITIES = {
    "minute": ("the latest 60 minutes", 60),
    "hour": ("the latest 48 hours", 48),
    "day": ("the latest 31 days", 31),
}


@router.get("/app/tenants/{tenant_id}/metrics")
@page()
async def tenant_metrics(ctx: Ctx, tenant_id: str) -> Response:
    """Every metric of the tenant as a chart, by minute, hour or day (the metrics API)."""
    tenant_id = parse_uuid(tenant_id)
    granularity = ctx.request.query_params.get("granularity", "hour")
    if granularity not in GRANULARITIES:
        granularity = "hour"
    span, count = GRANULARITIES[granularity]
    tenant = await ctx.api.get(f"/tenants/{tenant_id}")
    shown: list[tuple[dict[str, Any], Any]] = []
    for metric in (await ctx.api.get(f"/tenants/{tenant_id}/metrics"))["metrics"]:
        series: dict[str, Any] = {"points": []}
        if metric.get("latest") is not None:  # never sampled: nothing to ask for
            series = await ctx.api.get(
                f"/tenants/{tenant_id}/metrics", metric=metric["name"], granularity=granularity
            )
        label = (lambda at: at[11:16]) if granularity != "day" else (lambda at: at[5:10])
        points = [charts.Point(label(p["at"]), p["value"]) for p in series["points"][-count:]]
        title = f"{metric['name'].replace('_', ' ')}, {span}"
        shown.append((metric, charts.line_chart(title, points, metric["unit"])))
    return ctx.render(
        "tenant_metrics.html",
        tenant=tenant,
        metrics=shown,
        granularity=granularity,
        granularities=GRANULARITIES,
    )


@router.get("/app/tenants/{tenant_id}/backups/{backup_id}/download")
@page()
async def backup_download(ctx: Ctx, tenant_id: str, backup_id: str) -> Response:
    backup = await ctx.api.get(f"/tenants/{parse_uuid(tenant_id)}/backups/{parse_uuid(backup_id)}")
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
    params = []
    tenant_id = request.query_params.get("tenant_id")
    if tenant_id:
        params.append("tenant_id=" + parse_uuid(tenant_id))
    since = request.query_params.get("last_event_id", "")
    if since.isdigit() and not last_id:
        # A page opened while something runs replays what it may have missed (live.js
        # keeps the recent steps); a reconnection's Last-Event-ID wins over it.
        params.append("last_event_id=" + since)
    query = "&".join(params)
    status, body = await stream_asgi(
        request.app, f"{API}/events/stream", query, headers, client_address(request)
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


@router.get("/static/{name}")
async def static_asset(name: str) -> Response:
    return static_response(name)


# app.py includes each (a router included in another would hide its routes' own class).
routers = (router, account_router, admin_router, console_router)
