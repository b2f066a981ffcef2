"""Access tokens: expiry, tampering, foreign keys and ``alg: none`` all answer 401."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import jwt

from saas_server.core.clock import FrozenClock
from tests.fixtures.auth import login, register
from tests.fixtures.errors import assert_envelope


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _token(client: httpx.AsyncClient, email: str) -> str:
    await register(client, email)
    return (await login(client, email)).access_token


async def test_missing_and_garbage_tokens(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/api/v1/auth/me"), 401, "UNAUTHORIZED")
    response = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer garbage"})
    assert_envelope(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    token = await _token(client, "exp@example.com")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    clock.advance(timedelta(minutes=14, seconds=59))
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    clock.advance(timedelta(seconds=2))
    assert_envelope(await client.get("/api/v1/auth/me", headers=headers), 401, "UNAUTHORIZED")


async def test_tampered_payload(client: httpx.AsyncClient) -> None:
    token = await _token(client, "tamper@example.com")
    other = await register(client, "victim@example.com")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = other["id"]
    forged = f"{header}.{_b64(claims)}.{signature}"
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert_envelope(response, 401, "UNAUTHORIZED")


async def test_alg_none(client: httpx.AsyncClient) -> None:
    token = await _token(client, "none@example.com")
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {unsigned}"})
    assert_envelope(response, 401, "UNAUTHORIZED")


async def test_token_signed_with_another_key(client: httpx.AsyncClient) -> None:
    token = await _token(client, "key@example.com")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-key-that-is-long-enough", algorithm="HS256")
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert_envelope(response, 401, "UNAUTHORIZED")


async def test_claims_are_the_documented_ones(client: httpx.AsyncClient) -> None:
    token = await _token(client, "claims@example.com")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert {"sub", "exp", "iat", "jti", "type"} <= set(claims)
    assert claims["type"] == "access"
    assert claims["exp"] - claims["iat"] == 900


async def test_suspended_user_cannot_login_or_use_a_token(
    client: httpx.AsyncClient, runtime: object
) -> None:
    from sqlalchemy import update

    from saas_server.core.runtime import Runtime
    from saas_server.users.models import User

    assert isinstance(runtime, Runtime)
    await register(client, "sus@example.com")
    session = await login(client, "sus@example.com")
    async with runtime.db.transaction() as db:
        await db.execute(
            update(User).where(User.email == "sus@example.com").values(is_active=False)
        )
    me = await client.get("/api/v1/auth/me", headers=session.headers)
    assert_envelope(me, 401, "UNAUTHORIZED")
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session.refresh_token}
    )
    assert refresh.status_code == 401
    relogin = await client.post(
        "/api/v1/auth/login", json={"email": "sus@example.com", "password": session.password}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": session.password}
    )
    assert relogin.status_code == unknown.status_code == 401
    assert relogin.json()["error"]["message"] == unknown.json()["error"]["message"]
