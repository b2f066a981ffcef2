from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from saas_server.app import create_app
from saas_server.core import clock as clock_module
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from saas_server.wiring import build_runtime, wire
from tests.fixtures.auth import LoggedIn, platform_admin, verified_user
from tests.fixtures.live_server import running_server
from tests.fixtures.localstripe import localstripe_server
from tests.fixtures.odoo import EmulatorProcess, running_emulator
from tests.fixtures.postgres import database_from_template, migrated_template, postgres_server
from tests.fixtures.s3 import s3_server
from tests.fixtures.settings import TEST_SECRET_KEY
from tests.fixtures.smtp import Inbox, SmtpServer

# The test process is an entry point: runtimes built anywhere in the tests get the parts
# the domains provide, and the hooks are connected before any test runs.
wire()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def odoo_pg_server(pg_server: str) -> Iterator[str]:
    """The PostgreSQL server the Odoo emulators keep their databases on, as an Odoo host has
    its own. The platform names a tenant's Odoo database after its subdomain, so two
    pytest-xdist workers sharing SAAS_TEST_DATABASE_URL would both create "acme" there: the
    first worker (or a run without workers) uses that server, each other worker an embedded
    server of its own. The platform's own databases are always on ``pg_server``."""
    shared = os.environ.get("SAAS_TEST_DATABASE_URL")
    if not shared or os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":
        yield pg_server
        return
    with postgres_server(embedded=True) as url:
        yield url


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> Iterator[str]:
    with migrated_template(pg_server) as name:
        yield name


@pytest.fixture
def database_url(pg_server: str, template_db: str) -> Iterator[str]:
    with database_from_template(pg_server, template_db) as url:
        yield url


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3 endpoint (moto's server mode) on loopback: no public S3 is reachable."""
    with s3_server() as url:
        yield url


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    """A localstripe (Stripe's API, stateful, in memory) on loopback: its base URL. Shared by
    the session: tests make their own customers and never rely on its being empty."""
    with localstripe_server() as url:
        yield url


@pytest.fixture
def inbox(smtp_server: SmtpServer) -> Inbox:
    smtp_server.inbox.clear()
    return smtp_server.inbox


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or with indirect parametrize) to change settings."""
    return {}


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, smtp_server: SmtpServer, settings_overrides: dict[str, Any]
) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "public_url": "http://testserver",
        "mail_backend": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
        "mail_from": "platform@saas.test",
        "log_format": "text",
        "database_pool_size": 5,
        # Each test its own counters, also when they live in a shared Redis.
        "rate_limit_key_prefix": f"test-{uuid.uuid4().hex}",
    }
    redis_url = os.environ.get("SAAS_TEST_REDIS_URL")
    if redis_url:
        values["redis_url"] = redis_url
    values.update(settings_overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    assert settings.database_url is not None
    rt = build_runtime(settings, database_url=settings.database_url, secret_key=TEST_SECRET_KEY)
    yield rt
    await rt.close()


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime.settings, runtime=runtime)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The app served by a real uvicorn on a free port (tests/fixtures/live_server.py), on
    the test's database: its base URL. More servers: ``running_server(settings)``."""
    with running_server(settings) as url:
        yield url


@pytest.fixture
def clock() -> Iterator[clock_module.FrozenClock]:
    frozen = clock_module.FrozenClock(datetime.now(UTC).replace(microsecond=0))
    previous = clock_module.set_clock(frozen)
    yield frozen
    clock_module.set_clock(previous)


@pytest.fixture
def odoo(odoo_pg_server: str, tmp_path: Path) -> Iterator[EmulatorProcess]:
    """The Odoo emulator as its own process, reached over HTTP as a real Odoo would be (one
    per test; tests/odoo_emulator has its own, which can be a real server)."""
    with running_emulator(odoo_pg_server, tmp_path / "odoo") as emulator:
        yield emulator


@pytest.fixture
async def admin(client: httpx.AsyncClient, runtime: Runtime) -> LoggedIn:
    """A platform administrator, logged in."""
    return await platform_admin(client, runtime)


@pytest.fixture
async def owner(client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> LoggedIn:
    """A verified user, logged in, who will own tenants."""
    return await verified_user(client, runtime, inbox, "owner@example.com")


@pytest.fixture(autouse=True, scope="session")
def wired() -> None:
    """Hooks connected as in every entry point (deletion takes its backup through one)."""
    from saas_server.wiring import wire

    wire()
