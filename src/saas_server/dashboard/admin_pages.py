"""The admin console's pages: platform admins only, each a client of the admin API."""

from __future__ import annotations

from fastapi.responses import Response

from saas_server.dashboard import charts
from saas_server.dashboard.client import ApiError
from saas_server.dashboard.web import Ctx, dashboard_router, page, parse_uuid, read_form

router = dashboard_router()


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
    tier_chart = charts.bar_chart(
        "Tenants by tier",
        [
            charts.Point(k, float(v))
            for k, v in sorted(platform.get("tenants", {}).get("by_tier", {}).items())
        ],
    )
    hosts_chart = charts.bar_chart(
        "Odoo hosts: databases against capacity, in per cent",
        [
            charts.Point(host["name"], round(100 * float(host["utilization"] or 0), 1))
            for host in platform.get("hosts", [])
        ],
    )
    return ctx.render(
        "admin.html",
        stats=stats,
        charts_shown=[
            ("Tenants by status", status_chart),
            ("Tenants by tier", tier_chart),
            ("Sign-ups", growth_chart),
            ("Odoo hosts: share of capacity used (%)", hosts_chart),
        ],
    )


@router.get("/app/admin/hosts")
@page(admin=True)
async def admin_hosts(ctx: Ctx) -> Response:
    hosts = await ctx.api.get("/admin/odoo-hosts", page_size=100)
    return ctx.render("admin_hosts.html", hosts=hosts["results"])


@router.post("/app/admin/hosts")
@page(admin=True)
async def admin_hosts_act(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    host_id = parse_uuid(form.get("host_id", ""))
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
    form = await read_form(ctx)
    tenant_id = parse_uuid(form.get("tenant_id", ""))
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


async def _admin_results(ctx: Ctx, path: str, **params: object) -> list[dict[str, object]]:
    listing = await ctx.api.get(path, page_size=100, **params)
    results: list[dict[str, object]] = listing["results"]
    return results


@router.get("/app/admin/users")
@page(admin=True)
async def admin_users(ctx: Ctx) -> Response:
    search = ctx.request.query_params.get("search")
    users = await _admin_results(ctx, "/admin/users", search=search)
    return ctx.render("admin_users.html", users=users, search=search or "")


@router.post("/app/admin/users")
@page(admin=True)
async def admin_users_act(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    user_id = parse_uuid(form.get("user_id", ""))
    action = form.get("action", "")
    user_changes: dict[str, dict[str, object]] = {
        "suspend": {"is_active": False},
        "reactivate": {"is_active": True},
        "make_admin": {"role": "admin"},
        "make_user": {"role": "user"},
    }
    changes = user_changes.get(action)
    if action == "tenant_limit":
        changes = {"tenant_limit": form.get("tenant_limit") or None}
    if changes is None:
        raise ApiError(400, "BAD_REQUEST", "Unknown action")
    try:
        await ctx.api.request("PATCH", f"/users/{user_id}", json=changes)
    except ApiError as error:
        if error.status in (401, 404):
            raise
        users = await _admin_results(ctx, "/admin/users")
        return ctx.render(
            "admin_users.html",
            status=error.status,
            users=users,
            search="",
            errors={user_id: error.message},
        )
    return ctx.redirect("/app/admin/users", f"{action.replace('_', ' ')}: done.")


@router.get("/app/admin/security")
@page(admin=True)
async def admin_security(ctx: Ctx) -> Response:
    threats = await _admin_results(ctx, "/security/threats", ordering="-last_seen_at")
    blocked = await _admin_results(ctx, "/security/blocked-ips")
    return ctx.render("admin_security.html", threats=threats, blocked=blocked)


@router.post("/app/admin/security")
@page(admin=True)
async def admin_security_act(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    intent = form.get("intent", "")
    try:
        if intent in ("acknowledge", "resolve", "block_ip"):
            threat_id = parse_uuid(form.get("threat_id", ""))
            await ctx.api.post(f"/security/threats/{threat_id}/actions", {"action": intent})
        elif intent == "block":
            await ctx.api.post(
                "/security/blocked-ips",
                {"ip": form.get("ip"), "reason": form.get("reason") or None},
            )
        elif intent == "unblock":
            blocked_id = parse_uuid(form.get("blocked_id", ""))
            await ctx.api.request("DELETE", f"/security/blocked-ips/{blocked_id}")
        else:
            raise ApiError(400, "BAD_REQUEST", "Unknown action")
    except ApiError as error:
        if error.status in (401,):
            raise
        threats = await _admin_results(ctx, "/security/threats", ordering="-last_seen_at")
        blocked = await _admin_results(ctx, "/security/blocked-ips")
        return ctx.render(
            "admin_security.html",
            status=error.status,
            threats=threats,
            blocked=blocked,
            errors={"ip" if intent == "block" else "_form": error.message},
            form=form,
        )
    return ctx.redirect("/app/admin/security", f"{intent.replace('_', ' ')}: done.")


@router.get("/app/admin/maintenance")
@page(admin=True)
async def admin_maintenance(ctx: Ctx) -> Response:
    state = await ctx.api.get("/admin/maintenance")
    plans = (await ctx.api.get("/admin/plans", page_size=100))["results"]
    instances = await _admin_results(ctx, "/admin/instances", ordering="-created_at")
    return ctx.render(
        "admin_platform.html", maintenance=state, plans=plans, instances=instances[:50]
    )


@router.post("/app/admin/maintenance")
@page(admin=True)
async def admin_maintenance_set(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    enabled = form.get("enabled") == "on"
    await ctx.api.post(
        "/admin/maintenance", {"enabled": enabled, "message": form.get("message") or None}
    )
    return ctx.redirect(
        "/app/admin/maintenance", "Maintenance mode is on." if enabled else "Maintenance is off."
    )
