"""SEO audits of sites served on loopback: every defect planted in a poor page is found, the
good page has none, robots.txt is honoured, and the recommendation from comparing with a
competitor names the subject only the competitor covers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.seo_sites import (
    COMPETITOR,
    GOOD,
    OK,
    POOR,
    ROBOTS,
    SITEMAP,
    audit,
    email,
    subdomain,
)
from tests.fixtures.sites import site
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant

# Plain SQL and loopback servers: the same on either database backend.
pytestmark = pytest.mark.once


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"marketing_allow_private": True}


async def test_good_page_has_no_finding_and_poor_page_every_planted_one(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    user = await verified_user(client, runtime, inbox, email())
    tenant = await create_tenant(client, user, subdomain())
    good_pages = {
        "/": GOOD,
        "/about": OK,
        "/contact": OK,
        "/robots.txt": ROBOTS,
        "/sitemap.xml": SITEMAP,
    }
    poor_pages = {"/": POOR, "/about": OK}
    with site(good_pages) as good_url, site(poor_pages) as poor_url:
        good = await audit(
            client,
            runtime,
            user,
            {"url": f"{good_url}/", "keywords": ["solar panel"], "tenant_id": tenant["id"]},
        )
        poor = await audit(
            client,
            runtime,
            user,
            {"url": f"{poor_url}/", "keywords": ["solar panel"], "tenant_id": tenant["id"]},
        )
    assert good["status"] == "completed", good["error"]
    assert good["findings"] == [], good["findings"]
    assert good["score"] == 100

    assert poor["status"] == "completed", poor["error"]
    found = {f["check"]: f for f in poor["findings"]}
    planted = {
        "robots_meta",
        "title_length",
        "meta_description",
        "h1",
        "heading_order",
        "image_alt",
        "broken_links",
        "canonical",
        "viewport",
        "lang",
        "structured_data",
        "open_graph",
        "sitemap",
        "keywords",
    }
    assert set(found) == planted
    assert found["broken_links"]["evidence"]["broken"] == [
        {"url": f"{poor_url}/gone", "status": 404}
    ]
    assert len(found["image_alt"]["evidence"]["without_alt"]) == 2
    assert found["h1"]["evidence"]["h1"] == ["Welcome", "Our company"]
    assert "invalid JSON-LD" in found["structured_data"]["message"]
    assert poor["score"] < 40
    ranks = [r["rank"] for r in poor["recommendations"]]
    impacts = [r["impact"] for r in poor["recommendations"]]
    assert ranks == list(range(1, len(ranks) + 1)) and impacts == sorted(impacts, reverse=True)
    assert poor["recommendations"][0]["check"] == "robots_meta"
    assert {r["method"] for r in poor["recommendations"]} == {"rules"}


async def test_the_competitor_comparison_names_what_only_the_competitor_covers(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    user = await verified_user(client, runtime, inbox, email())
    await create_tenant(client, user, subdomain())
    with site({"/": GOOD, "/about": OK, "/contact": OK}) as mine, site({"/": COMPETITOR}) as theirs:
        report = await audit(
            client,
            runtime,
            user,
            {
                "url": f"{mine}/",
                "keywords": ["solar panel", "battery storage"],
                "competitors": [f"{theirs}/"],
            },
        )
    assert report["status"] == "completed", report["error"]
    methods = {r["method"] for r in report["recommendations"]}
    assert {"rules", "competitor-comparison", "embedding-topic-gap"} <= methods
    topics = [r for r in report["recommendations"] if r["method"] == "embedding-topic-gap"]
    assert [t["evidence"]["term"] for t in topics] == ["battery storage"]
    assert topics[0]["evidence"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    comparison = [r for r in report["recommendations"] if r["method"] == "competitor-comparison"]
    assert all("battery storage" in r["title"] for r in comparison)
    assert report["report"]["competitors"][0]["keyword_coverage"][1]["in_title"] is True


async def test_robots_txt_and_the_ssrf_guard_are_honoured(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, settings_overrides: dict[str, Any]
) -> None:
    user = await verified_user(client, runtime, inbox, email())
    await create_tenant(client, user, subdomain())
    pages = {"/": GOOD, "/robots.txt": (200, "text/plain", b"User-agent: *\nDisallow: /\n")}
    with site(pages) as url:
        refused = await audit(client, runtime, user, {"url": f"{url}/"})
    assert refused["status"] == "failed"
    assert "robots.txt" in refused["error"]

    runtime.settings.marketing_allow_private = False
    with site({"/": GOOD}) as url:
        guarded = await audit(client, runtime, user, {"url": f"{url}/"})
    assert guarded["status"] == "failed"
    assert "loopback" in guarded["error"]


async def test_who_may_audit_and_bad_input(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    owner = await verified_user(client, runtime, inbox, email())
    tenant = await create_tenant(client, owner, subdomain())
    stranger = await verified_user(client, runtime, inbox, email())
    other = await client.post(
        "/api/v1/analytics/seo/audit",
        headers=stranger.headers,
        json={"url": "https://example.com/", "tenant_id": tenant["id"]},
    )
    assert_envelope(other, 404, "TENANT_NOT_FOUND")
    none = await client.post(
        "/api/v1/analytics/seo/audit",
        headers=stranger.headers,
        json={"url": "https://example.com/"},
    )
    assert_envelope(none, 422, "VALIDATION_ERROR")
    for body in (
        {"url": "ftp://example.com/"},
        {"url": "https://example.com/", "competitors": ["not a url"]},
        {"url": "https://example.com/", "keywords": ["k"] * 21},
        {"url": "https://example.com/", "client_id": 0},
    ):
        response = await client.post(
            "/api/v1/analytics/seo/audit", headers=owner.headers, json=body
        )
        assert_envelope(response, 422, "VALIDATION_ERROR")
    created = await client.post(
        "/api/v1/analytics/seo/audit",
        headers=owner.headers,
        json={"url": "https://example.com/", "client_id": 7},
    )
    assert created.status_code == 202
    hidden = await client.get(
        f"/api/v1/analytics/seo/audit/{created.json()['id']}", headers=stranger.headers
    )
    assert_envelope(hidden, 404, "SEO_AUDIT_NOT_FOUND")
    listed = await client.get(
        "/api/v1/analytics/seo/audit", headers=owner.headers, params={"client_id": 7}
    )
    assert [a["id"] for a in listed.json()["results"]] == [created.json()["id"]]
    assert (await client.get("/api/v1/analytics/seo/audit", headers=stranger.headers)).json()[
        "count"
    ] == 0


async def test_analytics_over_time(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    user = await verified_user(client, runtime, inbox, email())
    tenant = await create_tenant(client, user, subdomain())
    with site({"/": POOR, "/about": OK}) as url:
        first = await audit(client, runtime, user, {"url": f"{url}/", "client_id": 3})
    with site(
        {"/": GOOD, "/about": OK, "/contact": OK, "/robots.txt": ROBOTS, "/sitemap.xml": SITEMAP}
    ) as url2:
        second = await audit(client, runtime, user, {"url": f"{url2}/", "client_id": 3})
    response = await client.get(
        "/api/v1/analytics/seo",
        headers=user.headers,
        params={"tenant_id": tenant["id"], "client_id": 3, "start_date": "2000-01-01"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["audits"] == 2
    scores = {u["url"]: u["latest_score"] for u in body["urls"]}
    assert scores == {first["url"]: first["score"], second["url"]: second["score"]}
    assert body["average_score"] == round((first["score"] + second["score"]) / 2, 1)
    empty = await client.get(
        "/api/v1/analytics/seo", headers=user.headers, params={"end_date": "2000-01-01"}
    )
    assert empty.json()["audits"] == 0
    backwards = await client.get(
        "/api/v1/analytics/seo",
        headers=user.headers,
        params={"start_date": "2026-02-01", "end_date": "2026-01-01"},
    )
    assert_envelope(backwards, 422, "VALIDATION_ERROR")
