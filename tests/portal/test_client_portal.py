"""Seed 004's must-show, on the emulator: a portal user created in the tenant's Odoo logs in
through the platform, sees exactly their company's projects, tasks and invoices (another
client's are 404), uploads a file that then exists as an attachment in Odoo, is notified when
a task's stage changes in Odoo (by the webhook and by the scheduled sync), and anyone reads
the published blog without logging in; conditional GETs answer 304."""

from __future__ import annotations

import httpx
import pytest

from saas_server.core.runtime import Runtime
from saas_server.portal import sync
from tests.fixtures.errors import assert_envelope
from tests.fixtures.portal import PortalTenant, bearer, portal_login, post_odoo_webhook

pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def test_a_portal_user_sees_exactly_their_companys_data(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    login = await portal_login(client, portal, portal.alpha)
    session = login["odoo_session"]
    assert session["is_portal"] is True and session["is_internal"] is False
    assert session["partner_id"] == portal.alpha.contact
    assert session["commercial_partner_id"] == portal.alpha.company
    assert session["db"] == portal.tenant.database and session["uid"] > 2
    assert login["access_token"].startswith("portal.")
    headers = bearer(login)

    projects = await client.get("/api/v1/projects", headers=headers)
    assert projects.status_code == 200, projects.text
    body = projects.json()
    assert body["count"] == 1
    [project] = body["results"]
    assert project["name"] == "Alpha website" and project["task_count"] == 3
    assert project["progress"] == 0 and project["deadline"] == "2027-06-30"
    assert projects.headers["cache-control"] == "private, no-cache"

    detail = await client.get(f"/api/v1/projects/{project['id']}", headers=headers)
    assert detail.status_code == 200, detail.text
    assert [t["stage"]["name"] for t in detail.json()["tasks"]] == ["To Do"] * 3
    assert [s["name"] for s in detail.json()["stages"]] == ["To Do"]

    # Beta's project, seen by the agency, is a 404 for Alpha's user.
    everything = await client.get(
        "/api/v1/projects",
        params={"tenant_id": portal.tenant.id, "ordering": "name"},
        headers=portal.owner.headers,
    )
    assert everything.status_code == 200, everything.text
    names = [p["name"] for p in everything.json()["results"]]
    assert names == ["Alpha website", "Beta website"]
    beta_id = everything.json()["results"][1]["id"]
    assert_envelope(
        await client.get(f"/api/v1/projects/{beta_id}", headers=headers), 404, "NOT_FOUND"
    )

    invoices = await client.get("/api/v1/portal/invoices", headers=headers)
    assert invoices.status_code == 200, invoices.text
    [invoice] = invoices.json()["results"]
    assert invoice["amount_total_cents"] == 120000 and invoice["amount_due_cents"] == 120000
    assert invoice["client"]["odoo_id"] == portal.alpha.contact
    all_invoices = await client.get(
        "/api/v1/portal/invoices",
        params={"tenant_id": portal.tenant.id},
        headers=portal.owner.headers,
    )
    assert all_invoices.json()["count"] == 2
    other = next(i for i in all_invoices.json()["results"] if i["id"] != invoice["id"])
    assert_envelope(
        await client.get(f"/api/v1/portal/invoices/{other['id']}", headers=headers),
        404,
        "NOT_FOUND",
    )

    # A conditional GET of an unchanged list is 304.
    again = await client.get(
        "/api/v1/projects", headers={**headers, "If-None-Match": projects.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    since = await client.get(
        "/api/v1/projects",
        headers={**headers, "If-Modified-Since": projects.headers["last-modified"]},
    )
    assert since.status_code == 304

    dashboard = await client.get("/api/v1/portal/dashboard", headers=headers)
    assert dashboard.status_code == 200, dashboard.text
    figures = dashboard.json()
    assert figures["projects"]["total_count"] == 1
    assert figures["invoices"]["by_currency"][0]["open_cents"] == 120000
    # Due 2026-11-30: overdue on the platform's clock (December 2026).
    assert figures["invoices"]["by_currency"][0]["overdue_cents"] in (0, 120000)

    csv_report = await client.get(
        "/api/v1/portal/reports",
        params={"type": "invoices", "period": "all", "format": "csv"},
        headers=headers,
    )
    assert csv_report.status_code == 200, csv_report.text
    assert csv_report.text.splitlines()[0].startswith("number,client")
    assert len(csv_report.text.splitlines()) == 2
    pdf_report = await client.get(
        "/api/v1/portal/reports",
        params={"type": "projects", "period": "all", "format": "pdf"},
        headers=headers,
    )
    assert pdf_report.status_code == 200 and pdf_report.content.startswith(b"%PDF")

    # The sync's state is the agency's, not the client's.
    assert_envelope(await client.get("/api/v1/odoo/sync", headers=headers), 403, "FORBIDDEN")
    status = await client.get(
        "/api/v1/odoo/sync", params={"tenant_id": portal.tenant.id}, headers=portal.owner.headers
    )
    assert status.status_code == 200, status.text
    counts = {m["model"]: m["count"] for m in status.json()["models"]}
    assert counts["project.project"] == 2 and counts["project.task"] == 5
    assert status.json()["status"] == "ok"

    # Logging out ends the portal session and Odoo's.
    out = await client.post("/api/v1/auth/logout", headers=headers)
    assert out.status_code == 204, out.text
    assert_envelope(await client.get("/api/v1/projects", headers=headers), 401, "UNAUTHORIZED")


async def test_wrong_password_and_unknown_tenant_are_refused(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    wrong = await client.post(
        "/api/v1/auth/login",
        json={"tenant": portal.subdomain, "email": portal.alpha.login, "password": "nope"},
    )
    assert_envelope(wrong, 401, "UNAUTHORIZED")
    unknown = await client.post(
        "/api/v1/auth/login", json={"tenant": "no-such-tenant", "email": "a@b.c", "password": "x"}
    )
    assert_envelope(unknown, 404, "TENANT_NOT_FOUND")


async def test_refresh_rotates_the_portal_tokens(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    login = await portal_login(client, portal, portal.beta)
    renewed = await client.post("/api/v1/auth/refresh", json={"refresh": login["refresh_token"]})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["refresh_token"] != login["refresh_token"]
    reused = await client.post("/api/v1/auth/refresh", json={"refresh": login["refresh_token"]})
    assert_envelope(reused, 401, "UNAUTHORIZED")
    projects = await client.get("/api/v1/projects", headers=bearer(renewed.json()))
    assert [p["name"] for p in projects.json()["results"]] == ["Beta website"]
    # A portal token is nobody's platform account.
    assert_envelope(
        await client.get("/api/v1/auth/me", headers=bearer(renewed.json())), 401, "UNAUTHORIZED"
    )


async def test_uploaded_files_are_attachments_in_odoo(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    login = await portal_login(client, portal, portal.alpha)
    headers = bearer(login)
    [project] = (await client.get("/api/v1/projects", headers=headers)).json()["results"]
    uploaded = await client.post(
        "/api/v1/files/upload",
        headers=headers,
        files={"file": ("brief.pdf", PDF, "application/pdf")},
        data={"project_id": project["id"]},
    )
    assert uploaded.status_code == 201, uploaded.text
    file = uploaded.json()
    assert file["mimetype"] == "application/pdf" and file["size"] == len(PDF)
    [attachment] = portal.call(
        "ir.attachment",
        "search_read",
        [("res_model", "=", "project.project"), ("res_id", "=", portal.alpha.projects[0])],
        fields=["name", "file_size", "mimetype"],
    )
    assert attachment["name"] == "brief.pdf" and attachment["file_size"] == len(PDF)
    assert file["odoo_attachment_id"] == attachment["id"]

    shown = await client.get(f"/api/v1/files/{file['id']}", headers=headers)
    assert shown.status_code == 200 and shown.json()["name"] == "brief.pdf"
    downloaded = await client.get(f"/api/v1/files/{file['id']}/download", headers=headers)
    assert downloaded.status_code == 200 and downloaded.content == PDF
    detail = await client.get(f"/api/v1/projects/{project['id']}", headers=headers)
    assert [f["name"] for f in detail.json()["files"]] == ["brief.pdf"]

    # The type is the content's, not the name's; only allowed types are taken.
    forged = await client.post(
        "/api/v1/files/upload",
        headers=headers,
        files={"file": ("invoice.pdf", b"MZ\x90\x00\x03" + b"\x00" * 64, "application/pdf")},
    )
    assert_envelope(forged, 415, "UNSUPPORTED_MEDIA_TYPE")

    # Another client cannot see it; its owner deletes it, in Odoo too.
    other = bearer(await portal_login(client, portal, portal.beta))
    assert_envelope(
        await client.get(f"/api/v1/files/{file['id']}", headers=other), 404, "NOT_FOUND"
    )
    deleted = await client.delete(f"/api/v1/files/{file['id']}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert portal.call("ir.attachment", "search", [("id", "=", attachment["id"])]) == []


async def test_a_stage_change_in_odoo_notifies_the_client_by_webhook_and_by_schedule(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    headers = bearer(await portal_login(client, portal, portal.alpha))
    first, second = portal.alpha.tasks[:2]

    # The webhook path: Odoo's automation posts the change, a sync runs.
    portal.call("project.task", "write", [first], {"stage_id": portal.stages["Review"]})
    await post_odoo_webhook(
        client, runtime, portal, {"model": "project.task", "event": "write", "record_id": first}
    )
    await runtime.run_pending_jobs()
    listed = (await client.get("/api/v1/notifications", headers=headers)).json()
    assert [n["type"] for n in listed["results"]] == ["task_stage_changed"]
    assert listed["results"][0]["data"]["to_stage"] == "Review"

    # The scheduled path: no webhook, the periodic sweep queues the sync.
    portal.call("project.task", "write", [second], {"stage_id": portal.stages["Done"]})
    assert await sync.defer_due_syncs(runtime) == 1
    await runtime.run_pending_jobs()
    unread = (
        await client.get("/api/v1/notifications", params={"read": "false"}, headers=headers)
    ).json()
    assert unread["count"] == 2
    assert {n["data"]["to_stage"] for n in unread["results"]} == {"Review", "Done"}
    # The other client hears nothing of it.
    beta = bearer(await portal_login(client, portal, portal.beta))
    assert (await client.get("/api/v1/notifications", headers=beta)).json()["count"] == 0

    marked = await client.put(
        f"/api/v1/notifications/{unread['results'][0]['id']}/read", headers=headers
    )
    assert marked.status_code == 200 and marked.json()["read"] is True
    left = (
        await client.get("/api/v1/notifications", params={"read": "false"}, headers=headers)
    ).json()
    assert left["count"] == 1

    # The project's progress follows the folded "Done" stage.
    [project] = (await client.get("/api/v1/projects", headers=headers)).json()["results"]
    assert project["tasks_done"] == 1 and project["progress"] == 33

    # An invoice paid in Odoo: notified, and no longer due on the dashboard.
    # Registered as in Odoo's "Register Payment" dialog (its wizard, on the invoice).
    wizard = portal.call(
        "account.payment.register",
        "create",
        {},
        context={"active_model": "account.move", "active_ids": portal.alpha.invoices},
    )
    portal.call("account.payment.register", "action_create_payments", [wizard])
    await sync.defer_due_syncs(runtime)
    await runtime.run_pending_jobs()
    paid = (
        await client.get("/api/v1/notifications", params={"type": "invoice_paid"}, headers=headers)
    ).json()
    assert (
        paid["count"] == 1
        and paid["results"][0]["data"]["invoice_odoo_id"] == (portal.alpha.invoices[0])
    )
    dashboard = (await client.get("/api/v1/portal/dashboard", headers=headers)).json()
    assert dashboard["invoices"]["by_currency"] == []
    assert dashboard["unread_notifications"] == 2


async def test_the_published_blog_is_public_and_cacheable(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    posts = await client.get("/api/v1/blog/posts", params={"tenant": portal.subdomain})
    assert posts.status_code == 200, posts.text
    assert [p["title"] for p in posts.json()["results"]] == ["We launched"]
    assert posts.headers["cache-control"] == "public, max-age=3600"
    post_id = posts.json()["results"][0]["id"]
    one = await client.get(f"/api/v1/blog/posts/{post_id}", params={"tenant": portal.subdomain})
    assert one.status_code == 200 and "Hello" in one.json()["content"]
    again = await client.get(
        f"/api/v1/blog/posts/{post_id}",
        params={"tenant": portal.subdomain},
        headers={"If-None-Match": one.headers["etag"]},
    )
    assert again.status_code == 304
    by_host = await client.get(
        "/api/v1/blog/posts", headers={"Host": f"{portal.subdomain}.portal.example"}
    )
    assert by_host.status_code == 200 and by_host.json()["count"] == 1
    searched = await client.get(
        "/api/v1/blog/posts", params={"tenant": portal.subdomain, "search": "draft"}
    )
    assert searched.json()["count"] == 0


async def test_settings_are_validated_and_kept(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    headers = bearer(await portal_login(client, portal, portal.alpha))
    defaults = await client.get("/api/v1/settings", headers=headers)
    assert defaults.json() == {
        "language": "en_US",
        "theme": "system",
        "notifications": {"email": True, "push": False},
    }
    changed = await client.put(
        "/api/v1/settings",
        headers=headers,
        json={"language": "fr_FR", "theme": "dark", "notifications": {"email": False}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["notifications"] == {"email": False, "push": False}
    bad = await client.put("/api/v1/settings", headers=headers, json={"theme": "neon"})
    assert_envelope(bad, 422, "VALIDATION_ERROR")
    assert (await client.get("/api/v1/settings", headers=headers)).json()["theme"] == "dark"
