"""``saas serve`` as a fresh clone runs it: embedded PostgreSQL, in-process worker, restart;
a second ``saas serve`` beside it; every documented Odoo version; the supervised emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from saas_server.core.serving import listen_on
from tests.fixtures.auth import DEFAULT_PASSWORD, LoggedIn, login
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import SmtpServer, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def serve(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path, smtp_server.port)
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


async def test_fresh_start_register_restart_keeps_users(
    serve: ServeProcess, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    smtp_server.inbox.clear()
    serve.start()
    pgdata = tmp_path / ".saas-data" / "postgres"
    assert (pgdata / "PG_VERSION").exists(), "the embedded PostgreSQL lives in the data dir"
    assert (tmp_path / ".saas-data" / "secret_key").exists()

    async with httpx.AsyncClient(base_url=serve.base_url, timeout=10) as client:
        registered = await client.post(
            "/api/v1/auth/register",
            json={"email": "keep@example.com", "password": DEFAULT_PASSWORD, "full_name": "Keep"},
        )
        assert registered.status_code == 201, registered.text
        # The in-process worker sends the verification mail.
        mail = await smtp_server.inbox.wait_for("keep@example.com", timeout=30)
        assert mail.text.startswith("Hello Keep")
        assert (
            await client.post("/api/v1/auth/verify-email", json={"token": mail.token()})
        ).status_code == 200

    assert serve.stop() == 0
    assert not (pgdata / "postmaster.pid").exists(), "PostgreSQL was stopped cleanly"

    serve.start()
    async with httpx.AsyncClient(base_url=serve.base_url, timeout=10) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"email": "keep@example.com", "password": DEFAULT_PASSWORD}
        )
        assert login.status_code == 200, login.text
        assert login.json()["user"]["email_verified"] is True
    assert serve.stop() == 0


async def admin_of(serve: ServeProcess) -> LoggedIn:
    created = serve.run_cli(
        "create-admin", "--email", "root@example.com", "--password-stdin", stdin=DEFAULT_PASSWORD
    )
    assert created.returncode == 0, created.stderr.decode()
    async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as client:
        return await login(client, "root@example.com")


async def emulator_hosts(client: httpx.AsyncClient, admin: LoggedIn) -> dict[str, dict[str, Any]]:
    """The built-in emulator's hosts by Odoo version."""
    listed = await client.get("/api/v1/admin/odoo-hosts", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    return {host["odoo_version"]: host for host in listed.json()["results"] if host["is_emulator"]}


async def provision(
    client: httpx.AsyncClient, admin: LoggedIn, subdomains: dict[str, str], timeout: float = 300
) -> None:
    """Create one tenant per ``subdomain -> odoo_version`` and wait until each is ready."""
    tenant_ids = {}
    for subdomain, version in subdomains.items():
        created = await client.post(
            "/api/v1/tenants",
            json={"name": subdomain.title(), "subdomain": subdomain, "odoo_version": version},
            headers=admin.headers,
        )
        assert created.status_code == 202, created.text
        tenant_ids[subdomain] = created.json()["id"]
    deadline = time.monotonic() + timeout
    waiting = dict(tenant_ids)
    instances: dict[str, Any] = {}
    while waiting and time.monotonic() < deadline:
        for subdomain, tenant_id in list(waiting.items()):
            tenant = await client.get(f"/api/v1/tenants/{tenant_id}", headers=admin.headers)
            assert tenant.status_code == 200, tenant.text
            instances[subdomain] = instance = tenant.json()["instance"]
            assert instance is None or instance["status"] != "failed", (
                instance["step"],
                instance["status_reason"],
                instance["error"],
            )
            if instance is not None and instance["status"] == "ready":
                assert instance["odoo_version"] == subdomains[subdomain]
                del waiting[subdomain]
        await asyncio.sleep(0.5)
    assert not waiting, f"not ready within {timeout} s: {[instances.get(s) for s in waiting]}"


def odoo_serie(url: str) -> str:
    answer = httpx.post(
        url + "/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"service": "common", "method": "version", "args": []},
        },
        timeout=10,
    ).json()
    return str(answer["result"]["server_serie"])


async def test_second_serve_on_the_same_port_and_data_dir_changes_nothing(
    serve: ServeProcess,
) -> None:
    # No standby pool: the tenant below proves the first server still provisions, apart
    # from the template race of issue 13 (item 2), which has its own test.
    serve.env["SAAS_STANDBY_DATABASES_PER_HOST"] = "0"
    serve.start()
    admin = await admin_of(serve)
    async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as client:
        hosts_before = await emulator_hosts(client, admin)
        assert hosts_before and all(h["status"] == "healthy" for h in hosts_before.values())
        emulator_before = serve.emulator_pids()
        assert len(emulator_before) == 1

        second = serve.run_cli("serve", "--host", "127.0.0.1", "--port", str(serve.port))
        output = (second.stdout + second.stderr).decode()
        assert second.returncode != 0, output
        assert "Serving on" not in output, output
        assert f"127.0.0.1:{serve.port}" in output and "in use" in output, output

        # Another port, the same data dir: the data dir is in use (its emulator host would
        # be re-registered by a second server).
        third = serve.run_cli("serve", "--host", "127.0.0.1", "--port", str(free_port()))
        output = (third.stdout + third.stderr).decode()
        assert third.returncode != 0, output
        assert "Serving on" not in output, output
        assert "data dir" in output and "in use" in output, output

        hosts_after = await emulator_hosts(client, admin)
        assert {v: h["url"] for v, h in hosts_after.items()} == {
            v: h["url"] for v, h in hosts_before.items()
        }
        assert all(h["status"] == "healthy" for h in hosts_after.values()), hosts_after
        assert serve.emulator_pids() == emulator_before
        await provision(client, admin, {"afterwards": "18.0"})
        assert all(h["status"] == "healthy" for h in (await emulator_hosts(client, admin)).values())
    assert serve.stop() == 0


