"""Marketing on the client portal: a scheduled post that went out and an SEO audit that
finished notify the post's or the audit's client (mailed per its settings), and the
dashboard's `seo` and `social` figures and the `seo` and `social` reports (JSON, CSV, PDF)
are the client's own, as marketing's analytics compute them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.marketing import seo
from saas_server.marketing.models import ScheduledPost, SeoAudit, SocialProvider
from saas_server.marketing.service import run_audit
from saas_server.marketing.social import PublishResult, publish_due_posts
from tests.fixtures.errors import assert_envelope
from tests.fixtures.portal import PortalTenant, bearer, portal_login
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow

FINDINGS = [
    {"check": "title", "severity": "error", "message": "The title is too short"},
    {"check": "meta_description", "severity": "warning", "message": "No meta description"},
]


class Published:
    """A provider that publishes every post (the network's answer: an id)."""

    async def publish(self, post: ScheduledPost, provider: SocialProvider) -> PublishResult:
        return PublishResult(external_id=f"net-{post.id.hex[:8]}")


async def _audit(runtime: Runtime, tenant_id: uuid.UUID, client_id: int, url: str) -> str:
    async with runtime.db.transaction() as session:
        row = SeoAudit(
            tenant_id=tenant_id,
            client_id=client_id,
            url=url,
            keywords=[],
            competitors=[],
            status="pending",
            findings=[],
            recommendations=[],
        )
        session.add(row)
        await session.flush()
        audit_id = row.id
    await run_audit(runtime, audit_id)
    return str(audit_id)


async def _post(runtime: Runtime, tenant_id: uuid.UUID, client_id: int, content: str) -> str:
    async with runtime.db.transaction() as session:
        existing = await session.execute(
            select(SocialProvider.id).where(SocialProvider.tenant_id == tenant_id)
        )
        if existing.first() is None:
            session.add(
                SocialProvider(
                    tenant_id=tenant_id,
                    name="webhook",
                    config={"url": "http://127.0.0.1:9/unused"},
                    secret_encrypted="unused",
                )
            )
        due = clock.now() - timedelta(minutes=5)
        post = ScheduledPost(
            tenant_id=tenant_id,
            client_id=client_id,
            platform="linkedin",
            content=content,
            media=[],
            target_audience={},
            scheduled_time=due,
            next_attempt_at=due,
            provider="webhook",
            status="scheduled",
            attempts=0,
            engagement={},
        )
        session.add(post)
        await session.flush()
        return str(post.id)


async def _engagement(runtime: Runtime, post_id: str, figures: dict[str, int]) -> None:
    async with runtime.db.transaction() as session:
        post = await session.get(ScheduledPost, uuid.UUID(post_id))
        assert post is not None
        post.engagement = figures


async def test_marketing_events_notify_the_client_and_fill_its_dashboard_and_reports(
    client: httpx.AsyncClient,
    runtime: Runtime,
    portal: PortalTenant,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def audit_page(fetcher: Any, url: str, keywords: Any, competitors: Any) -> Any:
        return {
            "score": 64,
            "findings": FINDINGS,
            "recommendations": [{"title": "Lengthen the title", "impact": 10, "rank": 1}],
        }

    monkeypatch.setattr(seo, "audit_page", audit_page)
    tenant_id = uuid.UUID(portal.tenant.id)
    alpha = bearer(await portal_login(client, portal, portal.alpha))
    beta = bearer(await portal_login(client, portal, portal.beta))
    # Beta's user asks for no mail.
    off = await client.put(
        "/api/v1/settings", headers=beta, json={"notifications": {"email": False}}
    )
    assert off.status_code == 200
    empty = (await client.get("/api/v1/portal/dashboard", headers=alpha)).json()
    assert (empty["seo"], empty["social"]) == (None, None)
    before = await client.get("/api/v1/portal/dashboard", headers=alpha)
    inbox.clear()

    audit_id = await _audit(runtime, tenant_id, portal.alpha.company, "https://alpha.example/")
    await _audit(runtime, tenant_id, portal.beta.company, "https://beta.example/")
    post_id = await _post(runtime, tenant_id, portal.alpha.company, "Our new site is live")
    await _post(runtime, tenant_id, portal.beta.company, "Beta news")
    assert await publish_due_posts(runtime, Published()) == 2
    await runtime.run_pending_jobs()

    listed = (await client.get("/api/v1/notifications", headers=alpha)).json()
    by_type = {n["type"]: n for n in listed["results"]}
    assert set(by_type) == {"seo_audit_completed", "social_post_published"}
    assert by_type["seo_audit_completed"]["data"] == {
        "audit_id": audit_id,
        "url": "https://alpha.example/",
        "score": 64,
    }
    assert "64 out of 100" in by_type["seo_audit_completed"]["message"]
    assert by_type["social_post_published"]["data"]["post_id"] == post_id
    assert "Our new site is live" in by_type["social_post_published"]["message"]
    filtered = await client.get(
        "/api/v1/notifications", params={"type": "social_post_published"}, headers=alpha
    )
    assert filtered.json()["count"] == 1
    # Each client hears of its own only.
    betas = (await client.get("/api/v1/notifications", headers=beta)).json()["results"]
    assert {n["data"].get("url") for n in betas if n["type"] == "seo_audit_completed"} == {
        "https://beta.example/"
    }
    # Mailed to Alpha's user (mail on by default); Beta's turned mail off.
    recipients = sorted(to for mail in inbox.mails for to in mail.recipients)
    assert recipients == [portal.alpha.login, portal.alpha.login]
    assert {mail.subject for mail in inbox.mails} == {
        "SEO audit of https://alpha.example/ finished",
        "Your linkedin post went out",
    }

    # The dashboard: the latest audit and the social figures, the client's own.
    await _engagement(runtime, post_id, {"impressions": 200, "likes": 8, "comments": 2})
    answer = await client.get("/api/v1/portal/dashboard", headers=alpha)
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    latest = figures["seo"]["latest_audit"]
    assert (latest["id"], latest["score"], latest["findings_count"]) == (audit_id, 64, 2)
    assert [f["check"] for f in latest["findings"]] == ["title", "meta_description"]
    assert figures["seo"]["audits"] == 1 and figures["seo"]["average_score"] == 64
    assert figures["social"]["posts"]["published"] == 1
    assert figures["social"]["posts"]["posts"] == 1
    assert figures["social"]["engagement"]["impressions"] == 200
    assert figures["social"]["engagement"]["engagement_rate"] == 0.05
    # Nothing synced meanwhile, yet the answer changed: Last-Modified moved with it, so an
    # If-Modified-Since of the earlier answer is no 304.
    assert parsedate_to_datetime(answer.headers["last-modified"]) > parsedate_to_datetime(
        before.headers["last-modified"]
    )
    stale = await client.get(
        "/api/v1/portal/dashboard",
        headers={**alpha, "If-Modified-Since": before.headers["last-modified"]},
    )
    assert stale.status_code == 200
    # The agency's members see every client's.
    agency = await client.get(
        "/api/v1/portal/dashboard",
        params={"tenant_id": portal.tenant.id},
        headers=portal.owner.headers,
    )
    assert agency.json()["seo"]["audits"] == 2 and agency.json()["social"]["posts"]["posts"] == 2

    # The reports, as JSON, CSV and PDF.
    seo_report = await client.get(
        "/api/v1/portal/reports", params={"type": "seo", "period": "all"}, headers=alpha
    )
    assert seo_report.status_code == 200, seo_report.text
    body = seo_report.json()
    assert [(r["url"], r["score"], r["findings"]) for r in body["rows"]] == [
        ("https://alpha.example/", 64, 2)
    ]
    assert body["rows"][0]["top_recommendation"] == "Lengthen the title"
    assert body["totals"] == {"count": 1, "average_score": 64, "findings": 2}
    social_report = await client.get(
        "/api/v1/portal/reports", params={"type": "social", "period": "month"}, headers=alpha
    )
    rows = social_report.json()["rows"]
    assert [(r["platform"], r["status"], r["impressions"], r["likes"]) for r in rows] == [
        ("linkedin", "published", 200, 8)
    ]
    assert social_report.json()["totals"]["published"] == 1
    assert social_report.json()["totals"]["engagement_rate"] == 0.05
    csv_report = await client.get(
        "/api/v1/portal/reports",
        params={"type": "social", "period": "all", "format": "csv"},
        headers=alpha,
    )
    lines = csv_report.text.splitlines()
    assert lines[0].startswith("scheduled_time,platform,status,published_at,impressions")
    assert len(lines) == 2 and ",linkedin,published," in lines[1]
    pdf_report = await client.get(
        "/api/v1/portal/reports",
        params={"type": "seo", "period": "all", "format": "pdf"},
        headers=alpha,
    )
    assert pdf_report.status_code == 200 and pdf_report.content.startswith(b"%PDF")
    # A period with nothing in it, and one that does not exist.
    year = clock.now().year
    old = await client.get(
        "/api/v1/portal/reports", params={"type": "seo", "period": str(year - 3)}, headers=alpha
    )
    assert old.json()["rows"] == [] and old.json()["totals"]["count"] == 0
    this_month = clock.now().strftime("%Y-%m")
    current = await client.get(
        "/api/v1/portal/reports", params={"type": "seo", "period": this_month}, headers=alpha
    )
    assert len(current.json()["rows"]) == 1
    bad = await client.get(
        "/api/v1/portal/reports", params={"type": "seo", "period": f"{year}-13"}, headers=alpha
    )
    assert_envelope(bad, 422, "VALIDATION_ERROR")
