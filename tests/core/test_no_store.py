"""Answers that carry a token, a password or a download link are never stored by a cache:
``Cache-Control: no-store`` on every API answer unless its route says otherwise."""

from __future__ import annotations

import httpx

from tests.fixtures.auth import DEFAULT_PASSWORD, LoggedIn, register


def _no_store(response: httpx.Response) -> bool:
    return "no-store" in response.headers.get("cache-control", "")


async def test_token_answers_are_not_stored(client: httpx.AsyncClient) -> None:
    await register(client, "cache@example.com")
    login = await client.post(
        "/api/v1/auth/login", json={"email": "cache@example.com", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200 and _no_store(login)
    form = await client.post(
        "/api/v1/auth/token", data={"username": "cache@example.com", "password": DEFAULT_PASSWORD}
    )
    assert form.status_code == 200 and _no_store(form)
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200 and _no_store(refreshed)


async def test_user_data_and_errors_are_not_stored(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert me.status_code == 200 and _no_store(me)
    tenants = await client.get("/api/v1/tenants", headers=owner.headers)
    assert tenants.status_code == 200 and _no_store(tenants)
    refused = await client.get("/api/v1/auth/me")
    assert refused.status_code == 401 and _no_store(refused)


async def test_the_api_description_may_be_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200 and not _no_store(response)
