"""The portal's copy of a tenant's Odoo records, kept fresh incrementally by ``write_date``.

Each run reads, per model, the records written since the newest ``write_date`` it has seen
(``>=``: records written in that same second are read again, and upserting them changes
nothing), then the ids still in Odoo, so records deleted or archived there leave the copy.
Comparing the stored record with the new one makes the notifications (a task moved to
another stage, an invoice posted or paid), each once: the webhook's run and the scheduled
one may both see a change, and the notification's ``dedupe_key`` keeps one.

Runs are jobs (``portal.sync``, one waiting per tenant); the scheduled sweep queues one per
enabled tenant, and the tenant's Odoo webhook queues one when a record changes there.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, not_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.jobs import defer
from saas_server.core.runtime import Runtime
from saas_server.portal import notifications
from saas_server.portal.cache import direct_cache
from saas_server.portal.models import PortalRecord, PortalStatus, PortalSyncState, PortalTenant
from saas_server.portal.odoo_access import TenantOdoo, tenant_odoo

logger = logging.getLogger(__name__)

SYNC_TASK = "portal.sync"
SYNC_DUE_TASK = "portal.sync_due"
RECORD_NAMESPACE = uuid.UUID("5d0c6a52-5f51-4a57-9b3c-7a0f1f0e2d41")
# Odoo ids per ``search`` of what still exists; records per read.
PAGE = 2000


@dataclass(frozen=True)
class SyncedModel:
    model: str
    fields: tuple[str, ...]
    domain: tuple[Any, ...] = ()
    # How the record's client (commercial entity) is found: a field holding it, or a
    # partner field whose commercial entity it is.
    commercial_field: str | None = None
    partner_field: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    # Read only when the sync's user may (fields_get lists them): fields of a group that an
    # Odoo setting grants (project.project's stage_id: "Project Stages").
    optional_fields: tuple[str, ...] = ()


# In order: partners first (the others' clients are read through them), stages before tasks.
MODELS: tuple[SyncedModel, ...] = (
    SyncedModel(
        "res.partner",
        ("name", "email", "is_company", "parent_id", "commercial_partner_id", "lang", "tz"),
        commercial_field="commercial_partner_id",
    ),
    SyncedModel("project.task.type", ("name", "sequence", "fold")),
    SyncedModel(
        "project.project",
        (
            "name",
            "partner_id",
            "date_start",
            "date",
            "last_update_status",
            "user_id",
            "create_date",
        ),
        partner_field="partner_id",
        optional_fields=("stage_id",),
    ),
    SyncedModel(
        "project.task",
        (
            "name",
            "project_id",
            "stage_id",
            "partner_id",
            "state",
            "priority",
            "date_deadline",
            "date_end",
            "date_last_stage_update",
            "create_date",
        ),
        partner_field="partner_id",
    ),
    SyncedModel(
        "account.move",
        (
            "name",
            "move_type",
            "state",
            "partner_id",
            "commercial_partner_id",
            "invoice_date",
            "invoice_date_due",
            "amount_untaxed",
            "amount_total",
            "amount_residual",
            "currency_id",
            "payment_state",
            "ref",
        ),
        domain=(("move_type", "in", ["out_invoice", "out_refund"]),),
        commercial_field="commercial_partner_id",
    ),
    SyncedModel("blog.blog", ("name", "subtitle")),
    SyncedModel("blog.tag", ("name",)),
    SyncedModel(
        "blog.post",
        (
            "name",
            "subtitle",
            "blog_id",
            "tag_ids",
            "author_id",
            "is_published",
            "post_date",
            "teaser",
            "content",
            "create_date",
        ),
    ),
)
MODEL_NAMES = tuple(m.model for m in MODELS)


def record_id(tenant_id: uuid.UUID, model: str, odoo_id: int) -> uuid.UUID:
    """The public id of a synced record: the same on every sync, no sequence of ours."""
    return uuid.uuid5(RECORD_NAMESPACE, f"{tenant_id}:{model}:{odoo_id}")


def many2one_id(value: Any) -> int | None:
    if isinstance(value, list | tuple) and value:
        return int(value[0])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


async def defer_sync(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Queue a sync of the tenant (one waiting job at most)."""
    return await defer(
        session,
        SYNC_TASK,
        queue="portal",
        queueing_lock=f"portal-sync:{tenant_id}",
        tenant_id=str(tenant_id),
    )


