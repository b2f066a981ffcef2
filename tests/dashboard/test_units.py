"""The dashboard's small parts: charts, the sealed session, the one-refresh gate."""

from __future__ import annotations

import asyncio
from typing import Any

from saas_server.dashboard import charts
from saas_server.dashboard.session import DashboardSession, RefreshGate, SessionCodec

KEY = "k" * 48


def test_a_line_chart_is_an_svg_image_that_says_what_it_shows() -> None:
    svg = str(
        charts.line_chart(
            "db size", [charts.Point("08:00", 10), charts.Point("08:01", 40)], unit="MB"
        )
    )
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert "<title" in svg and "latest 40 MB, highest 40 MB" in svg
    assert "style=" not in svg  # the page CSP allows no inline style
    assert "polyline" in svg


def test_chart_labels_are_escaped_and_an_empty_series_says_so() -> None:
    svg = str(charts.bar_chart("x", [charts.Point("<script>", 1)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "no samples yet" in str(charts.line_chart("cpu", []))


def test_the_session_cookie_is_sealed_and_a_tampered_one_is_no_session() -> None:
    codec = SessionCodec(KEY)
    sealed = codec.seal(DashboardSession("access.jwt", "refresh", {"email": "a@example.com"}))
    assert "access.jwt" not in sealed and "refresh" not in sealed
    opened = codec.open(sealed)
    assert opened is not None and opened.access_token == "access.jwt"
    assert codec.open(sealed[:-4] + "AAAA") is None
    assert SessionCodec("z" * 48).open(sealed) is None
    assert codec.open(None) is None


async def test_concurrent_requests_of_one_browser_share_one_refresh() -> None:
    gate = RefreshGate()
    calls: list[str] = []

    async def exchange(token: str) -> dict[str, Any]:
        calls.append(token)
        await asyncio.sleep(0.05)
        return {"access_token": "new", "refresh_token": f"after-{token}"}

    pairs = await asyncio.gather(*(gate.refresh("r1", exchange) for _ in range(5)))
    assert calls == ["r1"], "a rotated refresh token presented twice would end the session"
    assert {p["refresh_token"] for p in pairs} == {"after-r1"}
