"""Bad input of every kind answers in the envelope of conventions.md, with a request id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.fixtures.errors import assert_envelope


async def test_malformed_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "a@example.com", "password": ',
        headers={"content-type": "application/json"},
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "body" in error["details"]


async def test_missing_fields_are_listed_per_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/register", json={"email": "x@example.com"})
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "password" in error["details"]
    assert all(isinstance(m, list) and m for m in error["details"].values())


async def test_wrong_typed_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": ["not", "a", "string"], "password": 12345, "full_name": "X"},
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert {"email", "password"} <= set(error["details"])


async def test_invalid_email_and_weak_password(client: httpx.AsyncClient) -> None:
    bad_email = await client.post(
        "/api/v1/auth/register",
        json={"email": "not-an-email", "password": "a-fine-long-passphrase", "full_name": "X"},
    )
    assert "email" in assert_envelope(bad_email, 422, "VALIDATION_ERROR")["details"]
    for password in ("short1!", "password1234", "Password2024!", "qwertyuiop", "me@example.com"):
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "me@example.com", "password": password, "full_name": "X"},
        )
        error = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert "password" in error["details"], password


async def test_unknown_route(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/api/v1/does-not-exist"), 404, "NOT_FOUND")
    assert_envelope(await client.get("/nothing/here"), 404, "NOT_FOUND")


async def test_wrong_method(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/auth/login")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")


async def test_oversized_body_declared(client: httpx.AsyncClient) -> None:
    big = b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/v1/auth/login", content=big, headers={"content-type": "application/json"}
    )
    error = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"]["max_bytes"] == 1024 * 1024


async def test_oversized_body_streamed_without_length(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post(
        "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


async def test_client_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nope", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["error"]["request_id"] == "abc-123"
    ok = await client.get("/health", headers={"X-Request-ID": "trace-9"})
    assert ok.headers["x-request-id"] == "trace-9"


async def test_unusable_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert response.headers["x-request-id"] != "bad id with spaces"


async def test_trailing_slash_works(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/")).status_code == 200
    response = await client.post("/api/v1/auth/login/", json={})
    assert_envelope(response, 422, "VALIDATION_ERROR")


async def test_unhandled_exception_is_a_500_without_trace(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/api/v1/_boom")
    async def boom() -> None:
        raise RuntimeError("SELECT secret FROM users -- do not show me")

    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/api/v1/_boom")
    error = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert "SELECT" not in response.text and "Traceback" not in response.text
    assert error["details"] == {}
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/health", "/api/v1/nope"])
async def test_security_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"]
    assert "default-src" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers


async def test_hsts_over_https(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://secure.test") as c:
        response = await c.get("/health")
    assert "max-age=" in response.headers["strict-transport-security"]
