"""The client portal's rules: turning it on, and what a caller sees of the synced records."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Integer, Select, and_, cast, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from saas_server.core import clock
from saas_server.core.errors import AppError, NotFound
from saas_server.core.jobs import defer
from saas_server.core.runtime import Runtime
from saas_server.portal.access import PortalCaller
from saas_server.portal.lifecycle import PORTAL, PortalAction
from saas_server.portal.models import (
    PortalRecord,
    PortalStatus,
    PortalSyncState,
    PortalTenant,
)
from saas_server.portal.odoo_access import tenant_odoo
from saas_server.portal.sync import MODEL_NAMES, defer_sync
from saas_server.tenants.base import TenantAccess

# The apps the portal reads: Project, Invoicing (account) and the website's Blog.
MODULES = ["project", "account", "website_blog"]
PREPARE_TASK = "portal.prepare"


class RecordNotFound(NotFound):
    message = "Not found"


# -- turning the portal on -------------------------------------------------------------------


async def enable(session: AsyncSession, access: TenantAccess) -> PortalTenant:
    """Idempotent: the first call (or one after a failure) queues the preparation."""
    access.require_owner()
    tenant_id = access.tenant.id
    row = await session.get(PortalTenant, tenant_id, with_for_update=True)
    if row is None:
        row = PortalTenant(
            tenant_id=tenant_id,
            status=PortalStatus.PREPARING.value,
            modules=list(MODULES),
            requested_at=clock.now(),
        )
        session.add(row)
        await session.flush()
    elif row.status == PortalStatus.FAILED.value:
        PORTAL.apply(row, PortalAction.RETRY)
        row.error = None
    else:
        return row
    await defer(
        session,
        PREPARE_TASK,
        queue="portal",
        queueing_lock=f"portal-prepare:{tenant_id}",
        tenant_id=str(tenant_id),
    )
    return row


async def portal_state(session: AsyncSession, access: TenantAccess) -> dict[str, Any]:
    """The tenant's portal as ``GET /tenants/{id}/portal`` shows it: ``disabled`` until an
    owner turns it on (the tenant exists, so its portal's state is always there to read)."""
    row = await session.get(PortalTenant, access.tenant.id)
    if row is None:
        return {
            "tenant_id": str(access.tenant.id),
            "status": "disabled",
            "enabled": False,
            "modules": [],
            "requested_at": None,
            "enabled_at": None,
            "error": None,
        }
    return portal_json(row)


async def prepare(runtime: Runtime, tenant_id: uuid.UUID) -> None:
    """The job: install the apps in the tenant's Odoo, then mark the portal enabled."""
    async with runtime.db.sessionmaker() as session:
        row = await session.get(PortalTenant, tenant_id)
        if row is None or row.status != PortalStatus.PREPARING.value:
            return
    error: dict[str, Any] | None = None
    try:
        async with (
            runtime.db.sessionmaker() as session,
            tenant_odoo(session, runtime, tenant_id) as odoo,
        ):
            await odoo.driver.install_modules(odoo.database, odoo.admin, list(MODULES))
    except AppError as exc:
        error = {"code": exc.code, "message": exc.message, **exc.details}
    async with runtime.db.transaction() as session:
        row = await session.get(PortalTenant, tenant_id, with_for_update=True)
        if row is None or row.status != PortalStatus.PREPARING.value:
            return
        if error is None:
            PORTAL.apply(row, PortalAction.PREPARE)
            row.enabled_at = clock.now()
            row.error = None
            await defer_sync(session, tenant_id)
        else:
            PORTAL.apply(row, PortalAction.FAIL)
            row.error = error


def portal_json(row: PortalTenant) -> dict[str, Any]:
    return {
        "tenant_id": str(row.tenant_id),
        "status": row.status,
        "enabled": row.status == PortalStatus.ENABLED.value,
        "modules": row.modules,
        "requested_at": _rfc3339(row.requested_at),
        "enabled_at": _rfc3339(row.enabled_at),
        "error": row.error,
    }


# -- sync status -------------------------------------------------------------------------------


async def sync_status(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, Any]:
    states = {
        s.model: s
        for s in (
            await session.execute(
                select(PortalSyncState).where(PortalSyncState.tenant_id == tenant_id)
            )
        ).scalars()
    }
    now = clock.now()
    models = []
    for model in MODEL_NAMES:
        state = states.get(model)
        models.append(
            {
                "model": model,
                "count": state.record_count if state else 0,
                "last_run_at": _rfc3339(state.last_run_at) if state else None,
                "last_success_at": _rfc3339(state.last_success_at) if state else None,
                "age_seconds": int((now - state.last_success_at).total_seconds())
                if state and state.last_success_at
                else None,
                "last_changed": state.last_changed if state else 0,
                "error": state.error if state else None,
            }
        )
    runs = [s.last_run_at for s in states.values() if s.last_run_at]
    errors = [m for m in models if m["error"]]
    if not runs:
        status = "never_run"
    elif errors:
        status = "partial" if len(errors) < len(models) else "failed"
    else:
        status = "ok"
    return {
        "status": status,
        "last_run_at": _rfc3339(max(runs)) if runs else None,
        "models": models,
        "errors": {m["model"]: m["error"] for m in errors},
    }


# -- records as the caller sees them ----------------------------------------------------------


def visible(stmt: Select[Any], caller: PortalCaller, model: str) -> Select[Any]:
    stmt = stmt.where(PortalRecord.tenant_id == caller.tenant_id, PortalRecord.model == model)
    if caller.commercial_id is not None:
        stmt = stmt.where(PortalRecord.commercial_id == caller.commercial_id)
    return stmt


async def one(
    session: AsyncSession, caller: PortalCaller, model: str, public_id: str
) -> PortalRecord:
    try:
        wanted = uuid.UUID(public_id)
    except ValueError:
        raise RecordNotFound() from None
    found = (
        await session.execute(
            visible(select(PortalRecord), caller, model).where(PortalRecord.id == wanted)
        )
    ).scalar_one_or_none()
    if found is None:
        raise RecordNotFound()
    return found


async def records_by_odoo_id(
    session: AsyncSession, tenant_id: uuid.UUID, model: str, odoo_ids: Iterable[int]
) -> dict[int, PortalRecord]:
    ids = sorted({i for i in odoo_ids if i})
    if not ids:
        return {}
    rows = await session.execute(
        select(PortalRecord).where(
            PortalRecord.tenant_id == tenant_id,
            PortalRecord.model == model,
            PortalRecord.odoo_id.in_(ids),
        )
    )
    return {r.odoo_id: r for r in rows.scalars()}


def m2o(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, list | tuple) and len(value) >= 2:
        return int(value[0]), str(value[1])
    return None, None


def odoo_time(value: Any) -> str | None:
    """An Odoo datetime ("YYYY-MM-DD HH:MM:SS", UTC) as RFC 3339, a date as is."""
    if not value:
        return None
    text = str(value)
    if len(text) == 10:
        return text
    return text.replace(" ", "T") + "Z"


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def newest(records: Iterable[PortalRecord]) -> datetime | None:
    """When the newest of ``records`` was synced (for ``Last-Modified``)."""
    moments = [r.synced_at for r in records]
    return max(moments) if moments else None


async def tasks_of(
    session: AsyncSession, tenant_id: uuid.UUID, project_ids: list[int]
) -> dict[int, list[PortalRecord]]:
    if not project_ids:
        return {}
    rows = (
        await session.execute(
            select(PortalRecord).where(
                PortalRecord.tenant_id == tenant_id,
                PortalRecord.model == "project.task",
                func.jsonb_extract_path_text(PortalRecord.data, "project_id", "0").in_(
                    [str(i) for i in project_ids]
                ),
            )
        )
    ).scalars()
    by_project: dict[int, list[PortalRecord]] = {}
    for task in rows:
        project_id, _ = m2o(task.data.get("project_id"))
        if project_id is not None:
            by_project.setdefault(project_id, []).append(task)
    return by_project


async def stages(session: AsyncSession, tenant_id: uuid.UUID) -> dict[int, PortalRecord]:
    rows = await session.execute(
        select(PortalRecord).where(
            PortalRecord.tenant_id == tenant_id, PortalRecord.model == "project.task.type"
        )
    )
    return {r.odoo_id: r for r in rows.scalars()}


CLOSED_TASK_STATES = ("1_done", "1_canceled")


def task_json(task: PortalRecord, stage_records: dict[int, PortalRecord]) -> dict[str, Any]:
    data = task.data
    stage_id, stage_name = m2o(data.get("stage_id"))
    stage = stage_records.get(stage_id or 0)
    return {
        "id": str(task.id),
        "odoo_id": task.odoo_id,
        "name": data.get("name"),
        "stage": {"id": str(stage.id), "name": stage_name, "folded": bool(stage.data.get("fold"))}
        if stage
        else ({"id": None, "name": stage_name, "folded": False} if stage_name else None),
        "state": data.get("state"),
        "done": _task_done(data, stage_records),
        "priority": data.get("priority"),
        "deadline": odoo_time(data.get("date_deadline")),
        "stage_changed_at": odoo_time(data.get("date_last_stage_update")),
        "updated_at": odoo_time(data.get("write_date")),
    }


def _task_done(data: dict[str, Any], stage_records: dict[int, PortalRecord]) -> bool:
    if data.get("state") in CLOSED_TASK_STATES:
        return True
    stage_id, _ = m2o(data.get("stage_id"))
    stage = stage_records.get(stage_id or 0)
    # A folded stage ("Done", "Cancelled") closes its tasks on the kanban.
    return bool(stage and stage.data.get("fold"))


@dataclass(frozen=True)
class TaskStats:
    count: int = 0
    done: int = 0
    next_deadline: str | None = None


def _task_columns() -> dict[str, Any]:
    task = aliased(PortalRecord)
    stage = aliased(PortalRecord)
    project_id = cast(func.jsonb_extract_path_text(task.data, "project_id", "0"), Integer)
    stage_id = cast(func.jsonb_extract_path_text(task.data, "stage_id", "0"), Integer)
    done = or_(
        func.jsonb_extract_path_text(task.data, "state").in_(CLOSED_TASK_STATES),
        func.coalesce(cast(func.jsonb_extract_path_text(stage.data, "fold"), Boolean), False),
    )
    join = (
        select(task)
        .outerjoin(
            stage,
            and_(
                stage.tenant_id == task.tenant_id,
                stage.model == "project.task.type",
                stage.odoo_id == stage_id,
            ),
        )
        .where(task.model == "project.task")
    )
    return {"task": task, "project_id": project_id, "done": done, "join": join}


async def task_stats(
    session: AsyncSession, tenant_id: uuid.UUID, project_ids: list[int]
) -> dict[int, TaskStats]:
    """Per project: its tasks, those done (closed state or folded stage) and the next
    deadline of the open ones, counted by PostgreSQL on the copy."""
    if not project_ids:
        return {}
    c = _task_columns()
    task = c["task"]
    # Odoo's False reads as JSON false: no deadline.
    deadline = func.nullif(
        func.nullif(func.jsonb_extract_path_text(task.data, "date_deadline"), ""), "false"
    )
    stmt = (
        c["join"]
        .with_only_columns(
            c["project_id"],
            func.count(),
            func.count().filter(c["done"]),
            func.min(deadline).filter(not_(c["done"])),
        )
        .where(task.tenant_id == tenant_id, c["project_id"].in_(project_ids))
        .group_by(c["project_id"])
    )
    return {
        int(project): TaskStats(int(count), int(done), nearest)
        for project, count, done, nearest in await session.execute(stmt)
    }


async def open_tasks_due(
    session: AsyncSession, tenant_id: uuid.UUID, project_ids: list[int], until: str, limit: int
) -> list[PortalRecord]:
    """The open tasks of these projects due by ``until`` (Odoo's datetime text), soonest
    first."""
    if not project_ids:
        return []
    c = _task_columns()
    task = c["task"]
    # Odoo's False reads as JSON false: no deadline.
    deadline = func.nullif(
        func.nullif(func.jsonb_extract_path_text(task.data, "date_deadline"), ""), "false"
    )
    stmt = (
        c["join"]
        .where(
            task.tenant_id == tenant_id,
            c["project_id"].in_(project_ids),
            not_(c["done"]),
            deadline <= until,
        )
        .order_by(deadline, task.odoo_id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


def stats_of(tasks: list[PortalRecord], stage_records: dict[int, PortalRecord]) -> TaskStats:
    open_deadlines = sorted(
        d
        for t in tasks
        if not _task_done(t.data, stage_records) and (d := t.data.get("date_deadline"))
    )
    return TaskStats(
        count=len(tasks),
        done=sum(1 for t in tasks if _task_done(t.data, stage_records)),
        next_deadline=open_deadlines[0] if open_deadlines else None,
    )


def project_json(
    project: PortalRecord,
    stats: TaskStats,
    stage_records: dict[int, PortalRecord] | None = None,
    *,
    tasks: list[PortalRecord] | None = None,
) -> dict[str, Any]:
    """A project with its progress; with ``tasks`` (and their stages), its detail."""
    data = project.data
    partner_id, partner_name = m2o(data.get("partner_id"))
    answer: dict[str, Any] = {
        "id": str(project.id),
        "odoo_id": project.odoo_id,
        "tenant_id": str(project.tenant_id),
        "name": data.get("name"),
        "client": {"odoo_id": partner_id, "name": partner_name},
        "status": data.get("last_update_status"),
        # Odoo's project stage (project.project.stage), when the tenant's Odoo uses them
        # (the "Project Stages" setting); None otherwise.
        "stage": _project_stage(data.get("stage_id")),
        "start_date": data.get("date_start") or None,
        "deadline": data.get("date") or None,
        "next_task_deadline": odoo_time(stats.next_deadline),
        "task_count": stats.count,
        "tasks_done": stats.done,
        "progress": round(100 * stats.done / stats.count) if stats.count else 0,
        "updated_at": odoo_time(data.get("write_date")),
        "synced_at": _rfc3339(project.synced_at),
    }
    if tasks is not None and stage_records is not None:
        ordered = sorted(
            tasks, key=lambda t: (str(t.data.get("date_deadline") or "9999"), t.odoo_id)
        )
        answer["tasks"] = [task_json(t, stage_records) for t in ordered]
        used = {m2o(t.data.get("stage_id"))[0] for t in tasks}
        answer["stages"] = [
            {
                "id": str(s.id),
                "name": s.data.get("name"),
                "sequence": s.data.get("sequence"),
                "folded": bool(s.data.get("fold")),
                "task_count": sum(1 for t in tasks if m2o(t.data.get("stage_id"))[0] == s.odoo_id),
            }
            for s in sorted(
                stage_records.values(), key=lambda s: (s.data.get("sequence") or 0, s.odoo_id)
            )
            if s.odoo_id in used
        ]
    return answer


def _project_stage(value: Any) -> dict[str, Any] | None:
    stage_id, name = m2o(value)
    return {"odoo_id": stage_id, "name": name} if stage_id is not None else None


def invoice_json(invoice: PortalRecord, today: str) -> dict[str, Any]:
    data = invoice.data
    partner_id, partner_name = m2o(data.get("partner_id"))
    _, currency = m2o(data.get("currency_id"))
    residual = float(data.get("amount_residual") or 0)
    due = data.get("invoice_date_due") or None
    return {
        "id": str(invoice.id),
        "odoo_id": invoice.odoo_id,
        "tenant_id": str(invoice.tenant_id),
        "number": data.get("name"),
        "type": data.get("move_type"),
        "state": data.get("state"),
        "payment_state": data.get("payment_state"),
        "client": {"odoo_id": partner_id, "name": partner_name},
        "invoice_date": data.get("invoice_date") or None,
        "due_date": due,
        "overdue": bool(due and due < today and residual > 0 and data.get("state") == "posted"),
        "currency": currency,
        "amount_total_cents": round(float(data.get("amount_total") or 0) * 100),
        "amount_due_cents": round(residual * 100),
        "updated_at": odoo_time(data.get("write_date")),
    }


def today_iso() -> str:
    return clock.now().astimezone(UTC).date().isoformat()


def soon_iso(days: int) -> str:
    return (clock.now().astimezone(UTC) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
