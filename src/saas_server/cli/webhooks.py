"""``saas webhooks ...``: every outbound endpoint, its delivery log, retries and replays.

The operator sees every endpoint (as a platform admin does through the API); a retry or
replay asked for here is audited with no actor (the command line), and is sent by the
workers like one asked for over the API. The platform's modules are imported inside each
command (see cli/backups.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from saas_server.cli.common import console, fail, load_settings, run
from saas_server.cli.output import JsonOption, print_json, print_rows

webhooks_app = typer.Typer(
    help="Outbound webhook endpoints, deliveries, retries, replays.", no_args_is_help=True
)


def _with_runtime(work: Callable[[Any], Awaitable[None]]) -> None:
    from saas_server.core.errors import AppError
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _run() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            try:
                await work(runtime)
            except AppError as exc:
                fail(exc.message if not exc.details else f"{exc.message} {exc.details}")

    run(_run())


def _id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{value!r} is not a {what} id.", code=2)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@webhooks_app.command("list")
def list_endpoints(
    status: Annotated[
        str | None, typer.Option(help="Only endpoints in this status (active, disabled).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every endpoint, newest first, whoever owns it."""
    from sqlalchemy import select

    from saas_server.webhooks.models import EndpointStatus, WebhookEndpoint
    from saas_server.webhooks.router import endpoint_read

    if status is not None and status not in {s.value for s in EndpointStatus}:
        fail(f"--status must be one of {', '.join(s.value for s in EndpointStatus)}.", code=2)

    async def work(runtime: Any) -> None:
        stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at.desc())
        if status is not None:
            stmt = stmt.where(WebhookEndpoint.status == status)
        async with runtime.db.sessionmaker() as session:
            endpoints = [endpoint_read(e) for e in (await session.execute(stmt)).scalars()]
        if as_json:
            print_json(endpoints)
            return
        print_rows(
            ("id", "url", "status", "events", "tenant", "failing since"),
            (
                (
                    str(e.id),
                    e.url,
                    e.status if not e.disabled_reason else f"{e.status} ({e.disabled_reason})",
                    ",".join(e.events),
                    str(e.tenant_id) if e.tenant_id else "-",
                    e.failing_since.isoformat()[:19] if e.failing_since else "-",
                )
                for e in endpoints
            ),
        )

    _with_runtime(work)


@webhooks_app.command("deliveries")
def list_deliveries(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id.")],
    status: Annotated[
        str | None,
        typer.Option(help="Only deliveries in this status (pending, succeeded, failed)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """An endpoint's deliveries, newest first, each with its attempts."""

    from saas_server.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
    from saas_server.webhooks.schemas import AttemptRead, DeliveryRead
    from saas_server.webhooks.service import EndpointNotFound, WebhookService

    wanted = _id(endpoint_id, "webhook endpoint")
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        fail(f"--status must be one of {', '.join(s.value for s in DeliveryStatus)}.", code=2)

    async def work(runtime: Any) -> None:
        async with runtime.db.sessionmaker() as session:
            endpoint = await session.get(WebhookEndpoint, wanted)
            if endpoint is None:
                raise EndpointNotFound()
            service = WebhookService(session, runtime)
            stmt = service.deliveries_of(endpoint)
            if status is not None:
                stmt = stmt.where(WebhookDelivery.status == status)
            stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit)
            deliveries = [
                DeliveryRead.model_validate(d) for d in (await session.execute(stmt)).scalars()
            ]
            attempts = await service.attempts_of([d.id for d in deliveries])
            for delivery in deliveries:
                delivery.attempts = [AttemptRead.model_validate(a) for a in attempts[delivery.id]]
        if as_json:
            print_json(deliveries)
            return
        print_rows(
            ("id", "event", "status", "attempts", "last code", "next attempt", "created"),
            (
                (
                    str(d.id),
                    d.event_type,
                    d.status,
                    str(len(d.attempts)),
                    str(d.last_status_code) if d.last_status_code is not None else "-",
                    d.next_attempt_at.isoformat()[:19] if d.next_attempt_at else "-",
                    d.created_at.isoformat()[:19],
                )
                for d in deliveries
            ),
        )

    _with_runtime(work)


@webhooks_app.command("retry")
def retry_delivery(
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id.")],
    as_json: JsonOption = False,
) -> None:
    """Send a delivery again now (a new retry schedule; its attempts log goes on)."""
    from saas_server.webhooks.models import WebhookDelivery
    from saas_server.webhooks.schemas import DeliveryRead
    from saas_server.webhooks.service import DeliveryNotFound, WebhookService

    wanted = _id(delivery_id, "webhook delivery")

    async def work(runtime: Any) -> None:
        async with runtime.db.transaction() as session:
            delivery = await session.get(WebhookDelivery, wanted, with_for_update=True)
            if delivery is None:
                raise DeliveryNotFound()
            retried = DeliveryRead.model_validate(
                await WebhookService(session, runtime).retry(None, delivery)
            )
        if as_json:
            print_json(retried)
            return
        console.print(
            f"Delivery {retried.id} ({retried.event_type}) is queued; a worker sends it.",
            highlight=False,
        )

    _with_runtime(work)


@webhooks_app.command("replay")
def replay(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id.")],
    since: Annotated[
        datetime, typer.Option(help="From this time (ISO 8601, UTC when no offset is given).")
    ],
    until: Annotated[datetime | None, typer.Option(help="Up to this time (default: now).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Send again every event of a window that the endpoint subscribes to and may read."""
    from saas_server.webhooks.models import WebhookEndpoint
    from saas_server.webhooks.schemas import ReplayResult
    from saas_server.webhooks.service import EndpointNotFound, WebhookService

    wanted = _id(endpoint_id, "webhook endpoint")

    async def work(runtime: Any) -> None:
        async with runtime.db.transaction() as session:
            endpoint = await session.get(WebhookEndpoint, wanted)
            if endpoint is None:
                raise EndpointNotFound()
            queued = await WebhookService(session, runtime).replay(
                None, endpoint, _utc(since) or since, _utc(until)
            )
        if as_json:
            print_json(ReplayResult(queued=queued))
            return
        console.print(f"{queued} event(s) queued for {endpoint_id}.", highlight=False)

    _with_runtime(work)
