"""A tenant's log: the platform's structured events for it and its Odoo's login records.

Sources, newest first in one list:
- ``audit``: the audit trail's entries for the tenant (who did what, from where, with the
  reason and values recorded);
- ``event``: its domain events (the outbox: tenant.ready, backup.failed, ...; of a step's
  ``*.progress`` events only the one saying it finished, with the step in the message);
- ``instance``: its instances' status transitions (provisioning steps, stops, restores,
  failures with their reason);
- ``odoo``: Odoo's own login records (``res.users.log``), read through the driver when the
  tenant has a ready instance; at most ``ODOO_LOGIN_LIMIT`` of them, the newest;
- ``odoo_server``: the Odoo server's log lines of the tenant's database, when its host has a
  ``log_path`` (monitoring/odoo_log.py); at most ``ODOO_LOGIN_LIMIT``, the newest.

The platform's sources are filtered, counted and ordered in SQL; Odoo's are merged in
memory. A page is exact: the first ``page * page_size`` entries of the merged list are among
the first ``page * page_size`` of each source.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import ValidationFailed
from saas_server.core.pagination import ListParams, Page
from saas_server.core.runtime import Runtime
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import InstanceStatus
from saas_server.instances.service import production_instance
from saas_server.monitoring.odoo_log import LEVELS as ODOO_LEVELS
from saas_server.monitoring.odoo_log import read_records
from saas_server.odoo.driver import Credentials
from saas_server.odoo.errors import OdooError

logger = logging.getLogger(__name__)

LEVELS = ("info", "warning", "error")
ODOO_LOGIN_LIMIT = 1000

_PLATFORM_ENTRIES = """
SELECT * FROM (
    SELECT 'audit' AS source, a.timestamp AS at,
           CASE WHEN a.action ILIKE '%fail%' THEN 'error' ELSE 'info' END AS level,
           a.action AS event,
           a.action || ' ' || a.resource_type || coalesce(' ' || a.resource_id, '') AS message,
           a.user_id::text AS actor_id, a.new_values AS data
    FROM audit_log a WHERE a.tenant_id = :tenant_id
    UNION ALL
    SELECT 'event', e.occurred_at,
           CASE WHEN e.type LIKE '%failed' THEN 'error' ELSE 'info' END,
           e.type,
           e.type || coalesce(': ' || (e.data->>'step') || ' ' || (e.data->>'phase'), ''),
           NULL, e.data
    FROM event_outbox e WHERE e.tenant_id = :tenant_id
    -- A step's progress (events/progress.py) is logged once, when it finished.
      AND NOT (e.type LIKE '%.progress' AND e.data->>'phase' = 'started')
    UNION ALL
    SELECT 'instance', t.at,
           CASE WHEN t.to_status = 'failed' THEN 'error' ELSE 'info' END,
           'instance.' || t.action,
           t.from_status || ' -> ' || t.to_status || coalesce(': ' || t.reason, ''),
           t.actor_id::text, NULL
    FROM instance_transitions t JOIN instances i ON i.id = t.instance_id
    WHERE i.tenant_id = :tenant_id
) AS entries
WHERE (CAST(:level AS text) IS NULL OR level = :level)
  AND (CAST(:date_from AS timestamptz) IS NULL OR at >= :date_from)
  AND (CAST(:date_to AS timestamptz) IS NULL OR at <= :date_to)
  AND (CAST(:search AS text) IS NULL OR event ILIKE :search OR message ILIKE :search)
