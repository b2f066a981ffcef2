"""The tenant list answers what the detail answers (instance, limits, member_count), and a
page of 20 tenants costs as many SQL statements as a page of one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, update

from saas_server.core.runtime import Runtime
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import Instance
from tests.fixtures.auth import LoggedIn, platform_admin, register
from tests.fixtures.tenants import create_tenant


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"default_tenant_limit": 25}


@contextmanager
def counted_statements(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _place_every_instance_on_a_host(runtime: Runtime, name: str) -> None:
    """Give the instances without one a host, so the list has hosts to look up too."""
    async with runtime.db.transaction() as session:
        host = OdooHost(
            name=name,
            url="http://odoo.example.test:8069",
            master_password_encrypted=runtime.secrets.encrypt("master"),
            odoo_version="18.0",
            capacity=100,
        )
        session.add(host)
        await session.flush()
        await session.execute(
            update(Instance).where(Instance.host_id.is_(None)).values(host_id=host.id)
        )


async def _list(
    client: httpx.AsyncClient, runtime: Runtime, who: LoggedIn
) -> tuple[list[dict[str, Any]], int]:
    with counted_statements(runtime) as statements:
        response = await client.get("/api/v1/tenants?page_size=20", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["results"], len(statements)


async def test_tenant_list_has_the_detail_fields_in_constant_statements(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    admin = await platform_admin(client, runtime)
    first = await create_tenant(client, owner, "tenant-00")
    await _place_every_instance_on_a_host(runtime, "list-host")
    await _list(client, runtime, owner)  # warm: the caller's principal is cached after this
    await _list(client, runtime, admin)
    one, owner_statements_for_one = await _list(client, runtime, owner)
    _, admin_statements_for_one = await _list(client, runtime, admin)
    assert len(one) == 1

    for n in range(1, 20):
        await create_tenant(client, owner, f"tenant-{n:02d}")
    # Two hosts among the instances: a page may span several.
    await _place_every_instance_on_a_host(runtime, "list-host-2")
    # A second member in the first tenant: the count is per tenant, not per page.
    await register(client, "member@example.com")
    added = await client.post(
        f"/api/v1/tenants/{first['id']}/users",
        json={"email": "member@example.com", "role": "member"},
        headers=owner.headers,
    )
    assert added.status_code == 201, added.text

    twenty, owner_statements_for_twenty = await _list(client, runtime, owner)
    listed, admin_statements_for_twenty = await _list(client, runtime, admin)
    assert len(twenty) == 20 and len(listed) == 20
    assert owner_statements_for_twenty == owner_statements_for_one
    assert admin_statements_for_twenty == admin_statements_for_one

    detail = (await client.get(f"/api/v1/tenants/{first['id']}", headers=owner.headers)).json()
    by_id = {t["id"]: t for t in twenty}
    assert by_id[first["id"]]["member_count"] == 2
    assert {t["member_count"] for t in twenty if t["id"] != first["id"]} == {1}
    for tenant in twenty:
        assert tenant["limits"] and tenant["limits"] == detail["limits"]
        instance = tenant["instance"]
        assert instance is not None and instance["tenant_id"] == tenant["id"]
        assert instance["status"] == "pending"
        expected_host = "list-host" if tenant["id"] == first["id"] else "list-host-2"
        assert instance["host"]["name"] == expected_host
        assert instance["url"] == f"http://odoo.example.test:8069/web?db={tenant['subdomain']}"
        assert instance.get("admin_password") is None, "no secret in a list"
    listed_first = dict(by_id[first["id"]])
    for key in ("instance", "limits", "member_count", "estimated_completion"):
        if key == "instance":
            expected = {k: v for k, v in detail["instance"].items() if k != "admin_password"}
            assert {k: v for k, v in listed_first[key].items() if k != "admin_password"} == expected
        else:
            assert listed_first[key] == detail[key], key
