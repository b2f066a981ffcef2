"""The portal's built behaviour, route by route: notifications of posted invoices and shared
files; project filters and pages; the blog's category, order and pages; the dashboard's
figures on a fixed day; reports by period; turning the portal on (again, as a non-owner, as
a stranger); a portal token naming another tenant; an Odoo employee's login; logout ending
Odoo's session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.portal.identity import SESSION_PURPOSE
from saas_server.portal.models import PortalRecord, PortalSession
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.billing import member_of
from tests.fixtures.errors import assert_envelope
from tests.fixtures.portal import PORTAL_PASSWORD, PortalTenant, bearer, portal_login
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant

pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _sync(client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant) -> None:
    answer = await client.post(
        "/api/v1/odoo/sync", params={"tenant_id": portal.tenant.id}, headers=portal.owner.headers
    )
    assert answer.status_code == 202, answer.text
    await runtime.run_pending_jobs()


async def test_posted_invoices_and_shared_files_notify_the_client(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant, inbox: Inbox
) -> None:
    alpha = bearer(await portal_login(client, portal, portal.alpha))
    invoice = portal.call(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": portal.alpha.contact,
            "invoice_date": "2026-12-01",
            "invoice_date_due": "2026-12-31",
            "invoice_line_ids": [(0, 0, {"name": "Hosting", "quantity": 1, "price_unit": 300.0})],
        },
    )
    # A draft is the agency's: nothing yet.
    await _sync(client, runtime, portal)
    listed = await client.get("/api/v1/notifications", headers=alpha)
    assert listed.json()["count"] == 0
    portal.call("account.move", "action_post", [invoice])
    inbox.clear()
    await _sync(client, runtime, portal)
    posted = (
        await client.get("/api/v1/notifications", params={"type": "invoice_posted"}, headers=alpha)
    ).json()
    assert posted["count"] == 1
    [notification] = posted["results"]
    assert notification["data"]["invoice_odoo_id"] == invoice
    assert "300.0" in notification["message"] and "2026-12-31" in notification["message"]
    assert [m.recipients for m in inbox.mails] == [[portal.alpha.login]]

    # The agency shares a file with Alpha: Alpha is told (and mailed); Beta is not.
    inbox.clear()
    shared = await client.post(
        "/api/v1/files/upload",
        params={"tenant_id": portal.tenant.id},
        headers=portal.owner.headers,
        files={"file": ("plan.pdf", PDF, "application/pdf")},
        data={"client_id": str(portal.alpha.company)},
    )
    assert shared.status_code == 201, shared.text
    await runtime.run_pending_jobs()
    files = (
        await client.get("/api/v1/notifications", params={"type": "file_shared"}, headers=alpha)
    ).json()
    assert [n["data"]["file_id"] for n in files["results"]] == [shared.json()["id"]]
    assert files["results"][0]["title"] == "New file: plan.pdf"
    assert [m.recipients for m in inbox.mails] == [[portal.alpha.login]]
    beta = bearer(await portal_login(client, portal, portal.beta))
    assert (await client.get("/api/v1/notifications", headers=beta)).json()["count"] == 0
    # A client's upload is news for the agency's members.
    await client.post(
        "/api/v1/files/upload",
        headers=alpha,
        files={"file": ("answer.pdf", PDF, "application/pdf")},
    )
    agency = (
        await client.get(
            "/api/v1/notifications",
            params={"tenant_id": portal.tenant.id, "type": "file_shared"},
            headers=portal.owner.headers,
        )
    ).json()
    assert [n["title"] for n in agency["results"]] == ["New file: answer.pdf"]


async def test_project_filters_order_and_pages(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    portal.call("project.project", "write", portal.beta.projects, {"last_update_status": "at_risk"})
    await _sync(client, runtime, portal)
    member = {"tenant_id": portal.tenant.id}
    headers = portal.owner.headers

    async def names(**params: Any) -> list[str]:
        answer = await client.get("/api/v1/projects", params={**member, **params}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [p["name"] for p in answer.json()["results"]]

    assert await names(status="at_risk") == ["Beta website"]
    assert await names(status="to_define") == ["Alpha website"]
    assert await names(status="done") == []
    assert await names(client=portal.alpha.company) == ["Alpha website"]
    assert await names(client=portal.beta.company, status="to_define") == []
    assert await names(sort="-name") == ["Beta website", "Alpha website"]
    assert await names(ordering="name", sort="-name") == ["Alpha website", "Beta website"]
    first = await client.get(
        "/api/v1/projects", params={**member, "sort": "name", "page_size": 1}, headers=headers
    )
    body = first.json()
    assert body["count"] == 2 and [p["name"] for p in body["results"]] == ["Alpha website"]
    assert body["previous"] is None and body["next"]
    second = await client.get(body["next"], headers=headers)
    assert [p["name"] for p in second.json()["results"]] == ["Beta website"]
    assert second.json()["next"] is None
    # A client naming another client's id sees nothing of it.
    alpha = bearer(await portal_login(client, portal, portal.alpha))
    theirs = await client.get(
        "/api/v1/projects", params={"client": portal.beta.company}, headers=alpha
    )
    assert theirs.json()["count"] == 0


async def test_the_blog_by_category_order_and_page(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant, owner: LoggedIn
) -> None:
    news = portal.call("blog.blog", "search", [("name", "=", "News")])[0]
    tips = portal.call("blog.blog", "create", {"name": "Tips"})
    for name, blog, date in (
        ("Zebra tips", tips, "2026-10-01 09:00:00"),
        ("Apple news", news, "2026-11-01 09:00:00"),
    ):
        portal.call(
            "blog.post",
            "create",
            # post_date follows published_date (Odoo computes it from it).
            {"name": name, "blog_id": blog, "is_published": True, "published_date": date},
        )
    await _sync(client, runtime, portal)
    tenant = {"tenant": portal.subdomain}

    async def titles(**params: Any) -> list[str]:
        answer = await client.get("/api/v1/blog/posts", params={**tenant, **params})
        assert answer.status_code == 200, answer.text
        return [p["title"] for p in answer.json()["results"]]

    assert await titles(category="tips") == ["Zebra tips"]
    assert sorted(await titles(category="News")) == ["Apple news", "We launched"]
    assert await titles(category="nothing") == []
    assert await titles(sort="title") == ["Apple news", "We launched", "Zebra tips"]
    assert await titles(sort="-title") == ["Zebra tips", "We launched", "Apple news"]
    # Newest first by default.
    everything = await titles()
    assert everything[-2:] == ["Apple news", "Zebra tips"]
    page = await client.get(
        "/api/v1/blog/posts", params={**tenant, "sort": "title", "page_size": 2, "page": 2}
    )
    assert [p["title"] for p in page.json()["results"]] == ["Zebra tips"]
    assert page.json()["count"] == 3 and page.json()["next"] is None

    # A tenant with no portal has no public blog.
    other = await create_tenant(client, owner, f"np{uuid.uuid4().hex[:8]}")
    none = await client.get("/api/v1/blog/posts", params={"tenant": other["subdomain"]})
    assert_envelope(none, 404, "TENANT_NOT_FOUND")


async def test_the_dashboard_on_a_fixed_day(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    portal.call(
        "project.task",
        "write",
        [portal.alpha.tasks[0]],
        {"date_deadline": "2026-12-18 10:00:00", "stage_id": portal.stages["Done"]},
    )
    portal.call(
        "project.task", "write", [portal.alpha.tasks[1]], {"date_deadline": "2026-12-20 10:00:00"}
    )
    await _sync(client, runtime, portal)
    previous = clock.set_clock(clock.FrozenClock(datetime(2026, 12, 15, 12, tzinfo=UTC)))
    try:
        alpha = bearer(await portal_login(client, portal, portal.alpha))
        answer = await client.get("/api/v1/portal/dashboard", headers=alpha)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        # Due 2026-11-30, 1,200.00 unpaid: all of it overdue on the 15th of December.
        assert body["invoices"]["by_currency"] == [
            {
                "currency": body["invoices"]["by_currency"][0]["currency"],
                "open_cents": 120000,
                "overdue_cents": 120000,
                "open_count": 1,
                "overdue_count": 1,
            }
        ]
        # Due within 7 days and still open: the second task only (the first is done).
        assert [t["odoo_id"] for t in body["tasks_due_soon"]] == [portal.alpha.tasks[1]]
        assert body["tasks_due_soon"][0]["project"] == "Alpha website"
        [project] = body["projects"]["open"]
        assert (project["name"], project["tasks_done"], project["task_count"]) == (
            "Alpha website",
            1,
            3,
        )
        assert project["progress"] == 33 and body["projects"]["open_count"] == 1
        again = await client.get(
            "/api/v1/portal/dashboard", headers={**alpha, "If-None-Match": answer.headers["etag"]}
        )
        assert again.status_code == 304
        clock.set_clock(clock.FrozenClock(datetime(2026, 11, 15, 12, tzinfo=UTC)))
        alpha = bearer(await portal_login(client, portal, portal.alpha))
        earlier = (await client.get("/api/v1/portal/dashboard", headers=alpha)).json()
        [totals] = earlier["invoices"]["by_currency"]
        assert (totals["open_cents"], totals["overdue_cents"]) == (120000, 0)
        assert earlier["tasks_due_soon"] == []
    finally:
        clock.set_clock(previous)


async def test_reports_as_json_by_period(client: httpx.AsyncClient, portal: PortalTenant) -> None:
    alpha = bearer(await portal_login(client, portal, portal.alpha))

    async def report(**params: str) -> dict[str, Any]:
        answer = await client.get("/api/v1/portal/reports", params=params, headers=alpha)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        return answer.json()  # type: ignore[no-any-return]

    invoices = await report(type="invoices", period="2026-11", format="json")
    assert invoices["type"] == "invoices" and invoices["period"] == "2026-11"
    [row] = invoices["rows"]
    assert (row["amount_total"], row["amount_due"], row["invoice_date"]) == (
        1200.0,
        1200.0,
        "2026-11-01",
    )
    assert invoices["totals"] == {"count": 1, "amount_total": 1200.0, "amount_due": 1200.0}
    assert (await report(type="invoices", period="2026-10"))["rows"] == []
    assert (await report(type="invoices", period="2025"))["totals"]["count"] == 0
    assert len((await report(type="invoices", period="2026"))["rows"]) == 1
    projects = await report(type="projects", period="all")
    assert [r["project"] for r in projects["rows"]] == ["Alpha website"]
    assert projects["totals"] == {"count": 1, "tasks": 3, "tasks_done": 0}
    assert (await report(type="projects", period="2020"))["rows"] == []
    bad = await client.get("/api/v1/portal/reports", params={"period": "last"}, headers=alpha)
    assert_envelope(bad, 422, "VALIDATION_ERROR")


async def test_turning_the_portal_on_again_as_a_member_and_as_a_stranger(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant, inbox: Inbox
) -> None:
    url = f"/api/v1/tenants/{portal.tenant.id}/portal"
    again = await client.post(url, headers=portal.owner.headers)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "enabled" and again.json()["enabled"] is True
    member = await member_of(client, runtime, inbox, portal.owner, {"id": portal.tenant.id})
    assert_envelope(await client.post(url, headers=member.headers), 403, "FORBIDDEN")
    # A member reads the portal's state and its data; only owners turn it on.
    assert (await client.get(url, headers=member.headers)).status_code == 200
    stranger = await verified_user(client, runtime, inbox, f"s{uuid.uuid4().hex[:8]}@example.com")
    refused = await client.post(url, headers=stranger.headers)
    assert refused.status_code == 404
    data = await client.get(
        "/api/v1/projects", params={"tenant_id": portal.tenant.id}, headers=stranger.headers
    )
    assert_envelope(data, 404, "TENANT_NOT_FOUND")


async def test_a_portal_token_is_bound_to_its_tenant(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    alpha = bearer(await portal_login(client, portal, portal.alpha))
    for tenant_id in (str(uuid.uuid4()), "not-a-uuid"):
        answer = await client.get(
            "/api/v1/projects", params={"tenant_id": tenant_id}, headers=alpha
        )
        assert_envelope(answer, 404, "TENANT_NOT_FOUND")
    own = await client.get(
        "/api/v1/projects", params={"tenant_id": portal.tenant.id}, headers=alpha
    )
    assert own.status_code == 200 and own.json()["count"] == 1


async def test_an_odoo_employee_sees_every_client(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    [internal] = portal.call("res.groups", "search", [("name", "=", "Internal User")])
    portal.call(
        "res.users",
        "create",
        {
            "name": "Agency Employee",
            "login": "employee@agency.example",
            "password": PORTAL_PASSWORD,
            "groups_id": [(6, 0, [internal])],
        },
    )
    login = await client.post(
        "/api/v1/auth/login",
        json={
            "tenant": portal.subdomain,
            "email": "employee@agency.example",
            "password": PORTAL_PASSWORD,
        },
    )
    assert login.status_code == 200, login.text
    assert login.json()["odoo_session"]["is_internal"] is True
    assert login.json()["user"]["kind"] == "odoo_user"
    headers = bearer(login.json())
    projects = await client.get("/api/v1/projects", params={"ordering": "name"}, headers=headers)
    assert [p["name"] for p in projects.json()["results"]] == ["Alpha website", "Beta website"]
    invoices = await client.get("/api/v1/portal/invoices", headers=headers)
    assert invoices.json()["count"] == 2
    # The agency's own view of the sync.
    assert (await client.get("/api/v1/odoo/sync", headers=headers)).status_code == 200


async def test_logout_ends_the_odoo_session(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    login = await portal_login(client, portal, portal.alpha)
    async with runtime.db.sessionmaker() as session:
        row = await session.get(PortalSession, uuid.UUID(login["user"]["id"]))
        assert row is not None
        odoo_session = runtime.secrets.decrypt(row.odoo_session_id_encrypted, SESSION_PURPOSE)

    def session_info() -> httpx.Response:
        return httpx.post(
            portal.tenant.odoo.url + "/web/session/get_session_info",
            json={"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1},
            cookies={"session_id": odoo_session},
            timeout=30,
        )

    alive = session_info()
    assert alive.json()["result"]["uid"] == login["odoo_session"]["uid"]
    out = await client.post("/api/v1/auth/logout", headers=bearer(login))
    assert out.status_code == 204, out.text
    # The cookie names no session any more: with several databases on the server, Odoo no
    # longer knows which one the call is for (404), else it says the session expired.
    ended = session_info()
    assert ended.status_code == 404 or (
        ended.json()["error"]["data"]["name"].endswith("SessionExpiredException")
    ), ended.text
    async with runtime.db.sessionmaker() as session:
        row = await session.get(PortalSession, uuid.UUID(login["user"]["id"]))
        assert row is not None and row.revoked_at is not None and row.revoked_reason == "logout"


async def test_projects_show_their_odoo_stage_once_the_agency_uses_project_stages(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    alpha = bearer(await portal_login(client, portal, portal.alpha))
    # Project stages off (Odoo's default): the field is not the sync's to read; no stage.
    [project] = (await client.get("/api/v1/projects", headers=alpha)).json()["results"]
    assert project["stage"] is None
    # The agency turns "Project Stages" on in Odoo (its users join the group) and stages
    # its projects: the next sync reads them.
    [group] = portal.call("res.groups", "search", [("name", "=", "Use Stages on Project")])
    portal.call("res.users", "write", [2], {"groups_id": [(4, group)]})
    live = portal.call("project.project.stage", "create", {"name": "In Progress"})
    portal.call("project.project", "write", portal.alpha.projects, {"stage_id": live})
    await _sync(client, runtime, portal)
    [staged] = (await client.get("/api/v1/projects", headers=alpha)).json()["results"]
    assert staged["stage"] == {"odoo_id": live, "name": "In Progress"}
    detail = await client.get(f"/api/v1/projects/{staged['id']}", headers=alpha)
    assert detail.json()["stage"]["name"] == "In Progress"
    # Beta's project, not written since the last sync, is read again too (the copy held no
    # stage field): it now says it has no stage rather than nothing.
    async with runtime.db.sessionmaker() as session:
        [beta_copy] = (
            await session.execute(
                select(PortalRecord).where(
                    PortalRecord.tenant_id == uuid.UUID(portal.tenant.id),
                    PortalRecord.model == "project.project",
                    PortalRecord.odoo_id == portal.beta.projects[0],
                )
            )
        ).scalars()
        assert beta_copy.data["stage_id"] is False
    # Turned off again: the stages leave the copy at the next sync.
    portal.call("res.users", "write", [2], {"groups_id": [(3, group)]})
    await _sync(client, runtime, portal)
    [off] = (await client.get("/api/v1/projects", headers=alpha)).json()["results"]
    assert off["stage"] is None
    status = await client.get(
        "/api/v1/odoo/sync", params={"tenant_id": portal.tenant.id}, headers=portal.owner.headers
    )
    assert status.json()["status"] == "ok"
