"""Recommendations from a client's projects and tasks in the tenant's Odoo (the emulator),
read through the portal's synced copy: a client with an overdue task gets the recommendation
naming it, a task in a stage waiting on the client is named too, another client's projects
never appear, and an Odoo that is down leaves the other recommendations (and the last copy's
ones, said to be stale) answering."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from saas_server.core import clock as clock_module
from saas_server.core.runtime import Runtime
from saas_server.marketing.models import SeoAudit
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.portal import PortalTenant, bearer, make_portal, portal_login

pytestmark = [pytest.mark.slow, pytest.mark.once]


def _odoo_datetime(days: int) -> str:
    return (clock_module.now() + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


async def _sync(client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant) -> None:
    response = await client.post(
        "/api/v1/odoo/sync", params={"tenant_id": portal.tenant.id}, headers=portal.owner.headers
    )
    assert response.status_code == 202, response.text
    await runtime.run_pending_jobs()


async def _seed_audit(runtime: Runtime, tenant_id: uuid.UUID, client_id: int) -> None:
    async with runtime.db.sessionmaker() as session:
        session.add(
            SeoAudit(
                tenant_id=tenant_id,
                client_id=client_id,
                url="https://alpha.example/",
                keywords=[],
                competitors=[],
                status="completed",
                score=70,
                findings=[],
                recommendations=[
                    {"title": "Fix the title", "impact": 10, "method": "rules", "rank": 1}
                ],
                report={"score": 70},
            )
        )
        await session.commit()


def _projects(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in body["results"] if r["category"] == "projects"]


def _by_rule(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in _projects(body):
        assert item["rule"] not in found, item
        found[item["rule"]] = item
    return found


async def test_project_recommendations_name_the_clients_own_tasks_and_survive_odoo_down(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    clock: clock_module.FrozenClock,
) -> None:
    portal = await make_portal(client, runtime, owner, admin, odoo)
    tenant_id = uuid.UUID(portal.tenant.id)
    alpha, beta = portal.alpha, portal.beta
    # Alpha: task 0 ten days late, task 1 in a stage where the client has to answer.
    portal.call("project.task", "write", [alpha.tasks[0]], {"date_deadline": _odoo_datetime(-10)})
    feedback = portal.call(
        "project.task.type", "create", {"name": "Client feedback", "sequence": 3, "fold": False}
    )
    portal.call(
        "project.task",
        "write",
        [alpha.tasks[1]],
        {"stage_id": feedback, "date_deadline": _odoo_datetime(60)},
    )
    portal.call("project.task", "write", [alpha.tasks[2]], {"date_deadline": _odoo_datetime(43)})
    # Beta: its own overdue task, which Alpha must never see.
    portal.call("project.task", "write", [beta.tasks[0]], {"date_deadline": _odoo_datetime(-3)})
    portal.call("project.task", "write", [beta.tasks[1]], {"date_deadline": _odoo_datetime(90)})
    # Dates from the test's clock, not the fixture's calendar.
    portal.call(
        "project.project",
        "write",
        [*alpha.projects, *beta.projects],
        {"date": _odoo_datetime(200)[:10]},
    )
    await _sync(client, runtime, portal)
    await _seed_audit(runtime, tenant_id, alpha.company)

    as_alpha = bearer(await portal_login(client, portal, alpha))
    answer = await client.get("/api/v1/ai/recommendations", headers=as_alpha)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sources"]["projects"]["status"] == "ok", body["sources"]
    rules = _by_rule(body)
    assert set(rules) == {"projects-overdue-tasks", "projects-waiting-on-client"}, rules
    overdue = rules["projects-overdue-tasks"]
    assert "Alpha task 0" in overdue["title"] and overdue["method"] == "rules"
    assert overdue["evidence"]["count"] == 1
    [late] = overdue["evidence"]["tasks"]
    assert (late["name"], late["days_overdue"]) == ("Alpha task 0", 10)
    assert overdue["evidence"]["project"]["name"] == "Alpha website"
    assert overdue["evidence"]["data_synced_at"]
    waiting = rules["projects-waiting-on-client"]
    assert [t["name"] for t in waiting["evidence"]["tasks"]] == ["Alpha task 1"]
    assert waiting["evidence"]["tasks"][0]["stage"] == "Client feedback"
    # Ranked with the others on one scale: the audit's impact 10 first, then the overdue task.
    assert [r["rank"] for r in body["results"]] == list(range(1, len(body["results"]) + 1))
    assert body["results"][0]["category"] == "seo"
    assert body["results"][1]["rule"] == "projects-overdue-tasks"
    # Isolation: nothing of Beta's, anywhere in the answer.
    assert "Beta" not in json.dumps(body)

    only = await client.get(
        "/api/v1/ai/recommendations", params={"category": "projects"}, headers=as_alpha
    )
    assert only.status_code == 200, only.text
    assert {r["category"] for r in only.json()["results"]} == {"projects"}
    assert set(only.json()["sources"]) == {"projects"}

    # The agency, for Beta: Beta's overdue task only.
    for_beta = await client.get(
        "/api/v1/ai/recommendations",
        params={"tenant_id": portal.tenant.id, "client_id": beta.company},
        headers=owner.headers,
    )
    assert for_beta.status_code == 200, for_beta.text
    beta_rules = _by_rule(for_beta.json())
    assert set(beta_rules) == {"projects-overdue-tasks"}
    assert [t["name"] for t in beta_rules["projects-overdue-tasks"]["evidence"]["tasks"]] == [
        "Beta task 0"
    ]
    assert "Alpha" not in json.dumps(for_beta.json()["results"])

    # Odoo goes down: the sync fails; the audit's recommendation still answers, the project
    # ones come from the last copy, and the answer says so.
    portal.tenant.odoo.stop()
    await _sync(client, runtime, portal)
    down = await client.get("/api/v1/ai/recommendations", headers=as_alpha)
    assert down.status_code == 200, down.text
    source = down.json()["sources"]["projects"]
    assert source["status"] == "stale", source
    [note] = source["tenants"]
    assert note["errors"], note
    assert "could not read the tenant's Odoo" in note["reason"]
    assert any(r["category"] == "seo" for r in down.json()["results"])
    assert set(_by_rule(down.json())) == {"projects-overdue-tasks", "projects-waiting-on-client"}

    # Forty days on, still from the copy: task 2 comes due in three days, and nothing has
    # moved in Alpha's project since the last sync.
    clock.advance(days=40)
    owner = await login(client, owner.email)
    later = await client.get(
        "/api/v1/ai/recommendations",
        params={"tenant_id": portal.tenant.id, "client_id": alpha.company, "category": "projects"},
        headers=owner.headers,
    )
    assert later.status_code == 200, later.text
    later_rules = _by_rule(later.json())
    assert later_rules["projects-overdue-tasks"]["evidence"]["tasks"][0]["days_overdue"] == 50
    soon = later_rules["projects-tasks-due-soon"]["evidence"]["tasks"]
    assert [(t["name"], t["days_left"]) for t in soon] == [("Alpha task 2", 3)]
    assert later_rules["projects-inactive"]["evidence"]["days_idle"] >= 39
