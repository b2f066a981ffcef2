"""Recommendations from a client's projects and tasks in the tenant's Odoo, read from the
client portal's synced copy (the same records, visibility and cache as the portal's
dashboard), never from Odoo during the request: an Odoo that is down leaves the copy of its
last successful sync, and the answer says how old it is and why it is not newer.

Each rule is written down in docs/marketing.md; all are method ``rules`` with the category
``projects``, and their impacts sit on the same 1-10 scale as the SEO and social ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.marketing.service import ClientViewer, Viewer
from saas_server.portal import service as portal
from saas_server.portal.cache import direct_cache
from saas_server.portal.models import PortalRecord, PortalStatus, PortalSyncState, PortalTenant
from saas_server.tenants.models import Membership

# The synced models these rules read.
PROJECT_MODELS = ("project.project", "project.task", "project.task.type")
DUE_SOON_DAYS = 7
PROJECT_DUE_SOON_DAYS = 14
INACTIVE_DAYS = 30
# Odoo has no "waiting on the customer" task state: agencies name a stage for it. A stage
# whose name holds one of these words is read as one (case-insensitive).
CLIENT_STAGE_WORDS = ("client", "customer", "feedback", "approval", "sign-off", "signoff")
# Tasks named in one recommendation's evidence (the count is always the whole).
EVIDENCE_TASKS = 10
# A platform administrator without a tenant named: at most this many tenants are read.
MAX_TENANTS = 50

IMPACT = {
    "projects-overdue-tasks": 8,
    "projects-deadline-passed": 7,
    "projects-off-track": 7,
    "projects-waiting-on-client": 7,
    "projects-tasks-due-soon": 6,
    "projects-at-risk": 5,
    "projects-deadline-soon": 5,
    "projects-inactive": 4,
}


@dataclass
class ProjectSource:
    """Where the project recommendations came from, for the answer's ``sources``."""

    status: str = "ok"  # ok | stale | unavailable
    tenants: list[dict[str, Any]] | None = None

    def json(self) -> dict[str, Any]:
        return {"status": self.status, "tenants": self.tenants or []}


