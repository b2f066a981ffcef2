"""The admin console's later pages: plans (create, edit), adding an Odoo host, a threat's
detail, the audit chain check, and the inbound integrations (providers, events, health).
Each is a client of the public API, as the rest of the dashboard (decision 0022, 0030)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi.responses import Response

from saas_server.dashboard.client import ApiError
from saas_server.dashboard.web import (
    Ctx,
    dashboard_router,
    form_errors,
    page,
    parse_uuid,
    read_form,
)

router = dashboard_router()


def field_error(field: str, message: str) -> ApiError:
    """A form field's error, shown next to it (``ApiError.field_errors``)."""
    return ApiError(422, "VALIDATION_ERROR", message, {"field": field})


def money_to_cents(value: str, field: str) -> int:
    """``"31.5"`` -> 3150, exactly (Decimal, never a float); more than two decimals, a
    negative amount or not a number is the field's error."""
    try:
        amount = Decimal(value.replace(",", "").strip() or "0")
    except InvalidOperation:
        raise field_error(field, "An amount such as 31.00, please.") from None
    cents = amount * 100
    if not amount.is_finite() or cents != cents.to_integral_value() or amount < 0:
        raise field_error(field, "An amount of at least 0 with at most two decimals.")
    return int(cents)


def whole(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise field_error(field, "A whole number, please.") from None


# -- plans --------------------------------------------------------------------------------------

PLAN_NUMBERS = ("max_users", "storage_gb", "expiration_days", "seats_included", "trial_days")
PLAN_MONEY = ("monthly_amount_cents", "annual_amount_cents", "extra_seat_amount_cents")
BACKUP_NUMBERS = ("daily", "weekly", "monthly", "manual_quota", "manual_retention_days")


def _plan_body(form: dict[str, str], *, creating: bool) -> dict[str, Any]:
    """The API's plan fields from the form: money typed as 31.00, numbers as numbers."""
    body: dict[str, Any] = {}
    for name in ("name", "description", "currency", "rate_limit_class", "expiration_reason"):
        if form.get(name) or (name == "description" and name in form):
            body[name] = form[name] or None if name == "description" else form[name]
    if creating:
        body["code"] = form.get("code", "")
    for name in PLAN_NUMBERS:
        if form.get(name):
            body[name] = whole(form[name], name)
    for name in PLAN_MONEY:
        if form.get(name):
            body[name] = money_to_cents(form[name], name)
    policy = {
        n: whole(form[f"backup_{n}"], f"backup_{n}")
        for n in BACKUP_NUMBERS
        if form.get(f"backup_{n}")
    }
    if policy:
        body["backup_policy"] = policy
    body["is_active"] = form.get("is_active") == "on"
    return body


def plan_errors(error: ApiError, form: dict[str, str]) -> dict[str, str]:
    """The API's errors next to the plan form's fields (``backup_policy.daily`` is the
    field ``backup_daily``); any the form has no field for go above it."""
    errors = {
        name.replace("backup_policy.", "backup_"): message
        for name, message in form_errors(error).items()
    }
    stray = [
        f"{name}: {msg}" for name, msg in errors.items() if name != "_form" and name not in form
    ]
    if stray:
        errors["_form"] = " ".join(stray)
    return errors


async def _plans_page(ctx: Ctx, **extra: Any) -> Response:
    plans = (await ctx.api.get("/admin/plans", page_size=100))["results"]
    return ctx.render("admin_plans.html", plans=plans, **extra)


@router.get("/app/admin/plans")
@page(admin=True)
async def admin_plans(ctx: Ctx) -> Response:
    return await _plans_page(ctx, form={})


@router.post("/app/admin/plans")
@page(admin=True)
async def admin_plan_create(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    try:
        created = await ctx.api.post("/admin/plans", _plan_body(form, creating=True))
    except ApiError as error:
        if error.status == 401:
            raise
        return await _plans_page(
            ctx, status=error.status, errors=plan_errors(error, form), form=form
        )
    return ctx.redirect(f"/app/admin/plans/{created['id']}", f"Plan {created['code']} created.")


@router.get("/app/admin/plans/{plan_id}")
@page(admin=True)
async def admin_plan(ctx: Ctx, plan_id: str) -> Response:
    plan = await ctx.api.get(f"/admin/plans/{parse_uuid(plan_id)}")
    return ctx.render("admin_plan.html", plan=plan, form=_plan_form(plan))


def _plan_form(plan: dict[str, Any]) -> dict[str, str]:
    """The plan's values as the edit form shows them (cents as 31.00)."""
    form = {
        k: "" if v is None else str(v) for k, v in plan.items() if not isinstance(v, dict | list)
    }
    for name in PLAN_MONEY:
        if name in plan:
            form[name] = _money(plan[name])
    prices = {p["interval"]: p["amount_cents"] for p in plan.get("prices", [])}
    form["monthly_amount_cents"] = _money(prices.get("monthly", 0))
    form["annual_amount_cents"] = _money(prices.get("annually", 0))
    for name, value in (plan.get("backup_policy") or {}).items():
        form[f"backup_{name}"] = str(value)
    return form


def _money(cents: int) -> str:
    whole_part, part = divmod(int(cents), 100)
    return f"{whole_part}.{part:02d}"


@router.post("/app/admin/plans/{plan_id}")
@page(admin=True)
async def admin_plan_save(ctx: Ctx, plan_id: str) -> Response:
    plan_id = parse_uuid(plan_id)
    form = await read_form(ctx)
    try:
        saved = await ctx.api.request(
            "PATCH", f"/admin/plans/{plan_id}", json=_plan_body(form, creating=False)
        )
    except ApiError as error:
        if error.status in (401, 404):
            raise
        plan = await ctx.api.get(f"/admin/plans/{plan_id}")
        return ctx.render(
            "admin_plan.html",
            status=error.status,
            plan=plan,
            form=form,
            errors=plan_errors(error, form),
        )
    return ctx.redirect(f"/app/admin/plans/{plan_id}", f"Plan {saved['code']} saved.")


# -- adding an Odoo host ------------------------------------------------------------------------


@router.post("/app/admin/hosts/new")
@page(admin=True)
async def admin_host_add(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    body: dict[str, Any] = {
        "name": form.get("name", ""),
        "url": form.get("url", ""),
        "master_password": form.get("master_password", ""),
        "odoo_version": form.get("odoo_version", ""),
    }
    for optional in ("postgres_url", "log_path"):
        if form.get(optional):
            body[optional] = form[optional]
    try:
        body["capacity"] = whole(form.get("capacity", ""), "capacity")
        host = await ctx.api.post("/admin/odoo-hosts", body)
    except ApiError as error:
        if error.status == 401:
            raise
        hosts = await ctx.api.get("/admin/odoo-hosts", page_size=100)
        form.pop("master_password", None)
        form.pop("postgres_url", None)  # secrets are never sent back to the page
        return ctx.render(
            "admin_hosts.html",
            status=error.status,
            hosts=hosts["results"],
            errors=form_errors(error),
            form=form,
        )
    return ctx.redirect("/app/admin/hosts", f"Host {host['name']} added ({host['status']}).")


# -- a threat in detail -------------------------------------------------------------------------


@router.get("/app/admin/security/threats/{threat_id}")
@page(admin=True)
async def admin_threat(ctx: Ctx, threat_id: str) -> Response:
    threat = await ctx.api.get(f"/security/threats/{parse_uuid(threat_id)}")
    return ctx.render("admin_threat.html", threat=threat)


# -- the audit chain check ----------------------------------------------------------------------


@router.post("/app/admin/audit/verify")
@page(admin=True)
async def admin_audit_verify(ctx: Ctx) -> Response:
    await read_form(ctx)
    try:
        result = await ctx.api.post("/audit/verify", {})
    except ApiError as error:
        if error.status in (401, 403):
            raise
        return ctx.render("admin_audit_check.html", status=error.status, error=error.message)
    return ctx.render("admin_audit_check.html", result=result)


# -- inbound integrations -----------------------------------------------------------------------


@router.get("/app/admin/integrations")
@page(admin=True)
async def admin_integrations(ctx: Ctx) -> Response:
    q = ctx.request.query_params
    filters = {k: q.get(k, "") for k in ("provider", "status", "event_type")}
    providers = (await ctx.api.get("/integrations/providers", page_size=100))["results"]
    events = await ctx.api.get(
        "/integrations/events", page_size=50, **{k: v for k, v in filters.items() if v}
    )
    health = await ctx.api.get("/integrations/health")
    return ctx.render(
        "admin_integrations.html",
        providers=providers,
        events=events["results"],
        count=events["count"],
        health=health,
        filters=filters,
    )


@router.get("/app/admin/integrations/events/{event_id}")
@page(admin=True)
async def admin_integration_event(ctx: Ctx, event_id: str) -> Response:
    event = await ctx.api.get(f"/integrations/events/{parse_uuid(event_id)}")
    return ctx.render("admin_integration_event.html", event=event)


@router.post("/app/admin/integrations/events/{event_id}")
@page(admin=True)
async def admin_integration_event_retry(ctx: Ctx, event_id: str) -> Response:
    event_id = parse_uuid(event_id)
    await read_form(ctx)
    here = f"/app/admin/integrations/events/{event_id}"
    try:
        await ctx.api.post(f"/integrations/events/{event_id}/retry", {})
    except ApiError as error:
        if error.status in (401, 404):
            raise
        event = await ctx.api.get(f"/integrations/events/{event_id}")
        return ctx.render(
            "admin_integration_event.html",
            status=error.status,
            event=event,
            errors={"_form": error.message},
        )
    return ctx.redirect(here, "The event is queued again.")
