"""``saas serve`` says what to do next, once it is serving: its address, the docs, the first
admin's command while there is none, the emulator's address."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.odoo import SAAS
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.slow

LAST_LINE = "Ctrl-C stops the platform."


class AnnouncedServe(ServeProcess):
    def start_and_read_message(self) -> str:
        """Start, and return what the process printed up to the end of its message."""
        log_path = self.workdir / "serve.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        proc = self.launch()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            output = log_path.read_bytes()[offset:].decode(errors="replace")
            if LAST_LINE in output:
                # Printed once serving: every address it shows answers already.
                assert httpx.get(self.base_url + "/health", timeout=5).status_code == 200
                return output
            assert proc.poll() is None, output
            time.sleep(0.1)
        raise AssertionError("saas serve printed no next steps within 120 s")


@pytest.fixture
def announced(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[AnnouncedServe]:
    process = AnnouncedServe(tmp_path, smtp_server.port)
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


def test_serve_prints_the_next_steps_once_serving(announced: AnnouncedServe) -> None:
    first = announced.start_and_read_message()
    url = announced.base_url
    assert f"Serving on {url}" in first
    assert f"{url}/docs" in first and f"{url}/redoc" in first
    assert "saas create-admin --email" in first, first
    emulator_lines = [line for line in first.splitlines() if "Odoo emulator:" in line]
    assert len(emulator_lines) >= 1, first
    assert announced.stop() == 0

    created = subprocess.run(
        [SAAS, "create-admin", "--email", "root@example.com", "--password-stdin"],
        cwd=announced.workdir,
        env=announced.env,
        input=DEFAULT_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr

    second = announced.start_and_read_message()
    assert "create-admin" not in second, "an admin exists: no need to say how to make one"
    login = httpx.post(
        url + "/api/v1/auth/login",
        json={"email": "root@example.com", "password": DEFAULT_PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    listed = httpx.get(
        url + "/api/v1/admin/odoo-hosts",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        timeout=10,
    ).json()
    hosts = listed["results"]
    emulator_urls = [host["url"] for host in hosts if host["is_emulator"]]
    assert emulator_urls, hosts
    for emulator_url in emulator_urls:
        assert f"Odoo emulator:  {emulator_url}" in second, second
    assert announced.stop() == 0
