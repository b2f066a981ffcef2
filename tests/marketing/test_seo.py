"""SEO audits of sites served on loopback: every defect planted in a poor page is found, the
good page has none, robots.txt is honoured, and the recommendation from comparing with a
competitor names the subject only the competitor covers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from saas_server.marketing.service import run_audit
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.sites import html, site
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"marketing_allow_private": True}


GOOD = html("""<!doctype html>
<html lang="en"><head>
<title>Solar Panel Installation for Homes | Sunny Roofs</title>
<meta name="description" content="Solar panel installation for homes: free roof survey,
 25-year warranty and financing. Sunny Roofs installs in two days.">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="canonical" href="{base}/">
<meta property="og:title" content="Solar panel installation">
<meta property="og:description" content="Free roof survey and 25-year warranty">
<script type="application/ld+json">{"@context": "https://schema.org",
 "@type": "LocalBusiness", "name": "Sunny Roofs"}</script>
</head><body>
<h1>Solar panel installation</h1>
<p>We handle solar panel installation from the roof survey to the grid connection.
Every solar panel comes with a 25-year warranty, and our installers are certified.</p>
<h2>How it works</h2><p>A survey, a quote, two days of installation.</p>
<h3>Financing</h3><p>Pay monthly with our financing plans.</p>
<img src="/roof.jpg" alt="A roof with solar panels">
<a href="/about">About us</a> <a href="/contact">Contact</a>
</body></html>""")

POOR = html("""<html><head>
<title>Home</title>
<meta name="robots" content="noindex, nofollow">
<script type="application/ld+json">{"@type": "Organization", </script>
</head><body>
<h1>Welcome</h1><h1>Our company</h1>
<h3>News</h3>
<p>We are a company. We do things for customers.</p>
<img src="/logo.png"><img src="/team.jpg" alt="">
<a href="/gone">Old page</a> <a href="/about">About</a>
</body></html>""")

COMPETITOR = html("""<!doctype html>
<html lang="en"><head><title>Solar panel installation and battery storage</title></head><body>
<h1>Solar panel installation</h1>
<p>Solar panel installation with home battery storage. A home battery storage system keeps
the energy of your solar panel for the evening; battery storage cuts the bill further.
Ask us about battery storage sizing and battery storage subsidies.</p>
</body></html>""")


def _email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def _subdomain() -> str:
    return f"seo{uuid.uuid4().hex[:10]}"


ROBOTS = (200, "text/plain", b"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n")
SITEMAP = (200, "application/xml", b"<urlset><url><loc>{base}/</loc></url></urlset>")
OK = html("<html><body>ok</body></html>")


async def _audit(
    client: httpx.AsyncClient, runtime: Runtime, user: LoggedIn, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/api/v1/analytics/seo/audit", headers=user.headers, json=body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    await run_audit(runtime, uuid.UUID(response.json()["id"]))
    done = await client.get(
        f"/api/v1/analytics/seo/audit/{response.json()['id']}", headers=user.headers
    )
    assert done.status_code == 200
    return done.json()


async def test_good_page_has_no_finding_and_poor_page_every_planted_one(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    user = await verified_user(client, runtime, inbox, _email())
    tenant = await create_tenant(client, user, _subdomain())
    good_pages = {
        "/": GOOD,
        "/about": OK,
        "/contact": OK,
        "/robots.txt": ROBOTS,
        "/sitemap.xml": SITEMAP,
    }
    poor_pages = {"/": POOR, "/about": OK}
    with site(good_pages) as good_url, site(poor_pages) as poor_url:
        good = await _audit(
            client,
            runtime,
            user,
            {"url": f"{good_url}/", "keywords": ["solar panel"], "tenant_id": tenant["id"]},
        )
        poor = await _audit(
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
    user = await verified_user(client, runtime, inbox, _email())
    await create_tenant(client, user, _subdomain())
    with site({"/": GOOD, "/about": OK, "/contact": OK}) as mine, site({"/": COMPETITOR}) as theirs:
        report = await _audit(
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
    assert {"rules", "competitor-comparison", "tfidf-topic-gap"} <= methods
    topics = [r for r in report["recommendations"] if r["method"] == "tfidf-topic-gap"]
    assert "battery storage" in topics[0]["evidence"]["term"]
    comparison = [r for r in report["recommendations"] if r["method"] == "competitor-comparison"]
    assert all("battery storage" in r["title"] for r in comparison)
    assert report["report"]["competitors"][0]["keyword_coverage"][1]["in_title"] is True


async def test_robots_txt_and_the_ssrf_guard_are_honoured(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, settings_overrides: dict[str, Any]
) -> None:
    user = await verified_user(client, runtime, inbox, _email())
    await create_tenant(client, user, _subdomain())
    pages = {"/": GOOD, "/robots.txt": (200, "text/plain", b"User-agent: *\nDisallow: /\n")}
    with site(pages) as url:
        refused = await _audit(client, runtime, user, {"url": f"{url}/"})
    assert refused["status"] == "failed"
    assert "robots.txt" in refused["error"]

    runtime.settings.marketing_allow_private = False
    with site({"/": GOOD}) as url:
        guarded = await _audit(client, runtime, user, {"url": f"{url}/"})
    assert guarded["status"] == "failed"
    assert "loopback" in guarded["error"]


async def test_who_may_audit_and_bad_input(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    owner = await verified_user(client, runtime, inbox, _email())
    tenant = await create_tenant(client, owner, _subdomain())
    stranger = await verified_user(client, runtime, inbox, _email())
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
    user = await verified_user(client, runtime, inbox, _email())
    tenant = await create_tenant(client, user, _subdomain())
    with site({"/": POOR, "/about": OK}) as url:
        first = await _audit(client, runtime, user, {"url": f"{url}/", "client_id": 3})
    with site(
        {"/": GOOD, "/about": OK, "/contact": OK, "/robots.txt": ROBOTS, "/sitemap.xml": SITEMAP}
    ) as url2:
        second = await _audit(client, runtime, user, {"url": f"{url2}/", "client_id": 3})
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
