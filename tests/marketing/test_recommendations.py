"""GET /api/v1/ai/recommendations: ranked, each with its evidence and the rule that made it,
from a client's audits and social posts; another agency's data never shows."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from saas_server.core import clock as clock_module
from saas_server.core.runtime import Runtime
from saas_server.marketing.social import publish_due_posts
from tests.fixtures.auth import login, verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.seo_sites import OK, POOR, audit
from tests.fixtures.sites import site
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant
from tests.fixtures.webhook_receiver import running_receiver

# Plain SQL and loopback servers: the same on either database backend.
pytestmark = pytest.mark.once


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"marketing_allow_private": True}


async def test_recommendations_rank_audit_findings_and_social_outcomes(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, clock: clock_module.FrozenClock
) -> None:
    user = await verified_user(client, runtime, inbox, f"u{uuid.uuid4().hex[:8]}@example.com")
    tenant = await create_tenant(client, user, f"rec{uuid.uuid4().hex[:10]}")
    with site({"/": POOR, "/about": OK}) as url:
        await audit(client, runtime, user, {"url": f"{url}/", "client_id": 9})
    with running_receiver(default_status=410) as receiver:
        await client.put(
            "/api/v1/social/providers/webhook",
            headers=user.headers,
            json={"url": f"{receiver.url}/publish"},
        )
        for platform in ("x", "linkedin"):
            created = await client.post(
                "/api/v1/social/schedule",
                headers=user.headers,
                json={
                    "platform": platform,
                    "content": "hello",
                    "client_id": 9,
                    "scheduled_time": (clock_module.now() + timedelta(minutes=1)).isoformat(),
                },
            )
            assert created.status_code == 201, created.text
        clock.advance(minutes=2)
        for _ in range(6):  # a 410 is retried until the attempts run out
            await publish_due_posts(runtime)
            clock.advance(hours=2)
    user = await login(client, user.email)
    response = await client.get(
        "/api/v1/ai/recommendations",
        headers=user.headers,
        params={"client_id": 9, "tenant_id": tenant["id"]},
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    impacts = [r["impact"] for r in results]
    assert impacts == sorted(impacts, reverse=True)
    methods = {r["method"] for r in results}
    assert "seo-audit:rules" in methods and "social-failures" in methods
    assert all(r["evidence"] for r in results)
    assert results[0]["title"].startswith("Remove `noindex`")
    # The tenant has no client portal: no project recommendations, and the answer says why.
    [note] = response.json()["sources"]["projects"]["tenants"]
    assert (note["status"], note["reason"]) == ("unavailable", "The client portal is not enabled")
    assert not [r for r in results if r["category"] == "projects"]

    only_social = await client.get(
        "/api/v1/ai/recommendations",
        headers=user.headers,
        params={"client_id": 9, "category": "social"},
    )
    assert {r["category"] for r in only_social.json()["results"]} == {"social"}
    assert_envelope(
        await client.get(
            "/api/v1/ai/recommendations", headers=user.headers, params={"category": "weather"}
        ),
        422,
        "VALIDATION_ERROR",
    )
    stranger = await verified_user(client, runtime, inbox, f"s{uuid.uuid4().hex[:8]}@example.com")
    theirs = await client.get(
        "/api/v1/ai/recommendations", headers=stranger.headers, params={"client_id": 9}
    )
    assert {r["method"] for r in theirs.json()["results"]} == {"social-activity"}
