"""SEO audits: requested by a tenant's members (an agency's staff, for one of its clients),
run by a job, read back singly, as a list, or as scores over time."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import NotFound, ValidationFailed
from saas_server.core.jobs import defer
from saas_server.core.outbound import split_url
from saas_server.core.runtime import Runtime
from saas_server.events.service import emit
from saas_server.marketing import seo
from saas_server.marketing.lifecycle import SEO_AUDIT, AuditAction
from saas_server.marketing.models import AuditStatus, SeoAudit
from saas_server.tenants.models import Membership
from saas_server.users.models import User

logger = logging.getLogger(__name__)

AUDIT_TASK = "marketing.seo_audit"
AUDIT_REQUESTED = "seo.audit_requested"
AUDIT_COMPLETED = "seo.audit_completed"


class AuditNotFound(NotFound):
    code = "SEO_AUDIT_NOT_FOUND"
    message = "SEO audit not found"


def _checked_url(url: str, field: str) -> str:
    try:
        split_url(url)
    except ValidationFailed as exc:
        raise ValidationFailed(str(exc), details={field: [str(exc)]}) from exc
    return url


async def request_audit(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    client_id: int | None,
    url: str,
    keywords: list[str],
    competitors: list[str],
    actor: User,
    client: ClientInfo | None,
) -> SeoAudit:
    """A pending audit, its job deferred in this transaction. The URLs' form is checked here;
    whether they are public is checked by the job when it connects (the guard resolves the
    name then, so a name that changes meanwhile cannot slip past)."""
    _checked_url(url, "url")
    for index, competitor in enumerate(competitors):
        _checked_url(competitor, f"competitors.{index}")
    row = SeoAudit(
        tenant_id=tenant_id,
        client_id=client_id,
        url=url,
        keywords=keywords,
        competitors=competitors,
        status=AuditStatus.PENDING.value,
        requested_by=actor.id,
        findings=[],
        recommendations=[],
    )
    session.add(row)
    await session.flush()
    await defer(session, AUDIT_TASK, queue="maintenance", audit_id=str(row.id))
    await audit.record(
        session,
        action=AUDIT_REQUESTED,
        resource_type="seo_audit",
        resource_id=row.id,
        actor_id=actor.id,
        tenant_id=tenant_id,
        new_values={"url": url, "keywords": keywords, "competitors": competitors},
        client=client,
    )
    return row


@dataclass(frozen=True)
class ClientViewer:
    """A caller with a portal token: one tenant, and one of its clients' rows (the client's
    commercial partner id, the rows' `client_id`) unless `client_id` is None (the tenant's
    Odoo employees, who see every client's)."""

    tenant_id: uuid.UUID
    client_id: int | None


# Who reads marketing rows: a platform user (their tenants' rows), or a portal caller.
Viewer = User | ClientViewer


def visible_rows(model: Any, actor: Viewer) -> Select[Any]:
    """The rows of a marketing table (audits, posts) ``actor`` may read: platform admins every
    one, other users those of the tenants they belong to, a portal client their own."""
    stmt = select(model)
    if isinstance(actor, ClientViewer):
        stmt = stmt.where(model.tenant_id == actor.tenant_id)
        if actor.client_id is not None:
            stmt = stmt.where(model.client_id == actor.client_id)
        return stmt
    if not actor.is_platform_admin:
        mine = select(Membership.tenant_id).where(Membership.user_id == actor.id)
        stmt = stmt.where(model.tenant_id.in_(mine))
    return stmt


def visible_audits(actor: Viewer) -> Select[Any]:
    return visible_rows(SeoAudit, actor)


async def get_audit(session: AsyncSession, actor: Viewer, audit_id: uuid.UUID) -> SeoAudit:
    found = (
        await session.execute(visible_audits(actor).where(SeoAudit.id == audit_id))
    ).scalar_one_or_none()
    if found is None:
        raise AuditNotFound()
    return found


