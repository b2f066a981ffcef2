"""A success is answered only once it is committed: through a real server (uvicorn), where a
client can act on a response before the app has finished with the request."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import DEFAULT_PASSWORD, LoggedIn, login, register
from tests.fixtures.backups import ready_tenant
from tests.fixtures.commits import slow_commits
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host, subdomain
from tests.fixtures.smtp import Inbox

HTTP_TIMEOUT = httpx.Timeout(60.0)


@pytest.fixture
async def live(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real server, on one keep-alive connection: the next request can
    reach the server while it is still busy with the previous one."""
    async with httpx.AsyncClient(base_url=live_server, timeout=HTTP_TIMEOUT) as client:
        yield client


# The tables each kind of create writes its new row to.
CREATED_TABLES = (
    "users",
    "auth_sessions",
    "tenants",
    "tenant_memberships",
    "tenant_invitations",
    "odoo_hosts",
    "backups",
    "restores",
)


async def assert_found(live: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    found = await live.get(path, headers=headers)
    assert found.status_code == 200, f"GET {path} right after its 2xx: {found.text}"
    return found.json()


class Reads:
    """GETs right after each create's 2xx. A miss is recorded, then waited for, so the walk
    goes on and one failing run names every kind of create that was answered too early."""

    def __init__(self, live: httpx.AsyncClient) -> None:
        self.live = live
        self.missed: list[str] = []

    async def found(
        self, kind: str, path: str, headers: dict[str, str], *, listing: str | None = None
    ) -> Any:
        """``path``'s body; with ``listing``, ``path`` is a list that must hold that id."""
        deadline = time.monotonic() + 30
        first = True
        while True:
            answer = await self.live.get(path, headers=headers)
            body = answer.json()
            ok = answer.status_code == 200 and (
                listing is None or listing in [item["id"] for item in body["results"]]
            )
            if ok:
                return body
            if first:
                self.missed.append(f"{kind}: GET {path} -> {answer.status_code}")
                first = False
            assert time.monotonic() < deadline, f"{kind}: never found: {answer.text}"
            await asyncio.sleep(0.05)

    def assert_none_missed(self) -> None:
        assert self.missed == [], "found only later:\n" + "\n".join(self.missed)


async def test_a_created_tenant_is_found_at_once_200_times_in_a_row(
    live: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    slow_commits(runtime.database_url, CREATED_TABLES, seconds=0.05)
    for _ in range(200):
        created = await live.post(
            "/api/v1/tenants",
            json={"name": "Read Your Writes", "subdomain": subdomain()},
            headers=admin.headers,
        )
        assert created.status_code == 202, created.text
        await assert_found(live, f"/api/v1/tenants/{created.json()['id']}", admin.headers)


async def test_every_kind_of_create_is_found_at_once(
    live: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    slow_commits(runtime.database_url, CREATED_TABLES)
    reads = Reads(live)
    # Registration, with and without a tenant: the account can log in at once.
    email = f"reg-{uuid.uuid4().hex[:8]}@example.com"
    registered = await live.post(
        "/api/v1/auth/register",
        json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "Reader"},
    )
    assert registered.status_code == 201, registered.text
    await reads.found("register", f"/api/v1/users/{registered.json()['id']}", admin.headers)
    session = await login(live, email)
    await reads.found("login", "/api/v1/auth/me", session.headers)
    with_tenant = await live.post(
        "/api/v1/auth/register",
        json={
            "email": f"signup-{uuid.uuid4().hex[:8]}@example.com",
            "password": DEFAULT_PASSWORD,
            "full_name": "Signup",
            "tenant_name": "Signup Ltd",
            "subdomain": subdomain(),
        },
    )
    assert with_tenant.status_code == 201, with_tenant.text
    await reads.found(
        "register with a tenant", f"/api/v1/users/{with_tenant.json()['id']}", admin.headers
    )

    # A user made by an administrator.
    made = await live.post(
        "/api/v1/users",
        json={"email": f"made-{uuid.uuid4().hex[:8]}@example.com", "password": DEFAULT_PASSWORD},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    await reads.found("user create", f"/api/v1/users/{made.json()['id']}", admin.headers)

    # A tenant, a member added to it, an address invited, the invitation accepted.
    tenant = await live.post(
        "/api/v1/tenants",
        json={"name": "Members Ltd", "subdomain": subdomain()},
        headers=admin.headers,
    )
    assert tenant.status_code == 202, tenant.text
    tenant_id = tenant.json()["id"]
    await reads.found("tenant create", f"/api/v1/tenants/{tenant_id}", admin.headers)
    added = await live.post(
        f"/api/v1/tenants/{tenant_id}/users",
        json={"user_id": made.json()["id"], "role": "member"},
        headers=admin.headers,
    )
    assert added.status_code == 201, added.text
    member_path = f"/api/v1/tenants/{tenant_id}/users/{made.json()['id']}"
    await reads.found("member add", member_path, admin.headers)

    invitee = f"invitee-{uuid.uuid4().hex[:8]}@example.com"
    invited = await live.post(
        f"/api/v1/tenants/{tenant_id}/users",
        json={"email": invitee, "role": "admin"},
        headers=admin.headers,
    )
    assert invited.status_code == 202, invited.text
    await reads.found(
        "member invite",
        f"/api/v1/tenants/{tenant_id}/invitations",
        admin.headers,
        listing=invited.json()["id"],
    )
    reads.assert_none_missed()


@pytest.mark.slow  # an Odoo emulator process and a provisioned tenant
async def test_invitation_acceptance_and_host_backup_restore_are_found_at_once(
    client: httpx.AsyncClient,
    live: httpx.AsyncClient,
    runtime: Runtime,
    admin: LoggedIn,
    owner: LoggedIn,
    inbox: Inbox,
    odoo: EmulatorProcess,
) -> None:
    slow_commits(runtime.database_url, CREATED_TABLES)
    reads = Reads(live)
    host = await add_host(live, admin, odoo)
    await reads.found("host create", f"/api/v1/admin/odoo-hosts/{host['id']}", admin.headers)

    tenant = await ready_tenant(client, runtime, owner, odoo)

    invitee = f"invitee-{uuid.uuid4().hex[:8]}@example.com"
    invited = await live.post(
        f"/api/v1/tenants/{tenant.id}/users", json={"email": invitee}, headers=owner.headers
    )
    assert invited.status_code == 202, invited.text
    await reads.found(
        "member invite",
        f"/api/v1/tenants/{tenant.id}/invitations",
        owner.headers,
        listing=invited.json()["id"],
    )
    await runtime.run_pending_jobs()
    token = (await inbox.wait_for(invitee)).token()
    newcomer_id = (await register(live, invitee))["id"]
    await reads.found("register", f"/api/v1/users/{newcomer_id}", admin.headers)
    newcomer = await login(live, invitee)
    await reads.found("login", "/api/v1/auth/me", newcomer.headers)
    accepted = await live.post(
        "/api/v1/invitations/accept", json={"token": token}, headers=newcomer.headers
    )
    assert accepted.status_code == 200, accepted.text
    await reads.found("invitation accept", f"/api/v1/tenants/{tenant.id}", newcomer.headers)

    backup = await live.post(
        f"/api/v1/tenants/{tenant.id}/backups", json={"reason": "ryw"}, headers=owner.headers
    )
    assert backup.status_code == 202, backup.text
    backup_path = f"/api/v1/tenants/{tenant.id}/backups/{backup.json()['id']}"
    await reads.found("backup create", backup_path, owner.headers)
    await runtime.run_pending_jobs()
    assert (await assert_found(live, backup_path, owner.headers))["status"] == "completed"

    by_admin = await live.post(
        f"/api/v1/admin/tenants/{tenant.id}/actions",
        json={"action": "backup", "reason": "ryw"},
        headers=admin.headers,
    )
    assert by_admin.status_code == 202, by_admin.text
    admin_backup = by_admin.json()["backup"]["id"]
    await reads.found(
        "admin backup action", f"/api/v1/tenants/{tenant.id}/backups/{admin_backup}", owner.headers
    )
    await runtime.run_pending_jobs()

    restore = await live.post(
        f"{backup_path}/restore",
        json={"new_tenant": {"name": "Restored Ltd", "subdomain": subdomain()}},
        headers=owner.headers,
    )
    assert restore.status_code == 202, restore.text
    started = restore.json()
    await reads.found(
        "restore",
        f"/api/v1/tenants/{started['tenant_id']}/restores/{started['id']}",
        owner.headers,
    )
    await reads.found(
        "restore into a new tenant", f"/api/v1/tenants/{started['tenant_id']}", owner.headers
    )
    reads.assert_none_missed()


REFUSE_AT_COMMIT = """
CREATE FUNCTION test_refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused at commit' USING ERRCODE = %s;
END $$;
CREATE CONSTRAINT TRIGGER test_refuse_at_commit AFTER INSERT ON tenants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_at_commit();
"""


@pytest.mark.parametrize(
    "sqlstate",
    [
        "P0001",  # any error
        "40001",  # a serialisation failure
        "23505",  # a unique violation found only at commit
    ],
)
async def test_a_commit_that_fails_answers_an_error_never_a_success(
    live: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime, sqlstate: str
) -> None:
    # A deferred constraint runs at COMMIT, after the endpoint has returned its answer.
    with psycopg.connect(runtime.database_url, autocommit=True) as conn:
        conn.execute(REFUSE_AT_COMMIT.replace("%s", f"'{sqlstate}'"))  # type: ignore[arg-type]
    name = subdomain()
    created = await live.post(
        "/api/v1/tenants", json={"name": "Never Ltd", "subdomain": name}, headers=admin.headers
    )
    assert not created.is_success, created.text
    assert created.status_code >= 400
    error: dict[str, Any] = created.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
    assert error["request_id"] == created.headers["x-request-id"]
    listed = await live.get(f"/api/v1/tenants?search={name}", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] == 0


# With the reuse grace off, presenting a rotated token again at once is theft.
@pytest.mark.parametrize("settings_overrides", [{"refresh_reuse_grace_seconds": 0}])
async def test_an_error_that_keeps_its_changes_has_committed_them_when_answered(
    live: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime
) -> None:
    """A reused refresh token revokes its family (AppError.keeps_changes): once the 401 is
    answered, the family's newest token is already refused."""
    slow_commits(runtime.database_url, ["auth_sessions"])
    for _ in range(5):
        first = await login(live, owner.email)
        refresh = "/api/v1/auth/refresh"
        rotated = await live.post(refresh, json={"refresh_token": first.refresh_token})
        assert rotated.status_code == 200, rotated.text
        reused = await live.post(refresh, json={"refresh_token": first.refresh_token})
        assert_envelope(reused, 401, "UNAUTHORIZED")
        newest = await live.post(
            "/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
        )
        assert newest.status_code == 401, newest.text
