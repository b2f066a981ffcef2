"""Readable, quiet logs at a terminal; JSON lines otherwise or when asked; routine work
(internal HTTP calls, periodic jobs) at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from saas_server.core.runtime import Runtime
from saas_server.core.schedule import RETRY_STALLED_TASK, defer_maintenance
from tests.fixtures.auth import register

LOG_ONE_LINE = """
import logging
from saas_server.core.settings import Settings
from saas_server.core.logging import configure_logging
settings = Settings(_env_file=None)
configure_logging(settings.log_level, settings.log_format)
logging.getLogger("saas_server.demo").info("tenant acme is ready")
"""


def _clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_")}
    env.update(values)
    return env


def _stderr_on_a_terminal(env: dict[str, str], tmp_path: Path) -> str:
    """Run LOG_ONE_LINE with standard error on a pseudo-terminal; what it wrote there."""
    main, side = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", LOG_ONE_LINE], env=env, cwd=tmp_path, stderr=side
        )
        os.close(side)
        chunks: list[bytes] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the other side closed
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        process.wait(timeout=60)
    finally:
        os.close(main)
    return b"".join(chunks).decode(errors="replace")


def _stderr_on_a_pipe(env: dict[str, str], tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", LOG_ONE_LINE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_terminal_gets_readable_lines_by_default(tmp_path: Path) -> None:
    out = _stderr_on_a_terminal(_clean_env(), tmp_path)
    assert "tenant acme is ready" in out
    assert "INFO" in out
    assert '"timestamp"' not in out and "{" not in out


def test_a_pipe_gets_json_lines_by_default(tmp_path: Path) -> None:
    line = _stderr_on_a_pipe(_clean_env(), tmp_path).strip()
    entry = json.loads(line)
    assert entry["message"] == "tenant acme is ready"
    assert entry["level"] == "info"


def test_saas_log_format_json_is_json_even_on_a_terminal(tmp_path: Path) -> None:
    out = _stderr_on_a_terminal(_clean_env(SAAS_LOG_FORMAT="json"), tmp_path)
    entry = json.loads(out.strip().splitlines()[-1])
    assert entry["message"] == "tenant acme is ready"


@pytest.fixture
def captured_logs() -> Iterator[tuple[io.StringIO, list[str]]]:
    """Logging configured into a buffer; the root logger is put back afterwards."""
    from saas_server.core.logging import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    levels: list[str] = []

    def configure(level_name: str) -> None:
        buffer.seek(0)
        buffer.truncate()
        levels.append(level_name)
        configure_logging(level_name, "json", stream=buffer)

    configure("INFO")
    yield buffer, levels
    root.handlers[:], root.level = handlers, level


def _entries(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def _internal_http_call() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    async with httpx.AsyncClient(transport=transport) as http:
        assert (await http.get("http://odoo.internal/web/webclient/version_info")).is_success


async def test_internal_http_calls_are_debug(
    captured_logs: tuple[io.StringIO, list[str]],
) -> None:
    from saas_server.core.logging import configure_logging

    buffer, _ = captured_logs
    await _internal_http_call()
    assert not [e for e in _entries(buffer) if e["logger"] == "httpx"]

    configure_logging("DEBUG", "json", stream=buffer)
    await _internal_http_call()
    calls = [e for e in _entries(buffer) if e["logger"] == "httpx"]
    assert calls and {e["level"] for e in calls} == {"debug"}


async def test_periodic_jobs_are_debug_and_other_jobs_info(
    client: httpx.AsyncClient,
    runtime: Runtime,
    captured_logs: tuple[io.StringIO, list[str]],
) -> None:
    from saas_server.core.logging import configure_logging

    buffer, _ = captured_logs
    await register(client, "logs@example.com")  # queues its verification mail
    await defer_maintenance(runtime, RETRY_STALLED_TASK)
    await runtime.run_pending_jobs()
    jobs = [e for e in _entries(buffer) if str(e["logger"]).startswith("procrastinate")]
    assert any("mail.send" in str(e["message"]) and e["level"] == "info" for e in jobs)
    assert not [e for e in jobs if RETRY_STALLED_TASK in str(e["message"])]

    configure_logging("DEBUG", "json", stream=buffer)
    await defer_maintenance(runtime, RETRY_STALLED_TASK)
    await runtime.run_pending_jobs()
    periodic = [e for e in _entries(buffer) if RETRY_STALLED_TASK in str(e["message"])]
    assert periodic and {e["level"] for e in periodic} == {"debug"}


async def test_migrations_say_what_they_apply_and_nothing_else_at_info(
    database_url: str, captured_logs: tuple[io.StringIO, list[str]]
) -> None:
    import asyncio

    from saas_server.core.migrations import upgrade

    buffer, _ = captured_logs
    await asyncio.to_thread(upgrade, database_url)  # already at head: nothing to apply
    assert [e["message"] for e in _entries(buffer) if str(e["logger"]).startswith("alembic")] == []
