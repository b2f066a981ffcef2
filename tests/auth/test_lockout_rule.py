"""The lockout rule of docs/decisions/0005-login-lockout.md: atomic under concurrency, and
no weapon against the account's owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from saas_server.core.runtime import Runtime
from saas_server.core.security import password_hasher
from tests.fixtures.auth import DEFAULT_PASSWORD, register
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox, ReceivedMail

WRONG = "not-the-password-at-all"
VICTIM = "spread-attack@example.com"
UNLOCK_SUBJECT = "Sign-ins to your account are paused"


@asynccontextmanager
async def client_from(app: FastAPI, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every real password check (argon2 verify) made from now on, counted."""
    checked: list[str] = []
    verify: Callable[..., bool] = password_hasher.verify

    def counting_verify(password: str, password_hash: str | None) -> bool:
        checked.append(password)
        return verify(password, password_hash)

    monkeypatch.setattr(password_hasher, "verify", counting_verify)
    return checked


async def test_concurrent_wrong_passwords_get_no_more_checks_than_the_threshold(
    client: httpx.AsyncClient, runtime: Runtime, password_checks: list[str]
) -> None:
    await register(client, "rush@example.com")
    threshold = runtime.settings.login_lockout_threshold
    password_checks.clear()

    answers = await asyncio.gather(
        *(_attempt(client, "rush@example.com", f"{WRONG}-{n}") for n in range(30))
    )

    assert len(password_checks) == threshold
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * threshold + [429] * (30 - threshold)
    # And the lock holds for the right password too, without checking it.
    assert (await _attempt(client, "rush@example.com", DEFAULT_PASSWORD)).status_code == 429
    assert len(password_checks) == threshold


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn on a free loopback port, in this event loop (so the
    password checks it makes are counted here)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 30
    while not server.started:
        if task.done() or asyncio.get_running_loop().time() > deadline:
            raise AssertionError("uvicorn did not start")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