async def run_audit(runtime: Runtime, audit_id: uuid.UUID) -> SeoAudit | None:
    """Take the audit, fetch and check outside any transaction, store the report
    (idempotent: a finished audit is left as it is)."""
    async with runtime.db.transaction() as session:
        row = await session.get(SeoAudit, audit_id, with_for_update=True)
        if row is None or row.status in (AuditStatus.COMPLETED.value, AuditStatus.FAILED.value):
            return row
        SEO_AUDIT.apply(row, AuditAction.START)
        row.started_at = clock.now()
        url, keywords, competitors = row.url, list(row.keywords), list(row.competitors)
    report: dict[str, Any] | None = None
    error: str | None = None
    async with httpx.AsyncClient() as http:
        fetcher = seo.Fetcher(http, allow_private=runtime.settings.marketing_allow_private)
        try:
            report = await seo.audit_page(fetcher, url, keywords, competitors)
        except seo.AuditRefused as exc:
            error = str(exc)
    async with runtime.db.transaction() as session:
        row = await session.get(SeoAudit, audit_id, with_for_update=True)
        assert row is not None
        if report is None:
            SEO_AUDIT.apply(row, AuditAction.FAIL)
            row.error = error
        else:
            SEO_AUDIT.apply(row, AuditAction.COMPLETE)
            row.report = report
            row.score = report["score"]
            row.findings = report["findings"]
            row.recommendations = report["recommendations"]
        row.completed_at = clock.now()
        await emit(
            session,
            AUDIT_COMPLETED,
            {
                "id": str(row.id),
                "status": row.status,
                "url": row.url,
                "score": row.score,
                # The client (its Odoo commercial partner) the audit is for: the portal
                # notifies it.
                "client_id": row.client_id,
            },
            tenant_id=row.tenant_id,
        )
        return row


def day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    if start and end and end < start:
        raise ValidationFailed(
            "end_date is before start_date", details={"end_date": ["before start_date"]}
        )
    low = datetime.combine(start, time.min, tzinfo=clock.now().tzinfo) if start else None
    high = (
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=clock.now().tzinfo)
        if end
        else None
    )
    return low, high


async def seo_analytics(
    session: AsyncSession,
    actor: Viewer,
    *,
    tenant_id: uuid.UUID | None,
    client_id: int | None,
    start: date | None,
    end: date | None,
) -> dict[str, Any]:
    """Scores and findings over time from the completed audits, per URL."""
    low, high = day_bounds(start, end)
    stmt = visible_audits(actor).where(SeoAudit.status == AuditStatus.COMPLETED.value)
    if tenant_id is not None:
        stmt = stmt.where(SeoAudit.tenant_id == tenant_id)
    if client_id is not None:
        stmt = stmt.where(SeoAudit.client_id == client_id)
    if low is not None:
        stmt = stmt.where(SeoAudit.created_at >= low)
    if high is not None:
        stmt = stmt.where(SeoAudit.created_at < high)
    rows = (await session.execute(stmt.order_by(SeoAudit.created_at, SeoAudit.id))).scalars()
    per_url: dict[str, list[SeoAudit]] = {}
    for row in rows:
        per_url.setdefault(row.url, []).append(row)
    urls: list[dict[str, Any]] = []
    for url, audits in per_url.items():
        latest = audits[-1]
        first = audits[0]
        urls.append(
            {
                "url": url,
                "audits": len(audits),
                "latest_score": latest.score,
                "score_change": (latest.score or 0) - (first.score or 0),
                "points": [
                    {
                        "audit_id": str(a.id),
                        "date": a.created_at.isoformat(),
                        "score": a.score,
                        "findings": len(a.findings),
                    }
                    for a in audits
                ],
                "open_findings": [
                    {
                        "check": f.get("check"),
                        "severity": f.get("severity"),
                        "message": f.get("message"),
                    }
                    for f in latest.findings
                ],
                "top_recommendations": latest.recommendations[:5],
            }
        )
    scores = [u["latest_score"] for u in urls if u["latest_score"] is not None]
    return {
        "start_date": start.isoformat() if start else None,
        "end_date": end.isoformat() if end else None,
        "urls": urls,
        "average_score": round(sum(scores) / len(scores), 1) if scores else None,
        "audits": sum(u["audits"] for u in urls),
    }
