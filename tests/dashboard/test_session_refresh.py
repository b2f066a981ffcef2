"""The dashboard refreshes the API's tokens before they expire, and the session lives on, also
when one browser's pages reach two API processes at once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from saas_server.core.settings import Settings
from saas_server.dashboard.session import SESSION_COOKIE, SessionCodec
from tests.fixtures.dashboard import dashboard_login
from tests.fixtures.live_server import running_server
from tests.fixtures.settings import TEST_SECRET_KEY

HTTP_TIMEOUT = httpx.Timeout(60.0)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Shorter than the refresh margin: every page refreshes the pair.
    return {"access_token_ttl_seconds": 5}


async def test_each_page_refreshes_a_token_near_expiry_and_rewrites_the_cookie(
    client: httpx.AsyncClient, owner: object
) -> None:
    await dashboard_login(client, "owner@example.com")
    seen = {client.cookies["saas_session"]}
    for _ in range(3):
        page = await client.get("/app/tenants")
        assert page.status_code == 200, page.text
        assert "Your tenants" in page.text
        seen.add(client.cookies["saas_session"])
    # A new sealed pair each time: the rotated refresh token was never presented twice
    # (the API would have ended the session and the page sent to /login).
    assert len(seen) == 4


async def _pages_at_once(servers: list[str], cookie: str) -> list[httpx.Response]:
    """One browser's page loads on two API processes at the same moment, with one cookie."""

    async def page(base_url: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=base_url, timeout=HTTP_TIMEOUT) as browser:
            return await browser.get(
                "/app/tenants", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}
            )

    return list(await asyncio.gather(*(page(url) for url in servers)))


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings_overrides",
    [
        {"access_token_ttl_seconds": 5},
        {"access_token_ttl_seconds": 5, "refresh_reuse_grace_seconds": 0},
    ],
    ids=["grace", "no-grace"],
)
async def test_one_browser_refreshing_on_two_processes_at_once_keeps_its_session(
    settings: Settings, owner: object
) -> None:
    """Each process has its own RefreshGate, so both exchange the same refresh token: within
    the reuse grace window both get the same successor; without it the API ends the session."""
    codec = SessionCodec(TEST_SECRET_KEY)
    grace = settings.refresh_reuse_grace_seconds > 0
    with running_server(settings) as first, running_server(settings) as second:
        async with httpx.AsyncClient(base_url=first, timeout=HTTP_TIMEOUT) as browser:
            await dashboard_login(browser, "owner@example.com")
            cookie = browser.cookies[SESSION_COOKIE]
        for _ in range(3):
            pages = await _pages_at_once([first, second], cookie)
            if not grace:
                # The second exchange of the rotated token was taken as theft.
                assert any(p.status_code != 200 for p in pages), [p.status_code for p in pages]
                return
            assert [p.status_code for p in pages] == [200, 200], [p.text for p in pages]
            assert all("Your tenants" in p.text for p in pages)
            sessions = [codec.open(p.cookies[SESSION_COOKIE]) for p in pages]
            assert all(s is not None for s in sessions)
            # Both processes hold the one successor: the browser keeps whichever cookie.
            assert len({s.refresh_token for s in sessions if s is not None}) == 1
            cookie = pages[1].cookies[SESSION_COOKIE]
