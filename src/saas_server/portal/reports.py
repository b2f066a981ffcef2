"""The client dashboard (one answer from the synced copy: open projects with progress, tasks
due soon, open and overdue invoice amounts, unread notifications; the latest SEO audit and
the social figures) and the reports, as data for JSON, CSV and PDF (fpdf2).

SEO audits and social posts are marketing's, which sits above the portal: it answers the
two providers below (``wiring.py`` connects them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fpdf import FPDF
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import ValidationFailed
from saas_server.core.hooks import Provider
from saas_server.core.runtime import Runtime
from saas_server.portal import service
from saas_server.portal.access import PortalCaller
from saas_server.portal.cache import direct_cache
from saas_server.portal.models import PortalNotification, PortalRecord, PortalSyncState

DUE_SOON_DAYS = 7
DASHBOARD_PROJECTS = 20
MARKETING_REPORTS = ("seo", "social")


@dataclass(frozen=True)
class MarketingFigures:
    """The dashboard's marketing part for one client (None: every client, the agency's
    view): ``seo`` (the latest completed audit and the scores), ``social`` (posts by status
    and engagement), each None when there is nothing yet; ``updated_at``: when the newest of
    the rows they come from changed (for ``Last-Modified``)."""

    seo: dict[str, Any] | None
    social: dict[str, Any] | None
    updated_at: datetime | None


@dataclass(frozen=True)
class ReportTable:
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    # When the newest of the rows it was made from changed (for ``Last-Modified``).
    updated_at: datetime | None = None


# (session, tenant id, client's commercial partner id or None) -> the figures.
marketing_dashboard: Provider[[AsyncSession, uuid.UUID, int | None], MarketingFigures] = Provider(
    "portal.marketing_dashboard"
)
# (session, tenant id, client or None, "seo" or "social", first day, day after the last;
# None: unbounded) -> the report's table.
marketing_report: Provider[
    [AsyncSession, uuid.UUID, int | None, str, date | None, date | None], ReportTable
] = Provider("portal.marketing_report")


async def _records(session: AsyncSession, caller: PortalCaller, model: str) -> list[PortalRecord]:
    rows = await session.execute(service.visible(select(PortalRecord), caller, model))
    return list(rows.scalars())


async def dashboard(
    session: AsyncSession, runtime: Runtime, caller: PortalCaller
) -> tuple[dict[str, Any], datetime | None]:
    """The dashboard. Its figures change only when a sync changes the copy (or the day
    changes), so they are kept in the Odoo read cache keyed by the tenant's last sync and
    the day; the unread count, which the client changes, is read each time."""
    latest = (
        await session.execute(
            select(func.max(PortalSyncState.last_run_at)).where(
                PortalSyncState.tenant_id == caller.tenant_id
            )
        )
    ).scalar_one()
    key = f"dashboard:{caller.commercial_id}:{service.today_iso()}:{latest}"

    async def figures() -> dict[str, Any]:
        return await _dashboard_figures(session, caller)

    body = dict(
        await direct_cache(runtime.settings.redis_url).get_or_load(caller.tenant_id, key, figures)
    )
    stmt = (
        select(func.count())
        .select_from(PortalNotification)
        .where(PortalNotification.tenant_id == caller.tenant_id)
    )
    stmt = stmt.where(
        PortalNotification.commercial_id == caller.commercial_id
        if caller.commercial_id is not None
        else PortalNotification.commercial_id.is_(None)
    )
    unread = stmt.where(PortalNotification.read_at.is_(None))
    body["unread_notifications"] = int((await session.execute(unread)).scalar_one())
    moments = [
        moment
        for moment in (await session.execute(stmt.with_only_columns(*_notified_moments()))).one()
        if moment is not None
    ]
    synced = body.get("data_synced_at")
    if synced:
        moments.append(datetime.fromisoformat(synced))
    # Read each time like the unread count: audits and posts change without a sync.
    if marketing_dashboard.provided:
        marketing = await marketing_dashboard.ask(session, caller.tenant_id, caller.commercial_id)
        body["seo"], body["social"] = marketing.seo, marketing.social
        if marketing.updated_at is not None:
            moments.append(marketing.updated_at)
    # Last-Modified moves with whatever the answer shows: the copy, the notifications (one
    # made or read) and marketing's rows.
    return body, max(moments) if moments else None


def _notified_moments() -> tuple[Any, ...]:
    """The newest notification of the caller made and read (any, not only unread ones)."""
    return (func.max(PortalNotification.created_at), func.max(PortalNotification.read_at))


async def _dashboard_figures(session: AsyncSession, caller: PortalCaller) -> dict[str, Any]:
    projects = await _records(session, caller, "project.project")
    project_ids = [p.odoo_id for p in projects]
    stats = await service.task_stats(session, caller.tenant_id, project_ids)
    stage_records = await service.stages(session, caller.tenant_id)
    invoices = [
        i
        for i in await _records(session, caller, "account.move")
        if i.data.get("state") == "posted"
    ]
    today = service.today_iso()
    names = {p.odoo_id: p.data.get("name") for p in projects}
    open_projects = []
    for project in projects:
        summary = service.project_json(project, stats.get(project.odoo_id, service.TaskStats()))
        if summary["status"] != "done" and (not summary["task_count"] or summary["progress"] < 100):
            open_projects.append(summary)
    due_soon = [
        {
            **service.task_json(task, stage_records),
            "project": names.get(service.m2o(task.data.get("project_id"))[0] or 0),
        }
        for task in await service.open_tasks_due(
            session, caller.tenant_id, project_ids, service.soon_iso(DUE_SOON_DAYS), 50
        )
    ]
    open_projects.sort(key=lambda p: (p["deadline"] or "9999", p["name"] or ""))
    invoice_rows = [service.invoice_json(i, today) for i in invoices]
    currencies: dict[str, dict[str, int]] = {}
    for row in invoice_rows:
        if row["amount_due_cents"] <= 0:
            continue
        totals = currencies.setdefault(
            row["currency"] or "",
            {"open_cents": 0, "overdue_cents": 0, "open_count": 0, "overdue_count": 0},
        )
        totals["open_cents"] += row["amount_due_cents"]
        totals["open_count"] += 1
        if row["overdue"]:
            totals["overdue_cents"] += row["amount_due_cents"]
            totals["overdue_count"] += 1
    synced = [r.synced_at for r in (*projects, *invoices)]
    body = {
        "tenant_id": str(caller.tenant_id),
        "projects": {
            "open_count": len(open_projects),
            "total_count": len(projects),
            "open": open_projects[:DASHBOARD_PROJECTS],
        },
        "tasks_due_soon": due_soon,
        "invoices": {
            "by_currency": [{"currency": c, **t} for c, t in sorted(currencies.items())],
        },
        "unread_notifications": 0,
        # Marketing's, read outside this cached part (dashboard()).
        "seo": None,
        "social": None,
        "data_synced_at": max(synced).astimezone(UTC).isoformat().replace("+00:00", "Z")
        if synced
        else None,
    }
    return body


def _period_start(period: str) -> str | None:
    now = clock.now().astimezone(UTC)
    if period == "month":
        return (now - timedelta(days=31)).strftime("%Y-%m-%d")
    if period == "quarter":
        return (now - timedelta(days=92)).strftime("%Y-%m-%d")
    if period == "year":
        return (now - timedelta(days=366)).strftime("%Y-%m-%d")
    return None


def period_bounds(period: str) -> tuple[date | None, date | None]:
    """The period as (first day, day after the last), None where unbounded."""
    if period == "all":
        return None, None
    if len(period) in (4, 7):  # "2026" or "2026-03"
        year = int(period[:4])
        month = int(period[5:7]) if len(period) == 7 else None
        try:
            if month is None:
                return date(year, 1, 1), date(year + 1, 1, 1)
            return date(year, month, 1), date(year + (month == 12), month % 12 + 1, 1)
        except ValueError:
            raise ValidationFailed.for_field("period", "No such year or month.") from None
    start = _period_start(period)
    return (date.fromisoformat(start) if start else None), None


def _in_period(day: str | None, period: str) -> bool:
    if period == "all":
        return True
    if len(period) in (4, 7):  # "2026" or "2026-03"
        return bool(day) and str(day).startswith(period)
    start = _period_start(period)
    return bool(day) and start is not None and str(day)[:10] >= start


async def _newest_synced(
    session: AsyncSession, caller: PortalCaller, *models: str
) -> datetime | None:
    """When the newest of the caller's records of ``models`` changed in the copy."""
    stmt = select(func.max(PortalRecord.synced_at)).where(
        PortalRecord.tenant_id == caller.tenant_id, PortalRecord.model.in_(models)
    )
    if caller.commercial_id is not None:
        stmt = stmt.where(PortalRecord.commercial_id == caller.commercial_id)
    moment: datetime | None = (await session.execute(stmt)).scalar_one()
    return moment


