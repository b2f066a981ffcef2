"""One running platform for the SDK's tests: ``saas serve`` (embedded PostgreSQL, a worker, the
built-in Odoo emulator) as a fresh clone runs it, mail to the test SMTP server. The SDK is
what a user installs (``pip install -e sdk/python``); it talks to the platform over HTTP only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from saas_platform import AsyncClient

from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import Inbox, SmtpServer

# Anonymous calls (per IP) are limited low on this platform, so the SDK's handling of 429 is
# seen for real; every other test's anonymous calls (register, verify) go through the SDK,
# which waits as told and carries on.
ANONYMOUS_LIMIT = 5
ANONYMOUS_WINDOW_SECONDS = 2


@pytest.fixture(scope="session")
def platform(
    tmp_path_factory: pytest.TempPathFactory, smtp_server: SmtpServer
) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path_factory.mktemp("sdk-platform"), smtp_server.port)
    process.env |= {
        "SAAS_RATE_LIMIT_ANONYMOUS": f"{ANONYMOUS_LIMIT} per {ANONYMOUS_WINDOW_SECONDS} seconds",
        # The webhook receiver of the tests listens on loopback.
        "SAAS_WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    process.start()
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.stop()


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def register_verified(platform: ServeProcess, inbox: Inbox, email: str) -> None:
    """An account, registered and verified through the SDK (the README's first steps)."""
    async with AsyncClient(base_url=platform.base_url) as anonymous:
        await anonymous.auth.register(email=email, password=DEFAULT_PASSWORD, full_name="SDK User")
        mail = await inbox.wait_for(email, timeout=30)
        await anonymous.auth.verify_email(mail.token())


@dataclass
class Traffic:
    """What an SDK client sent and received, seen from httpx's event hooks."""

    requests: list[httpx.Request] = field(default_factory=list)
    responses: list[tuple[float, httpx.Response]] = field(default_factory=list)

    def paths(self, method: str) -> list[str]:
        return [r.url.path for r in self.requests if r.method == method]
