"""The dashboard refreshes the API's tokens before they expire, and the session lives on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.dashboard import dashboard_login


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