"""

# Constant text only (no input): parameters carry every value.
_COUNT_ENTRIES = "SELECT count(*) FROM (" + _PLATFORM_ENTRIES + ") AS counted"  # noqa: S608


@dataclass(frozen=True)
class LogQuery:
    level: str | None
    date_from: datetime | None
    date_to: datetime | None
    search: str | None

    def check(self) -> None:
        if self.level is not None and self.level not in LEVELS:
            raise ValidationFailed.for_field("level", f"One of {', '.join(LEVELS)}.")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValidationFailed.for_field("date_from", "Must not be after date_to.")

    def matches(self, entry: dict[str, Any]) -> bool:
        if self.level is not None and entry["level"] != self.level:
            return False
        if self.search is not None:
            term = self.search.lower()
            return term in entry["event"].lower() or term in entry["message"].lower()
        return True


async def _platform_entries(
    session: AsyncSession, tenant_id: uuid.UUID, query: LogQuery, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    escaped = None
    if query.search:
        escaped = (
            "%" + query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
    params = {
        "tenant_id": tenant_id,
        "level": query.level,
        "date_from": query.date_from,
        "date_to": query.date_to,
        "search": escaped,
    }
    count = (await session.execute(text(_COUNT_ENTRIES), params)).scalar_one()
    rows = (
        await session.execute(
            text(_PLATFORM_ENTRIES + " ORDER BY at DESC, source, event LIMIT :limit"),
            {**params, "limit": limit},
        )
    ).mappings()
    return int(count), [
        {
            "source": row["source"],
            "at": row["at"],
            "level": row["level"],
            "event": row["event"],
            "message": row["message"],
            "actor_id": row["actor_id"],
            "data": row["data"],
        }
        for row in rows
    ]


async def _odoo_entries(
    session: AsyncSession, runtime: Runtime, tenant_id: uuid.UUID, query: LogQuery
) -> tuple[list[dict[str, Any]], str]:
    """Odoo's login records, and what became of the attempt to read them."""
    instance = await production_instance(session, tenant_id)
    if instance is None or instance.status != InstanceStatus.READY.value or not instance.host_id:
        return [], "no ready instance"
    host = await session.get(OdooHost, instance.host_id)
    if host is None:
        return [], "no host"
    driver = driver_for(runtime, host)
    try:
        records = await driver.login_records(
            instance.database_name,
            Credentials(
                instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
            ),
            since=query.date_from,
            until=query.date_to,
            limit=ODOO_LOGIN_LIMIT,
        )
    except (OdooError, OSError) as exc:
        logger.warning("tenant logs: Odoo's login records unreadable: %s", exc)
        return [], "unavailable"
    finally:
        await driver.close()
    entries = [
        {
            "source": "odoo",
            "at": record.at,
            "level": "info",
            "event": "odoo.login",
            "message": f"{record.user or record.user_id} logged in to Odoo",
            "actor_id": None,
            "data": {"odoo_user_id": record.user_id, "user": record.user},
        }
        for record in records
    ]
    return [e for e in entries if query.matches(e)], "ok"


async def _odoo_server_entries(
    session: AsyncSession, tenant_id: uuid.UUID, query: LogQuery
) -> tuple[list[dict[str, Any]], str]:
    """The Odoo server's log lines of the tenant's database, and what became of the read."""
    instance = await production_instance(session, tenant_id)
    if instance is None or not instance.host_id or not instance.database_name:
        return [], "no instance"
    host = await session.get(OdooHost, instance.host_id)
    if host is None or not host.log_path:
        return [], "no log path"
    try:
        records = await read_records(host.log_path, instance.database_name)
    except OSError as exc:
        logger.warning("tenant logs: the Odoo log of host %s is unreadable: %s", host.id, exc)
        return [], "unavailable"
    entries = [
        {
            "source": "odoo_server",
            "at": record.at,
            "level": ODOO_LEVELS[record.level],
            "event": record.logger,
            "message": record.message,
            "actor_id": None,
            "data": {"odoo_level": record.level, "pid": record.pid},
        }
        for record in reversed(records)
        if (query.date_from is None or record.at >= query.date_from)
        and (query.date_to is None or record.at <= query.date_to)
    ]
    return [e for e in entries if query.matches(e)][:ODOO_LOGIN_LIMIT], "ok"


async def tenant_logs(
    session: AsyncSession,
    runtime: Runtime,
    tenant_id: uuid.UUID,
    query: LogQuery,
    params: ListParams,
) -> dict[str, Any]:
    query.check()
    window = params.page * params.page_size
    count, platform_entries = await _platform_entries(session, tenant_id, query, window)
    odoo_entries, odoo_state = await _odoo_entries(session, runtime, tenant_id, query)
    server_entries, server_state = await _odoo_server_entries(session, tenant_id, query)
    merged = sorted(
        [*platform_entries, *odoo_entries, *server_entries],
        key=lambda entry: entry["at"],
        reverse=True,
    )
    total = count + len(odoo_entries) + len(server_entries)
    start = (params.page - 1) * params.page_size
    results = [
        {**entry, "at": clock.isoformat(entry["at"])}
        for entry in merged[start : start + params.page_size]
    ]
    has_next = start + len(results) < total

    def url(page: int) -> str:
        return str(params.url.include_query_params(page=page, page_size=params.page_size))

    page = Page[dict[str, Any]](
        count=total,
        next=url(params.page + 1) if has_next else None,
        previous=url(params.page - 1) if params.page > 1 else None,
        results=results,
    )
    return {
        **page.model_dump(),
        "sources": {"platform": "ok", "odoo": odoo_state, "odoo_server": server_state},
    }
