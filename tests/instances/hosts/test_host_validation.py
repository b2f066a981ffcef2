"""A host is taken only when it is what it claims: an Odoo of the declared version at a real
http(s) URL, with a PostgreSQL URL that shows that Odoo's databases; names hold no control
characters."""

from __future__ import annotations

import http.server
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from saas_server.cli.main import app as cli_app
from saas_server.core.db import with_database
from saas_server.core.embedded_postgres import EmbeddedPostgres
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.settings import TEST_SECRET_KEY
from tests.fixtures.smtp import free_port

pytestmark = pytest.mark.slow

HOSTS = "/api/v1/admin/odoo-hosts"


def host_body(odoo: EmulatorProcess, **changes: Any) -> dict[str, Any]:
    return {
        "name": f"emulator-{uuid.uuid4().hex[:6]}",
        "url": odoo.url,
        "master_password": odoo.master_password,
        "odoo_version": odoo.version,
        "capacity": 10,
        "postgres_url": odoo.postgres_url,
    } | changes


@pytest.fixture
def not_odoo() -> Iterator[str]:
    """Some other web server, answering 200 to everything."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = b"<html>hello, I am not Odoo</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def other_postgres() -> Iterator[str]:
    """A PostgreSQL server that belongs to another program."""
    root = Path(tempfile.mkdtemp(prefix="saas-other-pg-"))
    server = EmbeddedPostgres(root / "pgdata")
    try:
        yield with_database(server.start(), "postgres")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def refused(
    client: httpx.AsyncClient, admin: LoggedIn, body: dict[str, Any], field: str
) -> dict[str, Any]:
    response = await client.post(HOSTS, json=body, headers=admin.headers)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert field in error["details"], error
    return error


@pytest.mark.parametrize(
    "url",
    [
        "http://2",
        "http://10.1:8069",
        "https://exa_mple.com",
        "http://host\x07name:8069",
        "http://user:secret@127.0.0.1:8069",
        "http://127.0.0.1:8069/?db=x",
    ],
)
async def test_a_url_that_names_no_real_host_is_refused(
    client: httpx.AsyncClient, admin: LoggedIn, odoo: EmulatorProcess, url: str
) -> None:
    await refused(client, admin, host_body(odoo, url=url), "url")
    listed = await client.get(HOSTS, headers=admin.headers)
    assert listed.json()["results"] == []


@pytest.mark.parametrize("name", ["bad\x1bname", "tab\tname", "bell\x07", "rtl\u202ename"])
async def test_control_characters_in_a_name_are_refused(
    client: httpx.AsyncClient, admin: LoggedIn, odoo: EmulatorProcess, name: str
) -> None:
    await refused(client, admin, host_body(odoo, name=name), "name")


async def test_a_url_where_no_odoo_answers_is_refused(
    client: httpx.AsyncClient, admin: LoggedIn, odoo: EmulatorProcess, not_odoo: str
) -> None:
    nothing = f"http://127.0.0.1:{free_port()}"
    error = await refused(client, admin, host_body(odoo, url=nothing), "url")
    assert "No Odoo answers" in error["details"]["url"][0]
    await refused(client, admin, host_body(odoo, url=not_odoo), "url")


async def test_a_host_of_another_version_than_declared_is_refused(
    client: httpx.AsyncClient, admin: LoggedIn, odoo: EmulatorProcess
) -> None:
    other = "17.0" if odoo.version != "17.0" else "18.0"
    await refused(client, admin, host_body(odoo, odoo_version=other), "odoo_version")


async def test_a_postgres_url_that_does_not_hold_the_odoos_databases_is_refused(
    client: httpx.AsyncClient, admin: LoggedIn, odoo: EmulatorProcess, other_postgres: str
) -> None:
    name = f"host_check_{uuid.uuid4().hex[:8]}"
    odoo.rpc("db", "create_database", odoo.master_password, name, False, "en_US", "admin-pw")
    error = await refused(
        client, admin, host_body(odoo, postgres_url=other_postgres), "postgres_url"
    )
    assert name in error["details"]["postgres_url"][0]
    for url in ("postgres://postgres@127.0.0.1/postgres", "mysql://root@127.0.0.1/odoo"):
        await refused(client, admin, host_body(odoo, postgres_url=url), "postgres_url")
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    await refused(client, admin, host_body(odoo, postgres_url=unreachable), "postgres_url")

    # The Odoo's own server is accepted.
    added = await client.post(HOSTS, json=host_body(odoo), headers=admin.headers)
    assert added.status_code == 201, added.text
    assert added.json()["status"] == "healthy"


async def test_patch_checks_the_new_address_as_add_does(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    not_odoo: str,
    other_postgres: str,
) -> None:
    added = await client.post(HOSTS, json=host_body(odoo), headers=admin.headers)
    assert added.status_code == 201, added.text
    path = f"{HOSTS}/{added.json()['id']}"
    odoo.rpc(
        "db",
        "create_database",
        odoo.master_password,
        f"host_patch_{uuid.uuid4().hex[:8]}",
        False,
        "en_US",
        "admin-pw",
    )
    for body, field in [
        ({"url": "http://2"}, "url"),
        ({"url": not_odoo}, "url"),
        ({"name": "new\x00line"}, "name"),
        ({"name": "new\nline"}, "name"),
        ({"postgres_url": other_postgres}, "postgres_url"),
    ]:
        response = await client.patch(path, json=body, headers=admin.headers)
        error = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert field in error["details"], (body, error)
    unchanged = (await client.get(path, headers=admin.headers)).json()
    assert unchanged["url"] == odoo.url and unchanged["name"] == added.json()["name"]


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--url", "http://2", "url"),
        ("--name", "evil\x1b[31mname", "name"),
        ("--postgres-url", "postgres://postgres@127.0.0.1/postgres", "postgres_url"),
    ],
)
def test_saas_hosts_add_checks_the_host_as_the_api_does(
    odoo: EmulatorProcess,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    value: str,
    field: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    env = {
        "SAAS_DATABASE_URL": database_url,
        "SAAS_DATA_DIR": str(tmp_path / "data"),
        "SAAS_SECRET_KEY": TEST_SECRET_KEY,
        "SAAS_LOG_LEVEL": "WARNING",
    }
    options = {"--name": "cli-host", "--url": odoo.url, "--postgres-url": odoo.postgres_url}
    options[option] = value
    args = ["hosts", "add", "--odoo-version", odoo.version, "--capacity", "5"]
    args += [item for pair in options.items() for item in pair] + ["--master-password-stdin"]
    result = CliRunner().invoke(
        cli_app, args, env=env, input=odoo.master_password + "\n", catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert field in result.output and "Traceback" not in result.output
    listed = CliRunner().invoke(cli_app, ["hosts", "list"], env=env, catch_exceptions=False)
    assert "cli-host" not in listed.output


async def test_the_host_list_is_a_page_like_every_list(
    client: httpx.AsyncClient, admin: LoggedIn, odoo: EmulatorProcess
) -> None:
    """conventions.md: every list answers {count, next, previous, results}, with search,
    ordering and filters."""
    for name in ("beta", "alpha"):
        added = await client.post(
            HOSTS,
            json=host_body(odoo, name=name),
            headers=admin.headers,
        )
        assert added.status_code == 201, added.text
    listed = (await client.get(HOSTS, headers=admin.headers)).json()
    assert listed["count"] == 2 and listed["next"] is None and listed["previous"] is None
    assert [h["name"] for h in listed["results"]] == ["alpha", "beta"]
    first = (await client.get(HOSTS, params={"page_size": 1}, headers=admin.headers)).json()
    assert [h["name"] for h in first["results"]] == ["alpha"] and first["next"]
    searched = await client.get(HOSTS, params={"search": "BET"}, headers=admin.headers)
    assert [h["name"] for h in searched.json()["results"]] == ["beta"]
    desc = await client.get(HOSTS, params={"ordering": "-name"}, headers=admin.headers)
    assert [h["name"] for h in desc.json()["results"]] == ["beta", "alpha"]
    none = await client.get(HOSTS, params={"status": "down"}, headers=admin.headers)
    assert none.json()["count"] == 0
    bogus = await client.get(HOSTS, params={"status": "bogus"}, headers=admin.headers)
    assert bogus.status_code == 422