async def test_concurrent_wrong_passwords_over_real_http_get_threshold_checks(
    client: httpx.AsyncClient, app: FastAPI, runtime: Runtime, password_checks: list[str]
) -> None:
    await register(client, "rush-http@example.com")
    threshold = runtime.settings.login_lockout_threshold
    password_checks.clear()
    async with served(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        answers = await asyncio.gather(
            *(_attempt(http, "rush-http@example.com", f"{WRONG}-{n}") for n in range(30))
        )
    assert len(password_checks) == threshold
    assert sorted(a.status_code for a in answers) == [401] * threshold + [429] * (30 - threshold)


async def test_an_attacker_from_one_address_does_not_lock_out_the_owner_elsewhere(
    client: httpx.AsyncClient, app: FastAPI, password_checks: list[str]
) -> None:
    await register(client, "target@example.com")
    async with client_from(app, "198.51.100.66") as attacker:
        answers = [await _attempt(attacker, "target@example.com", WRONG) for _ in range(30)]
        assert {a.status_code for a in answers} == {401, 429}
        assert_envelope(answers[-1], 429, "RATE_LIMIT_EXCEEDED")

    # The owner, from their own address, is not touched by it.
    owner = await _attempt(client, "target@example.com", DEFAULT_PASSWORD)
    assert owner.status_code == 200, owner.text


@pytest.mark.parametrize("settings_overrides", [{"login_lockout_account_threshold": 12}])
async def test_account_wide_ceiling_spares_known_sources_and_mails_a_working_unlock_link(
    client: httpx.AsyncClient,
    app: FastAPI,
    runtime: Runtime,
    inbox: Inbox,
    settings_overrides: dict[str, Any],
) -> None:
    await register(client, VICTIM)
    # The owner has signed in from home before.
    assert (await _attempt(client, VICTIM, DEFAULT_PASSWORD)).status_code == 200

    # Many attackers, each under the per-source threshold's lock, together pass the ceiling.
    for n in range(3):
        async with client_from(app, f"198.51.100.{n + 1}") as attacker:
            for _ in range(5):
                await _attempt(attacker, VICTIM, WRONG)

    # A place the owner never signed in from is paused ...
    async with client_from(app, "192.0.2.50") as new_device:
        paused = await _attempt(new_device, VICTIM, DEFAULT_PASSWORD)
        assert_envelope(paused, 429, "RATE_LIMIT_EXCEEDED")
    # ... home is not.
    assert (await _attempt(client, VICTIM, DEFAULT_PASSWORD)).status_code == 200

    # The owner got the unlock link, on the real SMTP inbox.
    await runtime.run_pending_jobs()
    mail = await _unlock_mail(inbox, VICTIM)
    token = mail.token()
    assert "/unlock-account?token=" in mail.text

    async with client_from(app, "192.0.2.50") as new_device:
        opened = await new_device.post("/api/v1/auth/unlock", json={"token": token})
        assert opened.status_code == 200, opened.text
        # The attack goes on from yet another address and passes the ceiling again ...
        for n in range(3):
            async with client_from(app, f"198.51.100.{n + 10}") as attacker:
                for _ in range(5):
                    await _attempt(attacker, VICTIM, WRONG)
        async with client_from(app, "192.0.2.99") as elsewhere:
            again = await _attempt(elsewhere, VICTIM, DEFAULT_PASSWORD)
            assert again.status_code == 429
        # ... and the device that opened the link still signs in.
        signed_in = await _attempt(new_device, VICTIM, DEFAULT_PASSWORD)
        assert signed_in.status_code == 200, signed_in.text

        # The link works once.
        reused = await new_device.post("/api/v1/auth/unlock", json={"token": token})
        assert_envelope(reused, 400, "INVALID_TOKEN")


async def _unlock_mail(inbox: Inbox, address: str, timeout: float = 10) -> ReceivedMail:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = [m for m in inbox.to(address) if m.subject == UNLOCK_SUBJECT]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no unlock mail for {address}")


async def test_unknown_addresses_get_no_unlock_mail_and_answer_alike(
    client: httpx.AsyncClient, app: FastAPI, runtime: Runtime, inbox: Inbox
) -> None:
    for n in range(12):
        async with client_from(app, f"198.51.100.{n + 1}") as attacker:
            for _ in range(5):
                await _attempt(attacker, "nobody@example.com", WRONG)
    async with client_from(app, "192.0.2.7") as other:
        assert (await _attempt(other, "nobody@example.com", WRONG)).status_code in (401, 429)
    await runtime.run_pending_jobs()
    assert inbox.to("nobody@example.com") == []


def test_sources_are_addresses_and_ipv6_networks() -> None:
    from saas_server.auth.service import login_source

    assert login_source("203.0.113.7") == "203.0.113.7"
    assert login_source("2001:db8:1:2:3:4:5:6") == login_source("2001:db8:1:2:ffff::1")
    assert login_source("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert login_source("::ffff:203.0.113.7") == "203.0.113.7"
    assert login_source(None) == login_source("not-an-address") == "unknown"


async def test_a_password_reset_lifts_the_lock(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    await register(client, "forgetful@example.com")
    for _ in range(runtime.settings.login_lockout_threshold):
        await _attempt(client, "forgetful@example.com", WRONG)
    assert (await _attempt(client, "forgetful@example.com", DEFAULT_PASSWORD)).status_code == 429

    asked = await client.post(
        "/api/v1/auth/password-reset/request", json={"email": "forgetful@example.com"}
    )
    assert asked.status_code == 202
    await runtime.run_pending_jobs()
    deadline = asyncio.get_running_loop().time() + 10
    while not (resets := [m for m in inbox.to("forgetful@example.com") if "Reset" in m.subject]):
        assert asyncio.get_running_loop().time() < deadline, "no reset mail"
        await asyncio.sleep(0.05)
    new_password = "a-brand-new-passphrase"
    confirmed = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": resets[0].token(), "new_password": new_password},
    )
    assert confirmed.status_code == 200
    assert (await _attempt(client, "forgetful@example.com", new_password)).status_code == 200