async def defer_due_syncs(runtime: Runtime) -> int:
    """The scheduled sweep: a sync for every tenant whose portal is on."""
    async with runtime.db.transaction() as session:
        tenants = (
            await session.execute(
                select(PortalTenant.tenant_id).where(
                    PortalTenant.status == PortalStatus.ENABLED.value
                )
            )
        ).scalars()
        count = 0
        for tenant_id in list(tenants):
            await defer_sync(session, tenant_id)
            count += 1
        return count


async def _commercial_of(
    session: AsyncSession, tenant_id: uuid.UUID, partner_ids: set[int]
) -> dict[int, int]:
    """Each partner's commercial entity, from the synced partners."""
    if not partner_ids:
        return {}
    rows = await session.execute(
        select(PortalRecord.odoo_id, PortalRecord.commercial_id).where(
            PortalRecord.tenant_id == tenant_id,
            PortalRecord.model == "res.partner",
            PortalRecord.odoo_id.in_(partner_ids),
        )
    )
    return {odoo_id: commercial or odoo_id for odoo_id, commercial in rows}


async def _project_clients(session: AsyncSession, tenant_id: uuid.UUID) -> dict[int, int | None]:
    rows = await session.execute(
        select(PortalRecord.odoo_id, PortalRecord.commercial_id).where(
            PortalRecord.tenant_id == tenant_id, PortalRecord.model == "project.project"
        )
    )
    return {int(odoo_id): commercial for odoo_id, commercial in rows}


async def _optional_fields_changed(
    session: AsyncSession, tenant_id: uuid.UUID, spec: SyncedModel, readable: list[str]
) -> bool:
    """Whether the copy was read with other optional fields than are readable now (a setting
    changed in Odoo): then every record is read again, not only those written since."""
    if not spec.optional_fields:
        return False
    mismatched = [
        not_(PortalRecord.data.has_key(name))
        if name in readable
        else PortalRecord.data.has_key(name)
        for name in spec.optional_fields
    ]
    found = await session.execute(
        select(PortalRecord.id)
        .where(
            PortalRecord.tenant_id == tenant_id,
            PortalRecord.model == spec.model,
            or_(*mismatched),
        )
        .limit(1)
    )
    return found.first() is not None


