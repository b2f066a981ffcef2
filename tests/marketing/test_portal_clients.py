"""Portal clients read their own marketing reports, read-only: a client's token sees its
audits, posts, analytics and recommendations and never another client's; the tenant's
members keep every client's, and the write routes refuse portal tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.marketing.models import ScheduledPost, SeoAudit
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.portal import PortalTenant, bearer, make_portal, portal_login

pytestmark = pytest.mark.once

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"0" * 64


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"marketing_allow_private": True}


async def _seed(runtime: Runtime, tenant_id: uuid.UUID, client_id: int, url: str) -> str:
    """A completed audit and a published post with figures for one client."""
    async with runtime.db.sessionmaker() as session:
        finding = {"check": "title", "severity": "error", "message": f"Fix the title of {url}"}
        audit = SeoAudit(
            tenant_id=tenant_id,
            client_id=client_id,
            url=url,
            keywords=[],
            competitors=[],
            status="completed",
            score=70,
            findings=[finding],
            recommendations=[
                {"title": f"Fix the title of {url}", "impact": 10, "method": "rules", "rank": 1}
            ],
            report={"score": 70},
        )
        now = clock.now()
        post = ScheduledPost(
            tenant_id=tenant_id,
            client_id=client_id,
            platform="linkedin",
            content=f"News from {url}",
            media=[],
            target_audience={},
            scheduled_time=now - timedelta(hours=1),
            next_attempt_at=now - timedelta(hours=1),
            provider="webhook",
            status="published",
            published_at=now,
            engagement={"impressions": 100 * client_id, "likes": client_id},
        )
        session.add_all([audit, post])
        await session.commit()
        return str(audit.id)


async def test_a_portal_client_reads_its_own_marketing_reports_only(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    portal: PortalTenant = await make_portal(client, runtime, owner, admin, odoo)
    tenant_id = uuid.UUID(portal.tenant.id)
    alpha, beta = portal.alpha.company, portal.beta.company
    alpha_audit = await _seed(runtime, tenant_id, alpha, "https://alpha.example/")
    beta_audit = await _seed(runtime, tenant_id, beta, "https://beta.example/")
    as_alpha = bearer(await portal_login(client, portal, portal.alpha))

    seo = await client.get("/api/v1/analytics/seo", headers=as_alpha)
    assert seo.status_code == 200, seo.text
    assert [u["url"] for u in seo.json()["urls"]] == ["https://alpha.example/"]
    audits = await client.get("/api/v1/analytics/seo/audit", headers=as_alpha)
    assert audits.status_code == 200, audits.text
    assert [a["id"] for a in audits.json()["results"]] == [alpha_audit]
    mine = await client.get(f"/api/v1/analytics/seo/audit/{alpha_audit}", headers=as_alpha)
    assert mine.status_code == 200 and mine.json()["client_id"] == alpha
    theirs = await client.get(f"/api/v1/analytics/seo/audit/{beta_audit}", headers=as_alpha)
    assert_envelope(theirs, 404, "SEO_AUDIT_NOT_FOUND")
    for path in ("/api/v1/social/analytics", "/api/v1/analytics/social"):
        social = await client.get(path, headers=as_alpha)
        assert social.status_code == 200, social.text
        [platform] = social.json()["platforms"]
        assert (platform["published"], platform["impressions"]) == (1, 100 * alpha)
    posts = await client.get("/api/v1/social/schedule", headers=as_alpha)
    assert [p["client_id"] for p in posts.json()["results"]] == [alpha]
    recs = await client.get("/api/v1/ai/recommendations", headers=as_alpha)
    assert recs.status_code == 200, recs.text
    urls = {r["evidence"].get("url") for r in recs.json()["results"] if r["category"] == "seo"}
    assert urls == {"https://alpha.example/"}
    assert recs.json()["client_id"] == alpha

    # Naming another client, or another tenant, gets nothing.
    other = await client.get("/api/v1/analytics/seo", params={"client_id": beta}, headers=as_alpha)
    assert_envelope(other, 403, "FORBIDDEN")
    elsewhere = await client.get(
        "/api/v1/ai/recommendations", params={"tenant_id": str(uuid.uuid4())}, headers=as_alpha
    )
    assert elsewhere.status_code == 404
    # Read-only: the write routes take no portal token.
    write = await client.post(
        "/api/v1/analytics/seo/audit", headers=as_alpha, json={"url": "https://alpha.example/"}
    )
    assert_envelope(write, 401, "UNAUTHORIZED")
    cancel = await client.delete(
        f"/api/v1/social/schedule/{posts.json()['results'][0]['id']}", headers=as_alpha
    )
    assert cancel.status_code == 401

    # The tenant's members keep every client's figures.
    everyone = await client.get(
        "/api/v1/analytics/seo", params={"tenant_id": portal.tenant.id}, headers=owner.headers
    )
    assert {u["url"] for u in everyone.json()["urls"]} == {
        "https://alpha.example/",
        "https://beta.example/",
    }
    one = await client.get(f"/api/v1/analytics/seo/audit/{beta_audit}", headers=owner.headers)
    assert one.status_code == 200

    # Media from the files API: the file's type is what its content says, not its name.
    async def upload(who: dict[str, str], name: str, content: bytes) -> str:
        response = await client.post(
            "/api/v1/files/upload", headers=who, files={"file": (name, content, "image/jpeg")}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    picture = await upload(as_alpha, "picture.jpg", PNG)
    brochure = await upload(as_alpha, "brochure.png", PDF)
    as_beta = bearer(await portal_login(client, portal, portal.beta))
    betas = await upload(as_beta, "beta.png", PNG)
    provider = await client.put(
        "/api/v1/social/providers/webhook",
        headers=owner.headers,
        json={"url": "http://127.0.0.1:9/publish", "tenant_id": portal.tenant.id},
    )
    assert provider.status_code == 201, provider.text
    when = (clock.now() + timedelta(hours=2)).isoformat()

    async def schedule(platform: str, media: list[dict[str, str]]) -> httpx.Response:
        return await client.post(
            "/api/v1/social/schedule",
            headers=owner.headers,
            json={
                "platform": platform,
                "content": "Our new office",
                "media": media,
                "scheduled_time": when,
                "tenant_id": portal.tenant.id,
                "client_id": alpha,
            },
        )

    posted = await schedule("instagram", [{"file_id": picture}])
    assert posted.status_code == 201, posted.text
    [item] = posted.json()["media"]
    assert (item["file_id"], item["mime_type"], item["size"]) == (picture, "image/png", len(PNG))
    assert item["url"].endswith(f"/api/v1/files/{picture}/download?tenant_id={tenant_id}")
    # What the publishing tool fetches: the file itself, with a member's credentials.
    path = "/api/v1" + item["url"].split("/api/v1", 1)[1]
    fetched = await client.get(path, headers=owner.headers)
    assert fetched.status_code == 200, fetched.text
    assert fetched.content == PNG
    # A PDF named .png is a PDF: Instagram takes no documents.
    refused = await schedule("instagram", [{"file_id": brochure}])
    assert_envelope(refused, 422, "VALIDATION_ERROR")
    assert "media.0.file_id" in refused.json()["error"]["details"]
    assert (await schedule("linkedin", [{"file_id": brochure}])).status_code == 201
    # Another client's file, an unknown one, or both forms at once: refused.
    assert_envelope(await schedule("instagram", [{"file_id": betas}]), 404, "FILE_NOT_FOUND")
    unknown = await schedule("instagram", [{"file_id": str(uuid.uuid4())}])
    assert_envelope(unknown, 404, "FILE_NOT_FOUND")
    both = await schedule(
        "instagram", [{"file_id": picture, "url": "https://x.test/a.png", "mime_type": "image/png"}]
    )
    assert_envelope(both, 422, "VALIDATION_ERROR")
