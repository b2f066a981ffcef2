"""`GET /api/v1/ai/recommendations`: what a client (or the whole agency) should do next, from
what the platform has measured: the SEO audits' open findings and their trend, the social
posts' outcomes and engagement, and the client's projects and tasks in the tenant's Odoo (from
the portal's synced copy). Each recommendation carries its evidence and the rule that made it;
none is generated text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.marketing import service, social
from saas_server.marketing.project_recommendations import project_recommendations
from saas_server.marketing.service import Viewer

CATEGORIES = ("seo", "social", "projects")
LOOKBACK = timedelta(days=90)
# Below this engagement rate a network is not worth the posts (a common benchmark is 1-3 %).
LOW_ENGAGEMENT = 0.01


async def recommendations(
    session: AsyncSession,
    runtime: Runtime,
    actor: Viewer,
    *,
    tenant_id: Any,
    client_id: int | None,
    category: str | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ranked recommendations, and per source what it read (``sources``): the projects'
    says whether the tenant's Odoo copy is fresh, stale (Odoo was unreachable at the last
    sync) or unavailable, so an Odoo that is down never hides the other recommendations."""
    found: list[dict[str, Any]] = []
    sources: dict[str, Any] = {}
    if category in (None, "seo"):
        found += await _seo(session, actor, tenant_id, client_id)
        sources["seo"] = {"status": "ok"}
    if category in (None, "social"):
        found += await _social(session, actor, tenant_id, client_id)
        sources["social"] = {"status": "ok"}
    if category in (None, "projects"):
        items, source = await project_recommendations(
            session, runtime, actor, tenant_id=tenant_id, client_id=client_id
        )
        found += items
        sources["projects"] = source.json()
    found.sort(key=lambda r: -r["impact"])
    for rank, item in enumerate(found, start=1):
        item["rank"] = rank
    return found, sources


async def _seo(
    session: AsyncSession, actor: Viewer, tenant_id: Any, client_id: int | None
) -> list[dict[str, Any]]:
    since = (clock.now() - LOOKBACK).date()
    data = await service.seo_analytics(
        session, actor, tenant_id=tenant_id, client_id=client_id, start=since, end=None
    )
    found = []
    for url in data["urls"]:
        for item in url["top_recommendations"]:
            found.append(
                {
                    "category": "seo",
                    "title": item["title"],
                    "impact": int(item["impact"]),
                    "method": f"seo-audit:{item['method']}",
                    "evidence": {
                        "url": url["url"],
                        "latest_score": url["latest_score"],
                        "detail": item.get("evidence"),
                    },
                }
            )
        if url["audits"] >= 2 and url["score_change"] < 0:
            found.append(
                {
                    "category": "seo",
                    "title": f"The SEO score of {url['url']} fell by "
                    f"{-url['score_change']} points: look at what changed on the page",
                    "impact": 9,
                    "method": "seo-trend",
                    "evidence": {"points": url["points"]},
                }
            )
    return found


async def _social(
    session: AsyncSession, actor: Viewer, tenant_id: Any, client_id: int | None
) -> list[dict[str, Any]]:
    since = clock.now() - LOOKBACK
    data = await social.social_analytics(
        session,
        actor,
        tenant_id=tenant_id,
        client_id=client_id,
        platform=None,
        start=since,
        end=None,
        start_date=since.date(),
        end_date=None,
    )
    found = []
    platforms = data["platforms"]
    rated = [p for p in platforms if p["engagement_rate"] is not None]
    if len(rated) >= 2:
        best = max(rated, key=lambda p: p["engagement_rate"])
        worst = min(rated, key=lambda p: p["engagement_rate"])
        if best["engagement_rate"] > worst["engagement_rate"]:
            found.append(
                {
                    "category": "social",
                    "title": f"Shift posts from {worst['platform']} to {best['platform']}: "
                    f"{best['engagement_rate']:.1%} engagement against "
                    f"{worst['engagement_rate']:.1%}",
                    "impact": 7,
                    "method": "social-engagement-comparison",
                    "evidence": {"best": best, "worst": worst},
                }
            )
    for platform in rated:
        if platform["engagement_rate"] < LOW_ENGAGEMENT:
            found.append(
                {
                    "category": "social",
                    "title": f"Engagement on {platform['platform']} is under 1 %: change the "
                    "content or the posting times",
                    "impact": 5,
                    "method": "social-low-engagement",
                    "evidence": platform,
                }
            )
    for platform in platforms:
        if platform["failed"]:
            found.append(
                {
                    "category": "social",
                    "title": f"{platform['failed']} posts to {platform['platform']} failed: check "
                    "the social provider's configuration",
                    "impact": 8,
                    "method": "social-failures",
                    "evidence": {"platform": platform["platform"], "failed": platform["failed"]},
                }
            )
    if not platforms:
        found.append(
            {
                "category": "social",
                "title": "Nothing was posted in the last 90 days: schedule posts to stay visible",
                "impact": 3,
                "method": "social-activity",
                "evidence": {"posts": 0},
            }
        )
    return found
