"""A customer's billing and webhook pages, each a client of the public API."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from saas_server.dashboard.client import API, ApiError
from saas_server.dashboard.web import (
    Ctx,
    dashboard_router,
    form_errors,
    page,
    parse_uuid,
    read_form,
)

router = dashboard_router()


async def _results(ctx: Ctx, path: str, **params: Any) -> list[dict[str, Any]]:
    """A list the person may not be allowed to see (or a feature not there): empty, not an error."""
    try:
        listing = await ctx.api.get(path, page_size=100, **params)
    except ApiError as error:
        if error.status in (403, 404):
            return []
        raise
    results: list[dict[str, Any]] = listing["results"]
    return results


# -- billing ------------------------------------------------------------------------------------


async def _billing_page(ctx: Ctx, **extra: Any) -> Response:
    return ctx.render(
        "billing.html",
        plans=await _results(ctx, "/billing/plans"),
        subscriptions=await _results(ctx, "/billing/subscriptions"),
        invoices=await _results(ctx, "/billing/invoices"),
        payment_methods=await _results(ctx, "/billing/payment-methods"),
        tenants=await _results(ctx, "/tenants"),
        **extra,
    )


def _whole(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(
            422, "VALIDATION_ERROR", "A whole number, please.", {"field": field}
        ) from None


@router.get("/app/billing")
@page()
async def billing(ctx: Ctx) -> Response:
    return await _billing_page(ctx)


@router.post("/app/billing")
@page()
async def billing_act(ctx: Ctx) -> Response:
    form = await read_form(ctx)
    intent = form.get("intent", "")
    try:
        if intent == "subscribe":
            await ctx.api.post(
                "/billing/subscriptions",
                {
                    "tenant_id": form.get("tenant_id"),
                    "plan": form.get("plan"),
                    "billing_cycle": form.get("billing_cycle") or "monthly",
                },
            )
            return ctx.redirect("/app/billing", "Subscribed.")
        if intent in ("preview_plan", "change_plan"):
            subscription_id = parse_uuid(form.get("subscription_id", ""))
            change: dict[str, Any] = {"plan": form.get("plan")}
            if form.get("max_users"):
                change["max_users"] = _whole(form["max_users"], "max_users")
            if intent == "preview_plan":
                # Nothing changes yet: the page shows what the change costs, to confirm.
                preview = await ctx.api.post(f"/subscriptions/{subscription_id}/preview", change)
                return await _billing_page(ctx, preview=preview)
            await ctx.api.request("PATCH", f"/subscriptions/{subscription_id}", json=change)
            return ctx.redirect("/app/billing", "The plan is changed.")
        if intent == "cancel":
            subscription_id = parse_uuid(form.get("subscription_id", ""))
            await ctx.api.post(f"/subscriptions/{subscription_id}/cancel", {"at_period_end": True})
            return ctx.redirect("/app/billing", "The subscription ends with this period.")
        if intent == "add_payment_method":
            await ctx.api.post(
                "/billing/payment-methods",
                {"tenant_id": form.get("tenant_id"), "type": "bank_transfer"},
            )
            return ctx.redirect("/app/billing", "The payment method is added.")
    except ApiError as error:
        if error.status == 401:
            raise
        intent = "change_plan" if intent == "preview_plan" else intent
        return await _billing_page(ctx, status=error.status, errors={intent: error.message})
    raise ApiError(400, "BAD_REQUEST", "Unknown action")


@router.get("/app/billing/invoices/{invoice_id}/pdf")
@page()
async def invoice_pdf(ctx: Ctx, invoice_id: str) -> Response:
    answer = await ctx.api.raw("GET", f"{API}/billing/invoices/{parse_uuid(invoice_id)}/pdf")
    if answer.status_code != 200:
        raise ApiError(answer.status_code, "NOT_FOUND", "This invoice has no PDF to show.")
    return ctx.finish(
        Response(
            answer.content,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="invoice-{invoice_id}.pdf"'},
        )
    )


# -- webhooks -----------------------------------------------------------------------------------

EVENT_TYPES = (
    "tenant.created",
    "tenant.ready",
    "tenant.updated",
    "tenant.deleted",
    "tenant.provisioning_failed",
    "instance.started",
    "instance.stopped",
    "backup.completed",
    "backup.failed",
    "restore.completed",
    "restore.failed",
    "instance.progress",
    "backup.progress",
    "restore.progress",
    "member.added",
    "member.role_changed",
    "member.removed",
    "invitation.created",
    "invitation.accepted",
    "invitation.revoked",
)


async def _webhooks_page(ctx: Ctx, **extra: Any) -> Response:
    return ctx.render(
        "webhooks.html",
        endpoints=await _results(ctx, "/webhooks/endpoints"),
        event_types=EVENT_TYPES,
        **extra,
    )


@router.get("/app/webhooks")
@page()
async def webhooks(ctx: Ctx) -> Response:
    return await _webhooks_page(ctx)


@router.post("/app/webhooks")
@page()
async def webhooks_act(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    intent = str(form.get("intent") or "")
    try:
        if intent == "create":
            events = [str(e) for e in form.getlist("events")] or ["*"]
            created = await ctx.api.post(
                "/webhooks/endpoints",
                {
                    "url": str(form.get("url") or "").strip(),
                    "events": events,
                    "description": str(form.get("description") or ""),
                },
            )
            # The signing secret: shown in this answer only.
            return await _webhooks_page(ctx, new_endpoint=created)
        endpoint_id = parse_uuid(str(form.get("endpoint_id") or ""))
        if intent == "delete":
            await ctx.api.request("DELETE", f"/webhooks/endpoints/{endpoint_id}")
            return ctx.redirect("/app/webhooks", "The endpoint is removed.")
        if intent == "test":
            await ctx.api.post(f"/webhooks/endpoints/{endpoint_id}/test")
            return ctx.redirect(f"/app/webhooks/{endpoint_id}", "A ping is on its way.")
        if intent == "retry":
            delivery_id = parse_uuid(str(form.get("delivery_id") or ""))
            await ctx.api.post(f"/webhooks/deliveries/{delivery_id}/retry")
            return ctx.redirect(f"/app/webhooks/{endpoint_id}", "Redelivery asked.")
    except ApiError as error:
        if error.status == 401:
            raise
        return await _webhooks_page(
            ctx,
            status=error.status,
            errors=form_errors(error) if intent == "create" else {"_form": error.message},
            form={"url": form.get("url"), "description": form.get("description")},
        )
    raise ApiError(400, "BAD_REQUEST", "Unknown action")


@router.get("/app/webhooks/{endpoint_id}")
@page()
async def webhook_endpoint(ctx: Ctx, endpoint_id: str) -> Response:
    endpoint_id = parse_uuid(endpoint_id)
    endpoint = await ctx.api.get(f"/webhooks/endpoints/{endpoint_id}")
    deliveries = await _results(ctx, f"/webhooks/endpoints/{endpoint_id}/deliveries")
    return ctx.render("webhook.html", endpoint=endpoint, deliveries=deliveries)