async def test_a_fresh_platform_provisions_every_documented_version(serve: ServeProcess) -> None:
    serve.start()
    admin = await admin_of(serve)
    async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as client:
        await provision(
            client, admin, {"seventeen": "17.0", "eighteen": "18.0", "nineteen": "19.0"}
        )
        hosts = await emulator_hosts(client, admin)
    assert set(hosts) == {"17.0", "18.0", "19.0"}
    for version, host in hosts.items():
        assert odoo_serie(host["url"]) == version
    assert serve.stop() == 0


async def test_a_killed_emulator_is_restarted_and_its_hosts_recover(serve: ServeProcess) -> None:
    # No standby pool: the emulator is killed while idle. A kill in the middle of a
    # template's creation is the template race of issue 13 (item 2), tested on its own.
    serve.env["SAAS_STANDBY_DATABASES_PER_HOST"] = "0"
    serve.start()
    admin = await admin_of(serve)
    async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as client:
        hosts = await emulator_hosts(client, admin)
        assert hosts and all(h["status"] == "healthy" for h in hosts.values()), hosts
        [emulator] = serve.emulator_pids()
        os.kill(emulator, signal.SIGKILL)

        seen_down: set[str] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            current = await emulator_hosts(client, admin)
            seen_down |= {v for v, h in current.items() if h["status"] == "down"}
            restarted = [pid for pid in serve.emulator_pids() if pid != emulator]
            if (
                seen_down == set(hosts)
                and restarted
                and all(h["status"] == "healthy" for h in current.values())
            ):
                break
            await asyncio.sleep(0.05)
        assert seen_down == set(hosts), f"not every host was seen down: {seen_down}"
        assert all(h["status"] == "healthy" for h in current.values()), current
        # The emulator serves again on the registered addresses, each its own version.
        assert {v: h["url"] for v, h in current.items()} == {v: h["url"] for v, h in hosts.items()}
        for version, host in current.items():
            assert odoo_serie(host["url"]) == version
        await provision(client, admin, {"revived": "18.0"})
    assert serve.stop() == 0


async def test_the_emulator_serves_where_it_bound_not_where_a_port_looked_free(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A port bound by another program but not listening looks free to a connect: the
    emulator must still not be registered there."""
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    taken = squatter.getsockname()[1]
    process = ServeProcess(tmp_path, smtp_server.port)
    process.env["SAAS_ODOO_EMULATOR_PORT"] = str(taken)
    try:
        process.start()
        admin = await admin_of(process)
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as client:
            hosts = await emulator_hosts(client, admin)
        assert hosts and all(h["status"] == "healthy" for h in hosts.values()), hosts
        assert all(f":{taken}" not in h["url"] for h in hosts.values()), hosts
        for version, host in hosts.items():
            assert odoo_serie(host["url"]) == version
        assert process.stop() == 0
    finally:
        squatter.close()
        if process.proc is not None and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


async def test_a_killed_platform_leaves_no_emulator_behind(
    tmp_path: Path, smtp_server: SmtpServer, database_url: str
) -> None:
    """The emulator stops by itself when the platform that started it is gone, even killed:
    nothing keeps its ports. (On the test's PostgreSQL, not the embedded one, which a
    killed platform leaves running: that part is issue 22 item 2's first bullet.)"""
    process = ServeProcess(tmp_path, smtp_server.port)
    process.env |= {"SAAS_DATABASE_URL": database_url, "SAAS_STANDBY_DATABASES_PER_HOST": "0"}
    try:
        process.start()
        admin = await admin_of(process)
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as client:
            urls = [h["url"] for h in (await emulator_hosts(client, admin)).values()]
        [emulator] = process.emulator_pids()
        assert process.proc is not None
        process.proc.kill()
        process.proc.wait()

        def running(pid: int) -> bool:
            try:  # the third field of stat is the state; Z: exited, not yet reaped
                return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
            except FileNotFoundError:
                return False

        deadline = time.monotonic() + 60
        while running(emulator) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not running(emulator), "the emulator outlived the platform that started it"
        for url in urls:
            port = int(url.rsplit(":", 1)[1])
            listen_on("127.0.0.1", port).close()  # nothing listens on the emulator's ports
    finally:
        if process.proc is not None and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()
