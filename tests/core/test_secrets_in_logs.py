"""Nothing secret reaches the logs: statement parameters never, and production refuses the
console mail backend (it prints sign-in links)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from saas_server.core.errors import ConfigurationError
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings

SECRET_VALUE = "pw-hash-$argon2id$v=19$very-secret-value"


async def test_a_failed_statement_does_not_carry_its_parameters(runtime: Runtime) -> None:
    with pytest.raises(Exception) as failed:
        async with runtime.db.transaction() as session:
            await session.execute(text("SELECT length(:secret) / 0"), {"secret": SECRET_VALUE})
    assert "division by zero" in str(failed.value)
    assert SECRET_VALUE not in str(failed.value)


@pytest.mark.parametrize("log_format", ["json", "text", "console"])
async def test_a_registration_race_logs_no_password_hash_email_or_name(
    client: httpx.AsyncClient, log_format: str
) -> None:
    from saas_server.core.logging import build_handler

    body = {
        "email": "zebulon.race@example.com",
        "password": "correct-horse-battery-staple",
        "full_name": "Zebulon Quillfeather",
    }
    # The platform's own handler, at DEBUG, in each format.
    logged = io.StringIO()
    handler = build_handler(log_format, logged)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        answers = await asyncio.gather(
            *(client.post("/api/v1/auth/register", json=body) for _ in range(10))
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert sum(a.status_code == 201 for a in answers) == 1
    text_logged = logged.getvalue()
    assert "register" in text_logged  # the access log lines are there
    assert "$argon2" not in text_logged
    assert "Quillfeather" not in text_logged
    assert "zebulon.race" not in text_logged


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(  # type: ignore[call-arg, arg-type]
        _env_file=None, data_dir=tmp_path, secret_key="k" * 40, **values
    )


def test_production_refuses_the_console_mail_backend(tmp_path: Path) -> None:
    from saas_server.core.settings import check_production_settings

    with pytest.raises(ConfigurationError, match="SAAS_MAIL_BACKEND"):
        check_production_settings(_settings(tmp_path, env="production"))
    check_production_settings(_settings(tmp_path, env="production", mail_backend="smtp"))
    check_production_settings(_settings(tmp_path, env="development"))


def test_saas_serve_in_production_with_console_mail_exits_before_starting(
    tmp_path: Path,
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SAAS_") or key.startswith("SAAS_TEST_")
    }
    env.update(
        SAAS_ENV="production",
        SAAS_SECRET_KEY="k" * 40,
        SAAS_DATA_DIR=str(tmp_path / "data"),
        SAAS_MAIL_BACKEND="console",
    )
    saas = Path(sys.executable).with_name("saas")
    process = subprocess.Popen(
        [str(saas), "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        # It started serving: stop it the way an operator would, then fail.
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=60)
        raise AssertionError("saas serve started in production with the console backend") from None
    assert process.returncode != 0
    assert "SAAS_MAIL_BACKEND" in stderr
    # Refused before anything was started: no embedded PostgreSQL was created.
    assert not (tmp_path / "data" / "postgres").exists()
