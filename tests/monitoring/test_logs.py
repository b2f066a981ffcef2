"""A tenant's log: platform events, instance transitions and Odoo's own login records."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from saas_server.core import clock as clock_module
from saas_server.core.runtime import Runtime
from saas_server.instances.flows import PROVISION_STEPS
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.backups import Tenant, ready_tenant
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host, subdomain
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant


async def test_the_log_of_a_waiting_tenant_has_the_platform_entries_only(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn, admin: LoggedIn
) -> None:
    tenant = await create_tenant(client, owner, subdomain())
    path = f"/api/v1/tenants/{tenant['id']}/logs"
    response = await client.get(path, headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sources"] == {
        "platform": "ok",
        "odoo": "no ready instance",
        "odoo_server": "no instance",
    }
    assert body["count"] == len(body["results"]) > 0
    sources = {entry["source"] for entry in body["results"]}
    assert "audit" in sources and "event" in sources
    created = [
        e for e in body["results"] if e["source"] == "audit" and e["event"] == "tenant.created"
    ]
    assert created and created[0]["actor_id"] == owner.user["id"]
    stamps = [entry["at"] for entry in body["results"]]
    assert stamps == sorted(stamps, reverse=True)

    assert (await client.get(path, headers=admin.headers)).status_code == 200
    stranger = await verified_user(client, runtime, inbox, "stranger@example.com")
    assert_envelope(await client.get(path, headers=stranger.headers), 404, "TENANT_NOT_FOUND")
    assert_envelope(await client.get(path), 401, "UNAUTHORIZED")
    assert_envelope(
        await client.get(path, params={"level": "loud"}, headers=owner.headers),
        422,
        "VALIDATION_ERROR",
    )
    later = clock_module.isoformat(clock_module.now() + timedelta(days=1))
    earlier = clock_module.isoformat(clock_module.now() - timedelta(days=1))
    assert_envelope(
        await client.get(
            path, params={"date_from": later, "date_to": earlier}, headers=owner.headers
        ),
        422,
        "VALIDATION_ERROR",
    )
    empty = await client.get(path, params={"date_from": later}, headers=owner.headers)
    assert empty.json()["count"] == 0


@pytest.mark.slow
async def test_a_ready_tenant_logs_its_provisioning_and_odoo_logins(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    tenant: Tenant = await ready_tenant(client, runtime, owner, odoo)
    tenant.uid()  # one more login, as a user of the database would
    path = f"/api/v1/tenants/{tenant.id}/logs"
    body = (await client.get(path, params={"page_size": 100}, headers=owner.headers)).json()
    assert body["sources"]["odoo"] == "ok"
    by_source: dict[str, list[dict[str, object]]] = {}
    for entry in body["results"]:
        by_source.setdefault(str(entry["source"]), []).append(entry)
    assert {"audit", "event", "instance", "odoo"} <= set(by_source)
    assert any(e["event"] == "tenant.ready" for e in by_source["event"])
    assert any("-> ready" in str(e["message"]) for e in by_source["instance"])
    # Each provisioning step once, when it finished, named in the message.
    steps = [e["message"] for e in by_source["event"] if e["event"] == "instance.progress"]
    assert sorted(steps) == sorted(
        f"instance.progress: {step} finished" for step in PROVISION_STEPS
    ), steps
    logins = by_source["odoo"]
    assert len(logins) >= 1 and all(e["event"] == "odoo.login" for e in logins)

    only_logins = await client.get(path, params={"search": "odoo.login"}, headers=owner.headers)
    assert only_logins.json()["count"] == len(logins)
    errors = await client.get(path, params={"level": "error"}, headers=owner.headers)
    assert errors.json()["count"] == 0

    # Pages of 2 walk the same list.
    first = (await client.get(path, params={"page_size": 2}, headers=owner.headers)).json()
    assert first["count"] == body["count"] and first["next"]
    second = (await client.get(first["next"], headers=owner.headers)).json()
    assert [*first["results"], *second["results"]] == body["results"][:4]


@pytest.mark.slow
async def test_the_odoo_servers_lines_of_the_tenants_database_are_in_its_log(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    log_file = odoo.data_dir / "odoo.log"
    host = await add_host(client, admin, odoo, log_path=str(log_file))
    assert host["log_path"] == str(log_file)
    tenant: Tenant = await ready_tenant(client, runtime, owner, odoo)
    tenant.uid()
    assert odoo.rpc("common", "authenticate", tenant.database, "admin", "wrong", {}) is False
    # Another database's record, and one of the tenant's spanning lines (a traceback), as
    # Odoo writes them; the emulator's lines are appended to the same file.
    with log_file.open("a", encoding="utf-8") as fh:
        fh.write(
            "2026-01-02 03:04:05,006 77 ERROR someone_else odoo.http: Secret of another tenant\n"
            f"2026-01-02 03:04:06,007 77 ERROR {tenant.database} odoo.sql_db: bad query\n"
            "Traceback (most recent call last):\n"
            '  File "odoo/sql_db.py", line 1, in execute\n'
        )
    path = f"/api/v1/tenants/{tenant.id}/logs"
    body = (await client.get(path, params={"page_size": 100}, headers=owner.headers)).json()
    assert body["sources"]["odoo_server"] == "ok"
    lines = [e for e in body["results"] if e["source"] == "odoo_server"]
    messages = [str(e["message"]) for e in lines]
    login_line = f"Login successful for db:{tenant.database} login:admin"
    assert any(m.startswith(login_line) for m in messages), messages
    failed = [m for m in messages if m.startswith(f"Login failed for db:{tenant.database}")]
    assert failed
    assert not any("another tenant" in m for m in messages)
    # Every line is the tenant's database's (the emulator logs others: templates, spares).
    assert all(tenant.database in m or "bad query" in m for m in messages), messages
    traceback = next(e for e in lines if "bad query" in str(e["message"]))
    assert traceback["level"] == "error" and traceback["event"] == "odoo.sql_db"
    assert traceback["at"] == "2026-01-02T03:04:06.007000Z"
    assert "sql_db.py" in str(traceback["message"])

    errors = (await client.get(path, params={"level": "error"}, headers=owner.headers)).json()
    assert [e["message"].split("\n")[0] for e in errors["results"]] == ["bad query"]
    found = await client.get(path, params={"search": "Login failed"}, headers=owner.headers)
    assert found.json()["count"] == len(failed)
    old = await client.get(path, params={"date_to": "2026-01-03T00:00:00Z"}, headers=owner.headers)
    assert [e["event"] for e in old.json()["results"]] == ["odoo.sql_db"]

    # Unreadable (moved away): the rest of the log is still shown, and says so.
    log_file.rename(log_file.with_suffix(".old"))
    body = (await client.get(path, headers=owner.headers)).json()
    assert body["sources"]["odoo_server"] == "unavailable" and body["count"] > 0