async def _tenants(
    session: AsyncSession, actor: Viewer, tenant_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """The tenants whose projects the caller may read: the one named (the audience checked
    the caller's membership), a portal caller's own, else the caller's tenants with a portal."""
    if isinstance(actor, ClientViewer):
        return [actor.tenant_id]
    if tenant_id is not None:
        return [tenant_id]
    stmt = select(PortalTenant.tenant_id).where(PortalTenant.status == PortalStatus.ENABLED.value)
    if not actor.is_platform_admin:
        mine = select(Membership.tenant_id).where(Membership.user_id == actor.id)
        stmt = stmt.where(PortalTenant.tenant_id.in_(mine))
    rows = await session.execute(stmt.order_by(PortalTenant.tenant_id).limit(MAX_TENANTS))
    return list(rows.scalars())


async def project_recommendations(
    session: AsyncSession,
    runtime: Runtime,
    actor: Viewer,
    *,
    tenant_id: uuid.UUID | None,
    client_id: int | None,
) -> tuple[list[dict[str, Any]], ProjectSource]:
    found: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for tenant in await _tenants(session, actor, tenant_id):
        note, items = await _tenant_recommendations(session, runtime, tenant, client_id)
        notes.append(note)
        found += items
    order = {"ok": 0, "stale": 1, "unavailable": 2}
    worst = max((n["status"] for n in notes), key=order.__getitem__, default="unavailable")
    return found, ProjectSource(worst, notes)


async def _tenant_recommendations(
    session: AsyncSession, runtime: Runtime, tenant_id: uuid.UUID, client_id: int | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    note: dict[str, Any] = {"tenant_id": str(tenant_id)}
    row = await session.get(PortalTenant, tenant_id)
    if row is None or row.status != PortalStatus.ENABLED.value:
        note.update(status="unavailable", reason="The client portal is not enabled")
        return note, []
    states = {
        s.model: s
        for s in (
            await session.execute(
                select(PortalSyncState).where(
                    PortalSyncState.tenant_id == tenant_id,
                    PortalSyncState.model.in_(PROJECT_MODELS),
                )
            )
        ).scalars()
    }
    successes = [s.last_success_at for s in states.values() if s.last_success_at]
    if len(successes) < len(PROJECT_MODELS):
        errors = {m: s.error for m, s in states.items() if s.error}
        note.update(
            status="unavailable",
            reason="The tenant's Odoo has not been read yet" if not errors else _odoo_down(),
            errors=errors,
        )
        return note, []
    note["data_synced_at"] = _rfc3339(min(successes))
    errors = {m: s.error for m, s in states.items() if s.error}
    if errors:
        note.update(status="stale", reason=_odoo_down(), errors=errors)
    else:
        note["status"] = "ok"
    latest = (
        await session.execute(
            select(func.max(PortalSyncState.last_run_at)).where(
                PortalSyncState.tenant_id == tenant_id
            )
        )
    ).scalar_one()
    # As the dashboard: the copy changes only with a sync, the rules' answers with the day.
    key = f"recommendations:projects:{client_id}:{portal.today_iso()}:{latest}"

    async def load() -> list[dict[str, Any]]:
        return await _rules(session, tenant_id, client_id)

    items = await direct_cache(runtime.settings.redis_url).get_or_load(tenant_id, key, load)
    # Copies: the cached answer is shared (in memory) with the next request.
    return note, [
        {**i, "evidence": {**i["evidence"], "data_synced_at": note["data_synced_at"]}}
        for i in items
    ]


def _odoo_down() -> str:
    return (
        "The last sync could not read the tenant's Odoo: these come from the copy of its "
        "last successful sync"
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _day(value: Any) -> date | None:
    """An Odoo date or datetime ("YYYY-MM-DD[ HH:MM:SS]", UTC) as its day; False is None."""
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _moment(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace(" ", "T")[:19]).replace(tzinfo=UTC)
    except ValueError:
        return None


async def _rules(
    session: AsyncSession, tenant_id: uuid.UUID, client_id: int | None
) -> list[dict[str, Any]]:
    stmt = select(PortalRecord).where(
        PortalRecord.tenant_id == tenant_id, PortalRecord.model == "project.project"
    )
    if client_id is not None:
        stmt = stmt.where(PortalRecord.commercial_id == client_id)
    projects = list((await session.execute(stmt.order_by(PortalRecord.odoo_id))).scalars())
    tasks_by_project = await portal.tasks_of(session, tenant_id, [p.odoo_id for p in projects])
    stage_records = await portal.stages(session, tenant_id)
    now = clock.now().astimezone(UTC)
    today = now.date()
    found: list[dict[str, Any]] = []
    for project in projects:
        found += project_rules(
            project, tasks_by_project.get(project.odoo_id, []), stage_records, today, now
        )
    return found


def _task_evidence(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": task["name"],
        "deadline": task["deadline"],
        "stage": (task["stage"] or {}).get("name"),
        "state": task["state"],
    }


def _names(tasks: list[dict[str, Any]]) -> str:
    shown = ", ".join(f"“{t['name']}”" for t in tasks[:3])
    return shown + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")


def project_rules(
    project: PortalRecord,
    tasks: list[PortalRecord],
    stage_records: dict[int, PortalRecord],
    today: date,
    now: datetime,
) -> list[dict[str, Any]]:
    data = project.data
    name = data.get("name") or f"project {project.odoo_id}"
    status = data.get("last_update_status")
    if status == "done":
        return []
    rows = [(t, portal.task_json(t, stage_records)) for t in tasks]
    open_rows = sorted(
        (r for r in rows if not r[1]["done"]),
        key=lambda r: (str(r[0].data.get("date_deadline") or "9999"), r[0].odoo_id),
    )
    open_tasks = [r[1] for r in open_rows]
    partner_id, partner_name = portal.m2o(data.get("partner_id"))
    base = {
        "project": {"id": str(project.id), "odoo_id": project.odoo_id, "name": name},
        "client": {"odoo_id": partner_id, "name": partner_name},
        "tasks_total": len(tasks),
        "tasks_open": len(open_tasks),
    }
    found: list[dict[str, Any]] = []

    def add(method: str, title: str, **evidence: Any) -> None:
        found.append(
            {
                "category": "projects",
                "title": title,
                "impact": IMPACT[method],
                "method": "rules",
                "rule": method,
                "evidence": {**base, **evidence},
            }
        )

    overdue = []
    due_soon = []
    for task, shown in open_rows:
        due = _day(task.data.get("date_deadline"))
        if due is None:
            continue
        if due < today:
            overdue.append({**_task_evidence(shown), "days_overdue": (today - due).days})
        elif due <= today + timedelta(days=DUE_SOON_DAYS):
            due_soon.append({**_task_evidence(shown), "days_left": (due - today).days})
    if overdue:
        add(
            "projects-overdue-tasks",
            f"{len(overdue)} overdue task{'s' if len(overdue) > 1 else ''} in {name}: "
            f"{_names(overdue)}; agree new dates or unblock them",
            count=len(overdue),
            tasks=overdue[:EVIDENCE_TASKS],
        )
    if due_soon:
        add(
            "projects-tasks-due-soon",
            f"{len(due_soon)} task{'s' if len(due_soon) > 1 else ''} of {name} due within "
            f"{DUE_SOON_DAYS} days: {_names(due_soon)}",
            count=len(due_soon),
            tasks=due_soon[:EVIDENCE_TASKS],
        )
    waiting = [
        _task_evidence(t)
        for t in open_tasks
        if t["stage"]
        and any(word in str(t["stage"]["name"] or "").lower() for word in CLIENT_STAGE_WORDS)
    ]
    if waiting:
        add(
            "projects-waiting-on-client",
            f"{len(waiting)} task{'s' if len(waiting) > 1 else ''} of {name} wait on the "
            f"client: {_names(waiting)}",
            count=len(waiting),
            tasks=waiting[:EVIDENCE_TASKS],
            stage_words=list(CLIENT_STAGE_WORDS),
        )
    deadline = _day(data.get("date"))
    if deadline is not None and open_tasks:
        if deadline < today:
            add(
                "projects-deadline-passed",
                f"The deadline of {name} ({deadline.isoformat()}) has passed with "
                f"{len(open_tasks)} of {len(tasks)} tasks open: set a new one with the client",
                deadline=deadline.isoformat(),
                days_late=(today - deadline).days,
            )
        elif deadline <= today + timedelta(days=PROJECT_DUE_SOON_DAYS):
            add(
                "projects-deadline-soon",
                f"{name} is due on {deadline.isoformat()} with {len(open_tasks)} of "
                f"{len(tasks)} tasks open",
                deadline=deadline.isoformat(),
                days_left=(deadline - today).days,
            )
    if status == "off_track":
        add(
            "projects-off-track",
            f"{name} is off track in its last project update: review the plan with the client",
            status=status,
        )
    elif status == "at_risk":
        add("projects-at-risk", f"{name} is at risk in its last project update", status=status)
    if open_tasks:
        moments = [
            m
            for record in (project, *tasks)
            for field in ("write_date", "date_last_stage_update")
            if (m := _moment(record.data.get(field))) is not None
        ]
        last = max(moments) if moments else None
        if last is not None and now - last >= timedelta(days=INACTIVE_DAYS):
            idle = (now - last).days
            add(
                "projects-inactive",
                f"Nothing moved in {name} for {idle} days while {len(open_tasks)} tasks are "
                "open: check in with the team or the client",
                last_activity=_rfc3339(last),
                days_idle=idle,
            )
    return found
