"""Every auth event leaves an audit entry, committed with it, and no secret in it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from saas_server.audit.models import AuditEntry
from saas_server.core.runtime import Runtime
from tests.audit.support import SECRET_MARKERS, entries
from tests.fixtures.auth import DEFAULT_PASSWORD, login, register, verified_user
from tests.fixtures.smtp import Inbox

NO_VERIFICATION = pytest.mark.parametrize(
    "settings_overrides", [{"require_email_verification": False}]
)
NEW_PASSWORD = "a-brand-new-passphrase"


def assert_no_secrets(found: list[AuditEntry], *secrets: str) -> None:
    for entry in found:
        text = json.dumps([entry.old_values, entry.new_values, entry.resource_id, entry.user_agent])
        for secret in (*SECRET_MARKERS, DEFAULT_PASSWORD, NEW_PASSWORD, *secrets):
            assert secret not in text, f"{secret!r} leaked into {entry.action}: {text}"


def only(found: list[AuditEntry]) -> AuditEntry:
    assert len(found) == 1, [e.action for e in found]
    return found[0]


@NO_VERIFICATION
async def test_registration_records_the_new_user_and_the_client(
    client: httpx.AsyncClient, runtime: Runtime, settings_overrides: dict[str, Any]
) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "new@example.com", "password": DEFAULT_PASSWORD, "full_name": "New"},
        headers={"User-Agent": "audit-test/1.0", "X-Request-ID": "req-register-1"},
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]

    entry = only(await entries(runtime, "user.registered"))
    assert str(entry.user_id) == user_id
    assert entry.resource_type == "user" and entry.resource_id == user_id
    assert entry.new_values is not None and entry.new_values["email"] == "new@example.com"
    assert entry.old_values is None
    assert entry.ip_address == "203.0.113.7"
    assert entry.user_agent == "audit-test/1.0"
    assert entry.request_id == "req-register-1"
    assert_no_secrets([entry])


async def test_email_verification_is_recorded(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    session = await verified_user(client, runtime, inbox, "verify@example.com")

    entry = only(await entries(runtime, "auth.email_verified"))
    assert str(entry.user_id) == session.user["id"]
    assert entry.new_values is not None and entry.new_values["email_verified_at"]
    assert_no_secrets(await entries(runtime), session.access_token, session.refresh_token)


@NO_VERIFICATION
async def test_failed_logins_are_committed_without_the_password(
    client: httpx.AsyncClient, runtime: Runtime, settings_overrides: dict[str, Any]
) -> None:
    registered = await register(client, "victim@example.com")
    wrong = await client.post(
        "/api/v1/auth/login",
        json={"email": "victim@example.com", "password": "not-the-password-at-all"},
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@example.com", "password": DEFAULT_PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401

    # Read in a new transaction: the entries survived the error response.
    failed = await entries(runtime, "auth.login_failed")
    assert [(e.new_values or {}).get("reason") for e in failed] == [
        "wrong_password",
        "unknown_email",
    ]
    assert failed[0].resource_id == registered["id"] and failed[0].user_id is None
    assert failed[1].resource_id is None
    assert (failed[1].new_values or {})["email"] == "ghost@example.com"
    assert_no_secrets(failed, "not-the-password-at-all")


@NO_VERIFICATION
async def test_successful_login_is_recorded_with_its_session(
    client: httpx.AsyncClient, runtime: Runtime, settings_overrides: dict[str, Any]
) -> None:
    await register(client, "someone@example.com")
    session = await login(client, "someone@example.com")

    entry = only(await entries(runtime, "auth.login"))
    assert str(entry.user_id) == session.user["id"]
    assert entry.new_values is not None and entry.new_values["session_id"]
    assert_no_secrets([entry], session.access_token, session.refresh_token)


@NO_VERIFICATION
async def test_login_refused_during_lockout_is_recorded(
    client: httpx.AsyncClient, runtime: Runtime, settings_overrides: dict[str, Any]
) -> None:
    await register(client, "locked@example.com")
    threshold = runtime.settings.login_lockout_threshold
    for _ in range(threshold):
        bad = {"email": "locked@example.com", "password": "wrong-password-guess"}
        assert (await client.post("/api/v1/auth/login", json=bad)).status_code == 401
    refused = await client.post(
        "/api/v1/auth/login", json={"email": "locked@example.com", "password": DEFAULT_PASSWORD}
    )
    assert refused.status_code == 429

    assert len(await entries(runtime, "auth.login_failed")) == threshold
    locked = only(await entries(runtime, "auth.login_locked"))
    assert locked.new_values == {"email": "locked@example.com", "reason": "source_locked"}
    assert_no_secrets(await entries(runtime))


@NO_VERIFICATION
async def test_logout_is_recorded(
    client: httpx.AsyncClient, runtime: Runtime, settings_overrides: dict[str, Any]
) -> None:
    await register(client, "leaving@example.com")
    session = await login(client, "leaving@example.com")
    response = await client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": session.refresh_token},
        headers=session.headers,
    )
    assert response.status_code == 204

    # The access token's session and the refresh token's are the same: one entry.
    entry = only(await entries(runtime, "auth.logout"))
    assert str(entry.user_id) == session.user["id"]
    login_entry = only(await entries(runtime, "auth.login"))
    assert entry.new_values == {"session_id": (login_entry.new_values or {})["session_id"]}
    assert_no_secrets([entry], session.access_token, session.refresh_token)


@NO_VERIFICATION
async def test_password_change_is_recorded(
    client: httpx.AsyncClient, runtime: Runtime, settings_overrides: dict[str, Any]
) -> None:
    await register(client, "changer@example.com")
    session = await login(client, "changer@example.com")
    response = await client.post(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=session.headers,
    )
    assert response.status_code == 200, response.text

    entry = only(await entries(runtime, "auth.password_changed"))
    assert str(entry.user_id) == session.user["id"]
    assert entry.resource_id == session.user["id"]
    assert_no_secrets(await entries(runtime), session.access_token, session.refresh_token)


async def test_password_reset_request_and_confirmation_are_recorded(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    registered = await register(client, "forgetful@example.com")
    await runtime.run_pending_jobs()  # the verification mail
    response = await client.post(
        "/api/v1/auth/password-reset/request", json={"email": "forgetful@example.com"}
    )
    assert response.status_code == 202
    await runtime.run_pending_jobs()
    token = (await inbox.wait_for("forgetful@example.com", count=2)).token()
    done = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.text

    requested = only(await entries(runtime, "auth.password_reset_requested"))
    assert requested.resource_id == registered["id"] and requested.user_id is None
    reset = only(await entries(runtime, "auth.password_reset"))
    assert str(reset.user_id) == registered["id"]
    assert_no_secrets(await entries(runtime), token)
