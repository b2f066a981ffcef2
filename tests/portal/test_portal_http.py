"""Seed 004's HTTP rules on the portal: Odoo reads not served from the copy are cached for
5 minutes and dropped by the tenant's Odoo webhook; an Odoo that is down is a 502
ODOO_UNAVAILABLE with Odoo's error; rate limits per portal user and per anonymous address;
notifications are mailed."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.errors import assert_envelope
from tests.fixtures.portal import PortalTenant, bearer, portal_login, post_odoo_webhook
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "portal_rate_limit_anonymous": "3/minute",
        "portal_rate_limit_user": "12/minute",
        "portal_upload_max_bytes": 3 * 1024 * 1024,
    }


async def test_odoo_reads_are_cached_until_the_webhook_and_odoo_down_is_502(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    headers = bearer(await portal_login(client, portal, portal.alpha))
    [project] = (await client.get("/api/v1/projects", headers=headers)).json()["results"]
    url = f"/api/v1/projects/{project['id']}"
    assert (await client.get(url, headers=headers)).json()["files"] == []

    # The agency attaches a file in Odoo: the cached read does not see it yet...
    portal.call(
        "ir.attachment",
        "create",
        {
            "name": "plan.txt",
            "datas": base64.b64encode(b"the plan").decode(),
            "res_model": "project.project",
            "res_id": portal.alpha.projects[0],
        },
    )
    assert (await client.get(url, headers=headers)).json()["files"] == []
    # ... until Odoo's webhook says something changed.
    await post_odoo_webhook(
        client, runtime, portal, {"model": "ir.attachment", "event": "create", "record_id": 1}
    )
    await runtime.run_pending_jobs()
    assert [f["name"] for f in (await client.get(url, headers=headers)).json()["files"]] == [
        "plan.txt"
    ]

    # Odoo goes down: what comes from the copy still answers, the rest is a 502.
    portal.tenant.odoo.stop()
    listed = await client.get("/api/v1/projects", headers=headers)
    assert listed.status_code == 200 and listed.json()["count"] == 1
    sync = await client.post(
        "/api/v1/odoo/sync", params={"tenant_id": portal.tenant.id}, headers=portal.owner.headers
    )
    assert sync.status_code == 202
    await runtime.run_pending_jobs()
    down = await client.get(url, headers=headers)
    assert_envelope(down, 502, "ODOO_UNAVAILABLE")
    assert down.json()["error"]["details"]["odoo_error"]["name"]
    login = await client.post(
        "/api/v1/auth/login",
        json={"tenant": portal.subdomain, "email": portal.alpha.login, "password": "x"},
    )
    assert_envelope(login, 502, "ODOO_UNAVAILABLE")
    status = await client.get(
        "/api/v1/odoo/sync", params={"tenant_id": portal.tenant.id}, headers=portal.owner.headers
    )
    body = status.json()
    assert body["status"] == "failed" and body["errors"]["project.project"]
    # The copy's age is shown: the last success stays the earlier run's.
    projects_state = next(m for m in body["models"] if m["model"] == "project.project")
    assert projects_state["count"] == 2 and projects_state["age_seconds"] is not None


async def test_rate_limits_per_portal_user_and_per_anonymous_address(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    for number in range(3):
        ok = await client.get("/api/v1/blog/posts", params={"tenant": portal.subdomain})
        assert ok.status_code == 200, ok.text
        # The headers describe the portal's anonymous budget, not the API's general one.
        assert ok.headers["x-ratelimit-limit"] == "3"
        assert ok.headers["x-ratelimit-remaining"] == str(2 - number)
    limited = await client.get("/api/v1/blog/posts", params={"tenant": portal.subdomain})
    assert_envelope(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert int(limited.headers["retry-after"]) > 0

    headers = bearer(await portal_login(client, portal, portal.beta))
    for number in range(12):
        answer = await client.get("/api/v1/settings", headers=headers)
        assert answer.status_code == 200
        # A portal session's own budget, not the anonymous one of its address.
        assert answer.headers["x-ratelimit-limit"] == "12"
        assert answer.headers["x-ratelimit-remaining"] == str(11 - number)
    assert_envelope(
        await client.get("/api/v1/settings", headers=headers), 429, "RATE_LIMIT_EXCEEDED"
    )
    # Another portal user has a budget of their own.
    other = bearer(await portal_login(client, portal, portal.alpha))
    assert (await client.get("/api/v1/settings", headers=other)).status_code == 200

    # The agency's members: the portal's budget per user, not their plan's.
    member = {"tenant_id": portal.tenant.id}
    # (Turning the portal on, the owner called POST /odoo/sync once already.)
    remaining = []
    for _ in range(11):
        answer = await client.get("/api/v1/projects", params=member, headers=portal.owner.headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-ratelimit-limit"] == "12"
        remaining.append(int(answer.headers["x-ratelimit-remaining"]))
    assert remaining == list(range(10, -1, -1))
    refused = await client.get("/api/v1/projects", params=member, headers=portal.owner.headers)
    assert_envelope(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert refused.headers["x-ratelimit-limit"] == "12"
    # ... while the rest of the API still counts their plan's.
    elsewhere = await client.get("/api/v1/auth/me", headers=portal.owner.headers)
    assert elsewhere.status_code == 200
    assert int(elsewhere.headers["x-ratelimit-limit"]) > 12


async def test_notifications_are_mailed_unless_the_client_turned_mail_off(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant, inbox: Inbox
) -> None:
    await portal_login(client, portal, portal.alpha)
    beta = bearer(await portal_login(client, portal, portal.beta))
    off = await client.put(
        "/api/v1/settings", headers=beta, json={"notifications": {"email": False}}
    )
    assert off.status_code == 200
    portal.call(
        "project.task", "write", [portal.alpha.tasks[0]], {"stage_id": portal.stages["Review"]}
    )
    portal.call(
        "project.task", "write", [portal.beta.tasks[0]], {"stage_id": portal.stages["Review"]}
    )
    inbox.clear()
    await client.post(
        "/api/v1/odoo/sync", params={"tenant_id": portal.tenant.id}, headers=portal.owner.headers
    )
    await runtime.run_pending_jobs()
    await runtime.run_pending_jobs()
    recipients = [to for mail in inbox.mails for to in mail.recipients]
    assert recipients == [portal.alpha.login]
    assert "moved to Review" in inbox.mails[0].subject


async def test_uploads_have_their_own_size_limit(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    """Above the API's general 1 MB body limit, up to the upload limit (3 MB here)."""
    headers = bearer(await portal_login(client, portal, portal.alpha))
    big = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)
    uploaded = await client.post(
        "/api/v1/files/upload", headers=headers, files={"file": ("big.pdf", big, "application/pdf")}
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["size"] == len(big)
    [attachment] = portal.call(
        "ir.attachment",
        "search_read",
        [("res_model", "=", "res.partner"), ("res_id", "=", portal.alpha.company)],
        fields=["file_size"],
    )
    assert attachment["file_size"] == len(big)
    too_big = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024)
    refused = await client.post(
        "/api/v1/files/upload",
        headers=headers,
        files={"file": ("huge.pdf", too_big, "application/pdf")},
    )
    assert_envelope(refused, 413, "PAYLOAD_TOO_LARGE")
