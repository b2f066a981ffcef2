"""Seed 004's caching rules on every portal GET: `ETag` and `Last-Modified`, 304 to
`If-None-Match` and `If-Modified-Since`, `private, no-cache` on user data; the security
headers stay on every answer, a 304 too."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.portal import PortalTenant, bearer, portal_login

pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def _security_headers_kept(answer: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, (name, answer.status_code)
    assert answer.headers["content-security-policy"]
    assert answer.headers["x-request-id"]


async def _revalidates(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: str
) -> httpx.Response:
    """GET ``url``: private, tagged and dated; 304 to either validator."""
    first = await client.get(url, params=params, headers=headers)
    assert first.status_code == 200, (url, first.text)
    assert first.headers["cache-control"] == "private, no-cache", url
    assert first.headers["etag"].startswith('"'), url
    assert parsedate_to_datetime(first.headers["last-modified"]), url
    by_tag = await client.get(
        url, params=params, headers={**headers, "If-None-Match": first.headers["etag"]}
    )
    assert by_tag.status_code == 304 and by_tag.content == b"", url
    assert by_tag.headers["etag"] == first.headers["etag"]
    assert by_tag.headers["cache-control"] == "private, no-cache"
    _security_headers_kept(by_tag)
    by_date = await client.get(
        url,
        params=params,
        headers={**headers, "If-Modified-Since": first.headers["last-modified"]},
    )
    assert by_date.status_code == 304, url
    return first


async def test_every_portal_get_is_tagged_dated_and_revalidated(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    owner = portal.owner.headers
    member = {"tenant_id": portal.tenant.id}
    alpha = bearer(await portal_login(client, portal, portal.alpha))

    # The agency's views: the sync's state and the portal's.
    sync = await _revalidates(client, "/api/v1/odoo/sync", owner, **member)
    assert sync.json()["status"] == "ok"
    await _revalidates(client, f"/api/v1/tenants/{portal.tenant.id}/portal", owner)
    # A sync that changed nothing still ran: the state's date and tag move.
    await client.post("/api/v1/odoo/sync", params=member, headers=owner)
    await runtime.run_pending_jobs()
    after = await client.get(
        "/api/v1/odoo/sync",
        params=member,
        headers={**owner, "If-None-Match": sync.headers["etag"]},
    )
    assert after.status_code == 200
    assert parsedate_to_datetime(after.headers["last-modified"]) >= parsedate_to_datetime(
        sync.headers["last-modified"]
    )

    # The client's: notifications (none yet), settings never saved, the dashboard, a JSON
    # report (made anew each time, the same data: a 304 still).
    await _revalidates(client, "/api/v1/notifications", alpha)
    await _revalidates(client, "/api/v1/settings", alpha)
    dashboard = await _revalidates(client, "/api/v1/portal/dashboard", alpha)
    _security_headers_kept(dashboard)
    for kind in ("projects", "invoices"):
        await _revalidates(
            client, "/api/v1/portal/reports", alpha, type=kind, period="all", format="json"
        )

    # A notification changes the list's date: the earlier one no longer validates it.
    notifications = await client.get("/api/v1/notifications", headers=alpha)
    portal.call(
        "project.task", "write", [portal.alpha.tasks[0]], {"stage_id": portal.stages["Review"]}
    )
    await client.post("/api/v1/odoo/sync", params=member, headers=owner)
    await runtime.run_pending_jobs()
    changed = await client.get(
        "/api/v1/notifications",
        headers={**alpha, "If-Modified-Since": notifications.headers["last-modified"]},
    )
    assert changed.status_code == 200 and changed.json()["count"] == 1
    assert parsedate_to_datetime(changed.headers["last-modified"]) > parsedate_to_datetime(
        notifications.headers["last-modified"]
    )

    # A file's download: its content's digest, without asking Odoo when the copy is current.
    uploaded = await client.post(
        "/api/v1/files/upload", headers=alpha, files={"file": ("brief.pdf", PDF, "application/pdf")}
    )
    assert uploaded.status_code == 201, uploaded.text
    download = f"/api/v1/files/{uploaded.json()['id']}/download"
    got = await client.get(download, headers=alpha)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["cache-control"] == "private, no-cache"
    assert got.headers["etag"] and got.headers["last-modified"]
    portal.tenant.odoo.stop()
    try:
        current = await client.get(
            download, headers={**alpha, "If-None-Match": got.headers["etag"]}
        )
        assert current.status_code == 304
        _security_headers_kept(current)
    finally:
        portal.tenant.odoo.start()


async def test_the_public_blog_keeps_the_security_headers(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    posts = await client.get("/api/v1/blog/posts", params={"tenant": portal.subdomain})
    assert posts.status_code == 200
    assert posts.headers["cache-control"] == "public, max-age=3600"
    _security_headers_kept(posts)
    again = await client.get(
        "/api/v1/blog/posts",
        params={"tenant": portal.subdomain},
        headers={"If-None-Match": posts.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.headers["cache-control"] == "public, max-age=3600"
    _security_headers_kept(again)
