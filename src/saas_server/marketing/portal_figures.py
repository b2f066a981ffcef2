"""Marketing's part of the client portal (seed 004): the dashboard's SEO and social figures
and the ``seo`` and ``social`` reports, for one client of a tenant (or all of them, for the
agency's members). The portal sits below marketing, so it asks through the providers it
declares (``portal.reports``), which ``wiring.py`` connects to these functions.

The figures are those marketing's own analytics compute (``service.seo_analytics``,
``social.social_analytics``), read as the client would read them with its portal token.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.marketing import social
from saas_server.marketing.models import AuditStatus, ScheduledPost, SeoAudit
from saas_server.marketing.service import ClientViewer, seo_analytics, visible_audits
from saas_server.portal.reports import MarketingFigures, ReportTable

# Findings of the latest audit the dashboard lists (the report has them all as a count).
DASHBOARD_FINDINGS = 5
SEO_COLUMNS = ["completed_at", "url", "score", "findings", "top_recommendation"]
SOCIAL_COLUMNS = [
    "scheduled_time",
    "platform",
    "status",
    "published_at",
    *social.ENGAGEMENT_FIELDS,
]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _moment(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


async def dashboard(
    session: AsyncSession, tenant_id: uuid.UUID, client_id: int | None
) -> MarketingFigures:
    viewer = ClientViewer(tenant_id, client_id)
    latest = (
        await session.execute(
            visible_audits(viewer)
            .where(SeoAudit.status == AuditStatus.COMPLETED.value)
            .order_by(SeoAudit.completed_at.desc().nulls_last(), SeoAudit.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    seo: dict[str, Any] | None = None
    if latest is not None:
        scores = await seo_analytics(
            session, viewer, tenant_id=tenant_id, client_id=None, start=None, end=None
        )
        seo = {
            "latest_audit": {
                "id": str(latest.id),
                "url": latest.url,
                "score": latest.score,
                "completed_at": _iso(latest.completed_at),
                "findings_count": len(latest.findings),
                "findings": [
                    {
                        "check": f.get("check"),
                        "severity": f.get("severity"),
                        "message": f.get("message"),
                    }
                    for f in latest.findings[:DASHBOARD_FINDINGS]
                ],
            },
            "average_score": scores["average_score"],
            "audits": scores["audits"],
            "urls": len(scores["urls"]),
        }
    analytics = await social.social_analytics(
        session,
        viewer,
        tenant_id=tenant_id,
        client_id=None,
        platform=None,
        start=None,
        end=None,
        start_date=None,
        end_date=None,
    )
    social_figures: dict[str, Any] | None = None
    if analytics["totals"]["posts"]:
        platforms = analytics["platforms"]
        engagement = {name: sum(p[name] for p in platforms) for name in social.ENGAGEMENT_FIELDS}
        interactions = sum(v for k, v in engagement.items() if k != "impressions")
        social_figures = {
            "posts": analytics["totals"],
            "engagement": {
                **engagement,
                "engagement_rate": round(interactions / engagement["impressions"], 4)
                if engagement["impressions"]
                else None,
            },
            "platforms": platforms,
        }
    audits_changed = (
        await session.execute(
            visible_audits(viewer).with_only_columns(func.max(SeoAudit.updated_at))
        )
    ).scalar_one()
    posts_changed = (
        await session.execute(
            social.visible_posts(viewer).with_only_columns(func.max(ScheduledPost.updated_at))
        )
    ).scalar_one()
    moments = [m for m in (audits_changed, posts_changed) if m is not None]
    return MarketingFigures(
        seo=seo, social=social_figures, updated_at=max(moments) if moments else None
    )


async def report(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    client_id: int | None,
    kind: str,
    start: date | None,
    end: date | None,
) -> ReportTable:
    """``seo``: the audits completed in the period, one row each; ``social``: the posts
    scheduled in the period, with the totals marketing's social analytics compute."""
    viewer = ClientViewer(tenant_id, client_id)
    low, high = _moment(start), _moment(end)
    if kind == "seo":
        stmt = visible_audits(viewer).where(SeoAudit.status == AuditStatus.COMPLETED.value)
        if low is not None:
            stmt = stmt.where(SeoAudit.completed_at >= low)
        if high is not None:
            stmt = stmt.where(SeoAudit.completed_at < high)
        audits = list(
            (await session.execute(stmt.order_by(SeoAudit.completed_at, SeoAudit.id))).scalars()
        )
        rows = [
            {
                "completed_at": _iso(a.completed_at),
                "url": a.url,
                "score": a.score,
                "findings": len(a.findings),
                "top_recommendation": (a.recommendations[0].get("title") or None)
                if a.recommendations and isinstance(a.recommendations[0], dict)
                else None,
            }
            for a in audits
        ]
        scores = [r["score"] for r in rows if r["score"] is not None]
        return ReportTable(
            columns=list(SEO_COLUMNS),
            rows=rows,
            totals={
                "count": len(rows),
                "average_score": round(sum(scores) / len(scores), 1) if scores else None,
                "findings": sum(r["findings"] for r in rows),
            },
            updated_at=max((a.updated_at for a in audits), default=None),
        )
    stmt = social.visible_posts(viewer)
    if low is not None:
        stmt = stmt.where(ScheduledPost.scheduled_time >= low)
    if high is not None:
        stmt = stmt.where(ScheduledPost.scheduled_time < high)
    posts = list(
        (
            await session.execute(stmt.order_by(ScheduledPost.scheduled_time, ScheduledPost.id))
        ).scalars()
    )
    rows = [
        {
            "scheduled_time": _iso(p.scheduled_time),
            "platform": p.platform,
            "status": p.status,
            "published_at": _iso(p.published_at),
            **{
                name: value if isinstance(value := p.engagement.get(name), int) else 0
                for name in social.ENGAGEMENT_FIELDS
            },
        }
        for p in posts
    ]
    analytics = await social.social_analytics(
        session,
        viewer,
        tenant_id=tenant_id,
        client_id=None,
        platform=None,
        start=low,
        end=high,
        start_date=start,
        end_date=end,
    )
    impressions = sum(r["impressions"] for r in rows)
    interactions = sum(
        r[name] for r in rows for name in social.ENGAGEMENT_FIELDS if name != "impressions"
    )
    return ReportTable(
        columns=list(SOCIAL_COLUMNS),
        rows=rows,
        totals={
            **analytics["totals"],
            **{name: sum(r[name] for r in rows) for name in social.ENGAGEMENT_FIELDS},
            "engagement_rate": round(interactions / impressions, 4) if impressions else None,
        },
        updated_at=max((p.updated_at for p in posts), default=None),
    )