async def sync_model(
    session: AsyncSession, odoo: TenantOdoo, spec: SyncedModel, *, notify: bool
) -> tuple[int, int]:
    """One model's incremental sync in the caller's transaction: (changed, held)."""
    tenant_id = odoo.tenant_id
    state = await session.get(PortalSyncState, (tenant_id, spec.model), with_for_update=True)
    if state is None:
        state = PortalSyncState(tenant_id=tenant_id, model=spec.model, record_count=0)
        session.add(state)
    first_run = state.cursor is None
    context = {"active_test": True, **spec.context}
    optional = (
        await odoo.driver.readable_fields(
            odoo.database, odoo.admin, spec.model, list(spec.optional_fields)
        )
        if spec.optional_fields
        else []
    )
    domain: list[Any] = list(spec.domain)
    if state.cursor and not await _optional_fields_changed(session, tenant_id, spec, optional):
        domain.append(("write_date", ">=", state.cursor))
    rows = await odoo.driver.search_read(
        odoo.database,
        odoo.admin,
        spec.model,
        domain,
        [*spec.fields, *optional, "write_date"],
        order="write_date asc, id asc",
        context=context,
    )
    partners = (
        {many2one_id(r.get(spec.partner_field)) for r in rows} if spec.partner_field else set()
    )
    commercial_of = await _commercial_of(session, tenant_id, {p for p in partners if p})
    projects = await _project_clients(session, tenant_id) if spec.model == "project.task" else {}
    existing = {
        r.odoo_id: r
        for r in (
            await session.execute(
                select(PortalRecord).where(
                    PortalRecord.tenant_id == tenant_id,
                    PortalRecord.model == spec.model,
                    PortalRecord.odoo_id.in_([int(r["id"]) for r in rows]),
                )
            )
        ).scalars()
    }
    now = clock.now()
    changed = 0
    for row in rows:
        odoo_id = int(row["id"])
        commercial: int | None = None
        if spec.commercial_field:
            commercial = many2one_id(row.get(spec.commercial_field))
        if spec.model == "project.task":
            # A task belongs to its project's client (else to its own customer's).
            commercial = projects.get(many2one_id(row.get("project_id")) or 0)
        if commercial is None and spec.partner_field:
            partner = many2one_id(row.get(spec.partner_field))
            commercial = commercial_of.get(partner, partner) if partner else None
        before = existing.get(odoo_id)
        if before is not None and before.data == row and before.commercial_id == commercial:
            continue
        changed += 1
        if notify and not first_run:
            await notifications.from_change(
                session, tenant_id, spec.model, before.data if before else None, row, commercial
            )
        statement = insert(PortalRecord).values(
            id=record_id(tenant_id, spec.model, odoo_id),
            tenant_id=tenant_id,
            model=spec.model,
            odoo_id=odoo_id,
            commercial_id=commercial,
            data=row,
            odoo_write_date=row.get("write_date") or None,
            synced_at=now,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["id"],
                set_={
                    "commercial_id": statement.excluded.commercial_id,
                    "data": statement.excluded.data,
                    "odoo_write_date": statement.excluded.odoo_write_date,
                    "synced_at": statement.excluded.synced_at,
                },
            )
        )
    if rows:
        state.cursor = max(str(r.get("write_date") or "") for r in rows) or state.cursor
    # What is still in Odoo: the rest (deleted, archived, out of the domain) leaves the copy.
    alive = await odoo.driver.search_read(
        odoo.database, odoo.admin, spec.model, list(spec.domain), ["id"], context=context
    )
    alive_ids = [int(r["id"]) for r in alive]
    removed = await session.execute(
        delete(PortalRecord).where(
            PortalRecord.tenant_id == tenant_id,
            PortalRecord.model == spec.model,
            PortalRecord.odoo_id.not_in(alive_ids) if alive_ids else PortalRecord.odoo_id >= 0,
        )
    )
    changed += int(getattr(removed, "rowcount", 0) or 0)
    state.record_count = len(alive_ids)
    state.last_changed = changed
    state.last_run_at = now
    state.last_success_at = now
    state.error = None
    return changed, len(alive_ids)


async def run_sync(runtime: Runtime, tenant_id: uuid.UUID) -> dict[str, Any]:
    """Sync every model of the tenant; one transaction per model, so one failing model
    (its app missing, Odoo refusing) keeps its error and the others go on."""
    async with runtime.db.sessionmaker() as session:
        portal = await session.get(PortalTenant, tenant_id)
        if portal is None or portal.status != PortalStatus.ENABLED.value:
            return {"skipped": "portal not enabled"}
    # Odoo changed (the webhook queued this run) or may have: the reads cached straight
    # from Odoo go (cache.py; in memory that is this process's copy only).
    await direct_cache(runtime.settings.redis_url).drop_tenant(tenant_id)
    result: dict[str, Any] = {}
    for spec in MODELS:
        try:
            async with (
                runtime.db.transaction() as session,
                tenant_odoo(session, runtime, tenant_id) as odoo,
            ):
                changed, held = await sync_model(session, odoo, spec, notify=True)
            result[spec.model] = {"changed": changed, "count": held}
        except Exception as exc:
            message = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:1000]
            logger.warning(
                "portal sync of %s for tenant %s failed: %s", spec.model, tenant_id, message
            )
            result[spec.model] = {"error": message}
            async with runtime.db.transaction() as session:
                statement = insert(PortalSyncState).values(
                    tenant_id=tenant_id,
                    model=spec.model,
                    record_count=0,
                    last_changed=0,
                    last_run_at=clock.now(),
                    error=message,
                )
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["tenant_id", "model"],
                        set_={"last_run_at": statement.excluded.last_run_at, "error": message},
                    )
                )
    async with runtime.db.transaction() as session:
        await notifications.mail_pending(session, runtime, tenant_id)
    return result
