"""``saas billing ...``: plans, subscriptions and invoices, and the renewal run on demand.

The platform's modules are imported inside each command (see cli/backups.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from saas_server.cli.common import console, fail, load_settings, run
from saas_server.cli.output import JsonOption, print_json, print_rows

billing_app = typer.Typer(help="Plans, subscriptions, invoices, renewals.", no_args_is_help=True)


def _with_runtime(work: Callable[[Any], Awaitable[None]]) -> None:
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _run() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            await work(runtime)

    run(_run())


def _money(cents: int, currency: str) -> str:
    from saas_server.billing.pdf import money

    return money(cents, currency)


@billing_app.command("plans")
def list_plans(as_json: JsonOption = False) -> None:
    """Every plan, archived ones included."""
    from sqlalchemy import select

    from saas_server.billing.models import Plan
    from saas_server.billing.router import plan_read

    async def work(runtime: Any) -> None:
        async with runtime.db.sessionmaker() as session:
            plans = [
                plan_read(p)
                for p in (
                    await session.execute(select(Plan).order_by(Plan.monthly_amount_cents))
                ).scalars()
            ]
        if as_json:
            print_json(plans)
            return
        print_rows(
            ("code", "name", "monthly", "annually", "users", "trial", "active"),
            (
                (
                    p.code,
                    p.name,
                    _money(p.prices[0].amount_cents, p.currency),
                    _money(p.prices[1].amount_cents, p.currency),
                    str(p.max_users),
                    f"{p.trial_days} d",
                    "yes" if p.is_active else "no",
                )
                for p in plans
            ),
        )

    _with_runtime(work)


@billing_app.command("subscriptions")
def list_subscriptions(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every subscription, newest first."""
    from sqlalchemy import select

    from saas_server.billing.models import Plan, Subscription

    async def work(runtime: Any) -> None:
        async with runtime.db.sessionmaker() as session:
            stmt = (
                select(Subscription, Plan.code)
                .join(Plan, Plan.id == Subscription.plan_id)
                .order_by(Subscription.created_at.desc())
            )
            if status:
                stmt = stmt.where(Subscription.status == status)
            rows = [
                {
                    "id": str(s.id),
                    "tenant_id": str(s.tenant_id),
                    "plan": code,
                    "status": s.status,
                    "billing_cycle": s.billing_cycle,
                    "max_users": s.max_users,
                    "current_period_end": s.current_period_end.isoformat(),
                    "cancel_at_period_end": s.cancel_at_period_end,
                }
                for s, code in (await session.execute(stmt)).all()
            ]
        if as_json:
            print_json(rows)
            return
        print_rows(
            ("id", "tenant", "plan", "status", "period end"),
            (
                (r["id"], r["tenant_id"], r["plan"], r["status"], r["current_period_end"][:16])
                for r in rows
            ),
        )

    _with_runtime(work)


@billing_app.command("invoices")
def list_invoices(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every invoice and credit note, newest first."""
    from sqlalchemy import select

    from saas_server.billing.invoice_router import invoice_read
    from saas_server.billing.models import Invoice

    async def work(runtime: Any) -> None:
        async with runtime.db.sessionmaker() as session:
            stmt = select(Invoice).order_by(Invoice.created_at.desc())
            if status:
                stmt = stmt.where(Invoice.status == status)
            found = [invoice_read(i) for i in (await session.execute(stmt)).scalars()]
        if as_json:
            print_json(found)
            return
        print_rows(
            ("number", "id", "status", "total", "due"),
            (
                (
                    i.number or "(draft)",
                    str(i.id),
                    i.status,
                    _money(i.total_cents, i.currency),
                    i.due_at.strftime("%Y-%m-%d") if i.due_at else "-",
                )
                for i in found
            ),
        )

    _with_runtime(work)


@billing_app.command("run-renewals")
def run_renewals_command(
    at: Annotated[
        str | None,
        typer.Option(help="Run what is due at this time (ISO 8601, UTC when no offset)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Renewals, dunning retries and suspensions due now (or at --at): to catch up or
    rehearse."""
    from dataclasses import asdict

    from saas_server.billing.renewals import run_renewals
    from saas_server.core.clock import as_utc

    moment = None
    if at is not None:
        try:
            moment = as_utc(datetime.fromisoformat(at))
        except ValueError:
            fail(f"--at {at!r} is not an ISO 8601 time (2027-01-31T12:00).")

    async def work(runtime: Any) -> None:
        report = await run_renewals(runtime, moment)
        if as_json:
            print_json(asdict(report))
            return
        console.print(
            f"renewed {report.renewed}, canceled {report.canceled}, retried {report.retried}, "
            f"suspended {report.suspended}, reactivated {report.reactivated}"
        )
        for failure in report.failures:
            console.print(f"failed {failure}", highlight=False, markup=False)
        if report.failures:
            fail(f"{len(report.failures)} failed (logged); the next run tries them again.")

    _with_runtime(work)
