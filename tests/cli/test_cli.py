"""The command line: clear one-sentence errors, and create-admin."""

from __future__ import annotations

import gc
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from saas_server.cli.main import app
from tests.fixtures.settings import TEST_SECRET_KEY


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "SAAS_DATABASE_URL": database_url,
        "SAAS_DATA_DIR": str(tmp_path / "data"),
        "SAAS_SECRET_KEY": TEST_SECRET_KEY,
        "SAAS_LOG_LEVEL": "WARNING",
    }
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    # The CLI's log lines land in the captured output, and so would asyncio's "exception was
    # never retrieved" reports about objects earlier tests left for the garbage collector
    # (seen once in CI, under load): collect them now, before the command's output is read.
    gc.collect()
    return env


def _invoke(args: list[str], env: dict[str, str], stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, args, env=env, input=stdin, catch_exceptions=False)


def test_version(cli_env: dict[str, str]) -> None:
    result = _invoke(["version"], cli_env)
    assert result.exit_code == 0
    assert result.output.strip()


def test_create_admin_from_stdin(cli_env: dict[str, str], database_url: str) -> None:
    result = _invoke(
        ["create-admin", "--email", "Root@Example.com", "--password-stdin"],
        cli_env,
        stdin="a-long-admin-passphrase\n",
    )
    assert result.exit_code == 0, result.output
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT role, email_verified_at IS NOT NULL, password_hash FROM users WHERE email = %s",
            ("root@example.com",),
        ).fetchone()
    assert row is not None
    role, verified, password_hash = row
    assert role == "admin" and verified
    assert password_hash.startswith("$argon2")

    again = _invoke(
        ["create-admin", "--email", "root@example.com", "--password-stdin"],
        cli_env,
        stdin="a-long-admin-passphrase\n",
    )
    assert again.exit_code == 1
    assert "exists already" in again.output
    assert "Traceback" not in again.output


def test_create_admin_refuses_a_weak_password_in_one_sentence(cli_env: dict[str, str]) -> None:
    result = _invoke(
        ["create-admin", "--email", "weak@example.com", "--password-stdin"],
        cli_env,
        stdin="password\n",
    )
    assert result.exit_code == 1
    assert "Error:" in result.output and "password" in result.output.lower()
    assert "Traceback" not in result.output


def test_promote_existing_user(cli_env: dict[str, str], database_url: str) -> None:
    _invoke(
        ["create-admin", "--email", "first@example.com", "--password-stdin"],
        cli_env,
        stdin="a-long-admin-passphrase\n",
    )
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE users SET role = 'user' WHERE email = 'first@example.com'")
    result = _invoke(["create-admin", "--email", "first@example.com", "--promote"], cli_env)
    assert result.exit_code == 0, result.output
    with psycopg.connect(database_url) as conn:
        role = conn.execute("SELECT role FROM users WHERE email = 'first@example.com'").fetchone()
    assert role == ("admin",)


def test_unreachable_database_is_one_sentence(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "SAAS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = _invoke(["migrate"], env)
    assert result.exit_code == 1
    assert "Cannot reach the database" in result.output
    assert "Traceback" not in result.output


def test_production_without_secret_key_refuses_to_start(cli_env: dict[str, str]) -> None:
    env = {k: v for k, v in cli_env.items() if k != "SAAS_SECRET_KEY"}
    env["SAAS_ENV"] = "production"
    result = _invoke(["migrate"], env)
    assert result.exit_code == 1
    assert "SAAS_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_invalid_setting_is_named(cli_env: dict[str, str]) -> None:
    result = _invoke(["migrate"], {**cli_env, "SAAS_SMTP_PORT": "not-a-number"})
    assert result.exit_code == 1
    assert "SAAS_SMTP_PORT" in result.output


def test_migrate_reports_the_revision(cli_env: dict[str, str]) -> None:
    result = _invoke(["migrate"], cli_env)
    assert result.exit_code == 0, result.output
    assert "revision" in result.output


def test_create_admin_and_promote_leave_audit_entries(
    cli_env: dict[str, str], database_url: str
) -> None:
    created = _invoke(
        ["create-admin", "--email", "audited@example.com", "--password-stdin"],
        cli_env,
        stdin="a-long-admin-passphrase\n",
    )
    assert created.exit_code == 0, created.output
    with psycopg.connect(database_url) as conn:
        user_id = conn.execute(
            "SELECT id FROM users WHERE email = 'audited@example.com'"
        ).fetchone()[0]
        conn.execute("UPDATE users SET role = 'user' WHERE id = %s", (user_id,))
    promoted = _invoke(["create-admin", "--email", "audited@example.com", "--promote"], cli_env)
    assert promoted.exit_code == 0, promoted.output

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT action, resource_type, new_values, user_agent, mac IS NOT NULL"
            " FROM audit_log WHERE resource_id = %s ORDER BY seq",
            (str(user_id),),
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("user.created", "user"), ("user.role_changed", "user")]
    assert rows[0][2]["email"] == "audited@example.com" and rows[0][2]["role"] == "admin"
    assert rows[1][2] == {"role": "admin"}
    assert all(r[3] == "saas-cli" and r[4] for r in rows)
    assert "argon2" not in str(rows)
    verified = _invoke(["audit", "verify"], cli_env)
    assert verified.exit_code == 0, verified.output
