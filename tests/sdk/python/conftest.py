"""One running platform for the SDK's tests: ``saas serve`` (embedded PostgreSQL, a worker, the
built-in Odoo emulator) as a fresh clone runs it, mail to the test SMTP server. The SDK is
what a user installs (``pip install -e sdk/python``); it talks to the platform over HTTP only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.sdk import ANONYMOUS_LIMIT, ANONYMOUS_WINDOW_SECONDS
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import SmtpServer


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
