"""The whole identity flow over HTTP, with mail read from a real SMTP server."""

from __future__ import annotations

import httpx

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import DEFAULT_PASSWORD, login, register
from tests.fixtures.smtp import Inbox


async def test_register_verify_login_me_refresh_logout(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, clock: FrozenClock
) -> None:
    user = await register(client, "Ada@Example.com", full_name="Ada Lovelace")
    assert user["email"] == "ada@example.com"
    assert user["email_verified"] is False
    assert user["full_name"] == "Ada Lovelace"
    assert user["first_name"] == "Ada" and user["last_name"] == "Lovelace"
    assert "password" not in str(user).lower()

    # The mail is sent by a job, not by the request.
    assert inbox.to("ada@example.com") == []
    await runtime.run_pending_jobs()
    mail = await inbox.wait_for("ada@example.com")
    assert mail.sender == "platform@saas.test"
    assert "http://testserver/verify-email?token=" in mail.text

    # Unverified users can log in.
    session = await login(client, "ada@example.com")
    assert session.user["email_verified"] is False

    verified = await client.post("/api/v1/auth/verify-email", json={"token": mail.token()})
    assert verified.status_code == 200
    # The token is single-use.
    again = await client.post("/api/v1/auth/verify-email", json={"token": mail.token()})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "INVALID_TOKEN"

    login_response = await client.post(
        "/api/v1/auth/login", json={"username": "ADA@example.com", "password": DEFAULT_PASSWORD}
    )
    assert login_response.status_code == 200
    pair = login_response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    assert pair["user"]["email_verified"] is True
    auth = {"Authorization": f"Bearer {pair['access_token']}"}

    me = await client.get("/api/v1/auth/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert me.json()["email_verified"] is True

    # Refresh rotates: a new pair, and the old refresh token is refused afterwards.
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200
    new_pair = refreshed.json()
    assert new_pair["refresh_token"] != pair["refresh_token"]
    # Past the reuse grace window (tests/auth/test_refresh_grace.py has the window itself).
    clock.advance(seconds=runtime.settings.refresh_reuse_grace_seconds + 1)
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "UNAUTHORIZED"
    # ...and presenting it again revoked the whole family, the new token included.
    family_dead = await client.post(
        "/api/v1/auth/refresh", json={"refresh": new_pair["refresh_token"]}
    )
    assert family_dead.status_code == 401
    dead_access = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {new_pair['access_token']}"}
    )
    assert dead_access.status_code == 401

    # A fresh login, then logout: its refresh token is refused afterwards.
    fresh = await login(client, "ada@example.com")
    out = await client.post(
        "/api/v1/auth/logout", headers=fresh.headers, json={"refresh_token": fresh.refresh_token}
    )
    assert out.status_code == 204
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": fresh.refresh_token})
    assert after.status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=fresh.headers)).status_code == 401


async def test_refresh_keeps_the_session_alive_across_rotations(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "rot@example.com")
    session = await login(client, "rot@example.com")
    token = session.refresh_token
    for _ in range(3):
        response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 200
        token = response.json()["refresh_token"]
        me = await client.get(
            "/api/v1/auth/me",
            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
        )
        assert me.status_code == 200


async def test_oauth2_form_token_endpoint(client: httpx.AsyncClient) -> None:
    await register(client, "form@example.com")
    response = await client.post(
        "/api/v1/auth/token", data={"username": "form@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


async def test_resend_verification_answers_202_for_anyone(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    await register(client, "late@example.com")
    unknown = await client.post(
        "/api/v1/auth/resend-verification", json={"email": "nobody@example.com"}
    )
    known = await client.post(
        "/api/v1/auth/resend-verification", json={"email": "late@example.com"}
    )
    assert unknown.status_code == known.status_code == 202
    await runtime.run_pending_jobs()
    second = await inbox.wait_for("late@example.com", count=2)
    assert inbox.to("nobody@example.com") == []
    ok = await client.post("/api/v1/auth/verify-email", json={"token": second.token()})
    assert ok.status_code == 200


async def test_profile_read_and_update(client: httpx.AsyncClient) -> None:
    await register(client, "prof@example.com")
    session = await login(client, "prof@example.com")
    patched = await client.patch(
        "/api/v1/auth/profile", headers=session.headers, json={"first_name": "Grace"}
    )
    assert patched.status_code == 200
    assert patched.json()["first_name"] == "Grace"
    assert patched.json()["full_name"] == "Grace User"
    profile = await client.get("/api/v1/auth/profile", headers=session.headers)
    assert profile.json()["full_name"] == "Grace User"
