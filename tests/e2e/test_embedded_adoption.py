"""A server killed with SIGKILL leaves its embedded PostgreSQL running; the next server on
the same data dir adopts it and stops it when it exits."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.embedded import embedded_dir
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.slow
__all__ = ["embedded_dir"]  # the fixture, imported for this module's tests


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def serve_off(embedded_dir: Path, smtp_server: SmtpServer) -> Iterator[ServeProcess]:
    process = ServeProcess(embedded_dir, smtp_server.port)
    process.env["SAAS_ODOO_EMULATOR"] = "off"
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()
    # Whatever happened, no server outlives the test.
    pgdata = embedded_dir / ".saas-data" / "postgres"
    pid = postmaster_pid(pgdata)
    if pid is not None and running(pid):
        # A fast shutdown (pg_ctl refuses to run as root, where the server has its own user).
        os.kill(pid, signal.SIGINT)
        wait_for(lambda: not running(pid), timeout=30)


def test_a_leftover_embedded_postgres_is_adopted_and_stopped(
    serve_off: ServeProcess, embedded_dir: Path
) -> None:
    pgdata = embedded_dir / ".saas-data" / "postgres"
    serve_off.start()
    first_postgres = postmaster_pid(pgdata)
    assert first_postgres is not None and running(first_postgres)

    assert serve_off.proc is not None
    serve_off.proc.send_signal(signal.SIGKILL)
    serve_off.proc.wait(timeout=30)
    serve_off.log.close()
    assert running(first_postgres), "a SIGKILL leaves the embedded PostgreSQL running"

    serve_off.start()
    assert postmaster_pid(pgdata) == first_postgres, "the leftover server is reused"
    assert serve_off.stop() == 0
    assert wait_for(lambda: not running(first_postgres), timeout=60), (
        "the server that adopted the leftover PostgreSQL stopped it when it exited"
    )
    assert not (pgdata / "postmaster.pid").exists()
