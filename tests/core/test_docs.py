"""/docs and /redoc work without internet: every script and style comes from this server."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest


class _References(HTMLParser):
    """Every URL a page makes the browser load: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.others: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"] or "")
        elif tag in ("link", "img") and (values.get("href") or values.get("src")):
            self.others.append(values.get("href") or values.get("src") or "")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_same_origin_assets_that_are_served(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    # No absolute URL at all: a CDN, Google Fonts or the Swagger validator would all be one.
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE), html

    refs = _References()
    refs.feed(html)
    assert refs.scripts, "the page has its script"
    for url in refs.scripts + refs.others:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    for url in refs.scripts:
        asset = await client.get(url)
        assert "javascript" in asset.headers["content-type"], asset.headers["content-type"]
        assert len(asset.content) > 100_000, "the real bundle, not a stub"
        assert "max-age" in asset.headers.get("cache-control", "")

    # The browser is not even allowed to fetch from another origin.
    csp = response.headers["content-security-policy"]
    assert "http" not in csp and "*" not in csp, csp


async def test_swagger_ui_oauth2_redirect_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text.lower()
