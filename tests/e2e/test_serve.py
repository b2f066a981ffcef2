"""``saas serve`` as a fresh clone runs it: embedded PostgreSQL, in-process worker, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.smtp import SmtpServer, free_port

pytestmark = pytest.mark.slow

SAAS = str(Path(sys.executable).parent / "saas")


class ServeProcess:
    def __init__(self, workdir: Path, smtp_port: int) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_")} | {
            "SAAS_MAIL_BACKEND": "smtp",
            "SAAS_SMTP_HOST": "127.0.0.1",
            "SAAS_SMTP_PORT": str(smtp_port),
            "SAAS_PUBLIC_URL": self.base_url,
            "SAAS_LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log = open(self.workdir / "serve.log", "ab")
        self.proc = subprocess.Popen(
            [SAAS, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.workdir,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.workdir / "serve.log").read_text()
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("saas serve did not answer /health within 90 s")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.log.close()
        return code


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