async def report(
    session: AsyncSession, caller: PortalCaller, type_: str, period: str
) -> tuple[dict[str, Any], datetime | None]:
    """The report's data and when what it was made from last changed."""
    today = service.today_iso()
    start, end = period_bounds(period)  # a month that does not exist is a 422
    last_modified: datetime | None
    if type_ in MARKETING_REPORTS:
        table = await marketing_report.ask(
            session, caller.tenant_id, caller.commercial_id, type_, start, end
        )
        columns, rows, totals = table.columns, table.rows, table.totals
        last_modified = table.updated_at
    elif type_ == "invoices":
        last_modified = await _newest_synced(session, caller, "account.move")
        invoices = [
            service.invoice_json(i, today)
            for i in await _records(session, caller, "account.move")
            if i.data.get("state") == "posted"
        ]
        rows = [
            {
                "number": i["number"],
                "client": i["client"]["name"],
                "invoice_date": i["invoice_date"],
                "due_date": i["due_date"],
                "currency": i["currency"],
                "amount_total": i["amount_total_cents"] / 100,
                "amount_due": i["amount_due_cents"] / 100,
                "payment_state": i["payment_state"],
                "overdue": i["overdue"],
            }
            for i in invoices
            if _in_period(i["invoice_date"], period)
        ]
        rows.sort(key=lambda r: r["invoice_date"] or "")
        columns = (
            list(rows[0])
            if rows
            else [
                "number",
                "client",
                "invoice_date",
                "due_date",
                "currency",
                "amount_total",
                "amount_due",
                "payment_state",
                "overdue",
            ]
        )
        totals = {
            "count": len(rows),
            "amount_total": round(sum(r["amount_total"] for r in rows), 2),
            "amount_due": round(sum(r["amount_due"] for r in rows), 2),
        }
    else:
        last_modified = await _newest_synced(session, caller, "project.project", "project.task")
        projects = await _records(session, caller, "project.project")
        stats = await service.task_stats(session, caller.tenant_id, [p.odoo_id for p in projects])
        rows = []
        for project in projects:
            summary = service.project_json(project, stats.get(project.odoo_id, service.TaskStats()))
            created = str(project.data.get("create_date") or "")[:10]
            if period != "all" and not (
                _in_period(created, period)
                or _in_period(str(project.data.get("write_date") or "")[:10], period)
            ):
                continue
            rows.append(
                {
                    "project": summary["name"],
                    "client": summary["client"]["name"],
                    "status": summary["status"],
                    "deadline": summary["deadline"],
                    "tasks": summary["task_count"],
                    "tasks_done": summary["tasks_done"],
                    "progress": summary["progress"],
                }
            )
        rows.sort(key=lambda r: r["project"] or "")
        columns = ["project", "client", "status", "deadline", "tasks", "tasks_done", "progress"]
        totals = {
            "count": len(rows),
            "tasks": sum(r["tasks"] for r in rows),
            "tasks_done": sum(r["tasks_done"] for r in rows),
        }
    return {
        "type": type_,
        "period": period,
        "generated_at": clock.now().astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "columns": columns,
        "rows": rows,
        "totals": totals,
    }, last_modified


def pdf(data: dict[str, Any]) -> bytes:
    """The report as a one-table PDF (core fonts: text outside Latin-1 is replaced)."""
    document = FPDF(orientation="L")
    document.set_auto_page_break(auto=True, margin=12)
    document.add_page()
    document.set_font("Helvetica", "B", 14)

    def latin(value: Any) -> str:
        return ("" if value is None else str(value)).encode("latin-1", "replace").decode("latin-1")

    document.cell(
        0,
        10,
        latin(f"{data['type'].title()} report - {data['period']}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    document.set_font("Helvetica", size=9)
    columns = data["columns"]
    with document.table(text_align="LEFT") as table:
        header = table.row()
        for column in columns:
            header.cell(latin(column))
        for row in data["rows"]:
            line = table.row()
            for column in columns:
                line.cell(latin(row.get(column)))
    document.ln(4)
    document.cell(0, 8, latin(", ".join(f"{k}: {v}" for k, v in data["totals"].items())))
    return bytes(document.output())
