"""The dashboard's pages in-process: sessions, CSRF, the mailed links, errors next to fields.

The journeys in a real browser against a real server are in test_browser.py."""

from __future__ import annotations

import hashlib
import re

import httpx

from saas_server.core.runtime import Runtime
from saas_server.dashboard.web import static_url
from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.dashboard import CSRF, csrf_of, dashboard_login
from tests.fixtures.smtp import Inbox


async def test_landing_sends_a_stranger_to_login_with_the_page_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    page = await client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    # The CSRF cookie is for the server only.
    assert "httponly" in page.headers["set-cookie"].lower()
    live = f'<script type="module" src="{static_url("live.js")}">'
    assert live in page.text
    assert "<script" not in page.text.replace(live, "")


async def test_the_mailed_links_land_on_pages(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    for path in (
        "/verify-email?token=nope",
        "/reset-password?token=x",
        "/accept-invitation?token=y",
    ):
        response = await client.get(path)
        assert response.headers["content-type"].startswith("text/html"), path
        assert response.status_code in (200, 400), (path, response.status_code)
    # Sign up through the form, then open the link from the mail.
    token = await csrf_of(client, "/signup")
    response = await client.post(
        "/signup",
        data={
            "csrf_token": token,
            "full_name": "Ada",
            "email": "ada@example.com",
            "password": DEFAULT_PASSWORD,
            "password_confirm": DEFAULT_PASSWORD,
        },
    )
    assert response.status_code == 200, response.text
    assert "Check your mailbox" in response.text
    await runtime.run_pending_jobs()
    mail = await inbox.wait_for("ada@example.com")
    link = re.search(r"http://testserver(/verify-email\?token=[\w\-.~%]+)", mail.text)
    assert link, mail.text
    verified = await client.get(link.group(1))
    assert verified.status_code == 200
    assert "Email address verified" in verified.text


async def test_a_form_without_its_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/login")  # the browser has a CSRF cookie
    response = await client.post(
        "/login", data={"email": "a@example.com", "password": "x", "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "came from another site" in response.text


async def test_api_errors_show_next_to_their_field(client: httpx.AsyncClient) -> None:
    token = await csrf_of(client, "/signup")
    response = await client.post(
        "/signup",
        data={
            "csrf_token": token,
            "full_name": "Bob",
            "email": "not-an-address",
            "password": DEFAULT_PASSWORD,
            "password_confirm": DEFAULT_PASSWORD,
        },
    )
    assert response.status_code == 422
    assert re.search(r'id="e-email"[^>]*>[^<]*email', response.text, re.I), response.text


async def test_login_keeps_the_tokens_in_an_encrypted_httponly_cookie(
    client: httpx.AsyncClient, owner: object
) -> None:
    token = await csrf_of(client, "/login")
    response = await client.post(
        "/login",
        data={
            "csrf_token": token,
            "email": "owner@example.com",
            "password": DEFAULT_PASSWORD,
            "next": "//evil.example/x",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/app/tenants"  # never off-site
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("saas_session=")
    )
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    value = cookie.split(";")[0].split("=", 1)[1]
    assert value.startswith("v1.") and "eyJ" not in value  # sealed, no readable JWT
    tenants = await client.get("/app/tenants")
    assert tenants.status_code == 200
    assert "No tenant yet" in tenants.text
    # Creating a tenant through the form shows it on its page.
    token = CSRF.search(tenants.text).group(1)  # type: ignore[union-attr]
    created = await client.post(
        "/app/tenants/new",
        data={"csrf_token": token, "name": "Acme", "subdomain": "acme", "tier": "starter"},
    )
    assert created.status_code == 303, created.text
    page = await client.get(created.headers["location"])
    assert page.status_code == 200
    assert "Acme" in page.text and 'data-live-stream="/app/events?tenant_id=' in page.text
    # A wrong typed confirmation deletes nothing and says why next to the field.
    refused = await client.post(
        created.headers["location"],
        data={"csrf_token": token, "intent": "delete", "confirm": "acm"},
    )
    assert refused.status_code == 200
    assert 'id="e-delete-confirm"' in refused.text
    listing = await client.get("/api/v1/tenants", headers={"Authorization": "Bearer x"})
    assert listing.status_code == 401  # the dashboard's cookie is no API credential


async def test_pages_need_a_session_and_admin_pages_an_admin(
    client: httpx.AsyncClient, owner: object
) -> None:
    response = await client.get("/app/tenants")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fapp%2Ftenants"
    token = await csrf_of(client, "/login")
    await client.post(
        "/login",
        data={"csrf_token": token, "email": "owner@example.com", "password": DEFAULT_PASSWORD},
    )
    admin_page = await client.get("/app/admin")
    assert admin_page.status_code == 404


async def test_static_assets_are_served_and_cacheable(client: httpx.AsyncClient) -> None:
    css = await client.get("/static/dashboard.css")
    assert css.status_code == 200
    # A week (seed 004), with the pages naming each asset by its content's digest.
    assert css.headers["cache-control"] == "public, max-age=604800"
    js = await client.get("/static/live.js")
    assert "EventSource" in js.text
    digest = hashlib.sha256(js.content).hexdigest()[:12]
    assert static_url("live.js") == f"/static/live.js?v={digest}"
    page = await client.get("/login")
    assert f'href="/static/dashboard.css?v={hashlib.sha256(css.content).hexdigest()[:12]}"' in (
        page.text
    )
    versioned = await client.get(static_url("live.js"))
    assert versioned.status_code == 200 and versioned.content == js.content


async def test_every_page_of_a_customer_renders(client: httpx.AsyncClient, owner: object) -> None:
    await dashboard_login(client, "owner@example.com")
    for path in (
        "/app/tenants",
        "/app/tenants/new",
        "/app/billing",
        "/app/webhooks",
        "/app/api-keys",
        "/app/profile",
    ):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert "<h1>" in response.text


async def test_every_page_of_the_admin_console_renders(
    client: httpx.AsyncClient, admin: object
) -> None:
    token = await dashboard_login(client, "root@example.com")
    for path in (
        "/app/admin",
        "/app/admin/tenants",
        "/app/admin/hosts",
        "/app/admin/users",
        "/app/admin/security",
        "/app/admin/maintenance",
        "/app/admin/audit",
    ):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
    # An IP block from the console reaches the API, and a bad address is shown at its field.
    refused = await client.post(
        "/app/admin/security", data={"csrf_token": token, "intent": "block", "ip": "nope"}
    )
    assert refused.status_code == 422
    assert 'id="e-ip"' in refused.text
    blocked = await client.post(
        "/app/admin/security",
        data={"csrf_token": token, "intent": "block", "ip": "198.51.100.9", "reason": "test"},
    )
    assert blocked.status_code == 303
    page = await client.get("/app/admin/security")
    assert "198.51.100.9" in page.text


async def test_secrets_are_shown_once_in_the_answer_never_in_a_url(
    client: httpx.AsyncClient, owner: object
) -> None:
    token = await dashboard_login(client, "owner@example.com")
    created = await client.post(
        "/app/api-keys",
        data={"csrf_token": token, "name": "ci", "scopes": ["tenants:read"]},
    )
    assert created.status_code == 200  # rendered, not redirected: the key is in no URL
    key = re.search(r'data-testid="new-key">(saas_[^<]+)<', created.text)
    assert key, created.text
    again = await client.get("/app/api-keys")
    assert key.group(1) not in again.text and "ci" in again.text
    # The key works on the API, as the page says.
    listing = await client.get(
        "/api/v1/tenants", headers={"Authorization": f"Bearer {key.group(1)}"}
    )
    assert listing.status_code == 200

    # A webhook endpoint: its signing secret once; a private URL refused next to the field.
    refused = await client.post(
        "/app/webhooks",
        data={"csrf_token": token, "intent": "create", "url": "http://127.0.0.1/hook"},
    )
    assert refused.status_code == 422
    assert 'id="e-url"' in refused.text
    made = await client.post(
        "/app/webhooks",
        data={
            "csrf_token": token,
            "intent": "create",
            "url": "https://93.184.215.14/hook",
            "events": ["invoice.paid"],
        },
    )
    assert made.status_code == 200, made.text
    assert re.search(r'data-testid="webhook-secret">whsec_', made.text)
    endpoints = await client.get("/app/webhooks")
    assert "93.184.215.14" in endpoints.text and "whsec_" not in endpoints.text


async def test_an_admin_raises_a_users_tenant_limit_from_the_console(
    client: httpx.AsyncClient, admin: object, owner: dict[str, object] | object
) -> None:
    token = await dashboard_login(client, "root@example.com")
    users = await client.get("/app/admin/users", params={"search": "owner@"})
    user_id = re.search(r'name="user_id" value="([0-9a-f-]{36})"', users.text)
    assert user_id, users.text
    changed = await client.post(
        "/app/admin/users",
        data={
            "csrf_token": token,
            "user_id": user_id.group(1),
            "action": "tenant_limit",
            "tenant_limit": "12",
        },
    )
    assert changed.status_code == 303, changed.text
    page = await client.get("/app/admin/users", params={"search": "owner@"})
    assert 'value="12"' in page.text
