"""SEO audit time for a page with 200 links, against the time of fetching that page alone.

The audit reads robots.txt, the page, the sitemap and checks up to 50 of the links (10 at a
time), so its cost is a handful of extra round trips, not 200. The site is served on loopback
by a threaded server that answers every link, twice: speaking HTTP/1.1 with keep-alive (as
real sites do: the auditor reuses its connections) and HTTP/1.0 (a new connection for every
request, the baseline). All measurements run in this process, in the same run, and the ratios
are what to watch; the connections each audit opened are counted by the server.

    .venv/bin/python bench/seo.py [--runs 20] [--links 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.sites import html, site

from saas_server.core.outbound import get_checked
from saas_server.marketing import seo


def page(links: int) -> str:
    anchors = "\n".join(f'<a href="/p/{i}">page {i}</a>' for i in range(links))
    return f"""<!doctype html><html lang="en"><head><title>A page with many links to check</title>
<meta name="description" content="{"x" * 100}"><meta name="viewport" content="width=device-width">
</head><body><h1>Links</h1>{anchors}</body></html>"""


async def measure(base: str, runs: int) -> tuple[list[float], list[float]]:
    fetch_times: list[float] = []
    audit_times: list[float] = []
    async with httpx.AsyncClient() as http:
        for _ in range(runs):
            started = time.perf_counter()
            await get_checked(
                http, f"{base}/", allow_private=True, timeout_seconds=15, max_body=5 << 20
            )
            fetch_times.append(time.perf_counter() - started)
        for _ in range(runs):
            # A client per audit, as the audit job has (marketing/service.py run_audit).
            async with httpx.AsyncClient() as own:
                started = time.perf_counter()
                report = await seo.audit_page(
                    seo.Fetcher(own, allow_private=True), f"{base}/", ["links"], []
                )
                audit_times.append(time.perf_counter() - started)
            assert report["page"]["internal_links"] > 0
    return fetch_times, audit_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--links", type=int, default=200)
    args = parser.parse_args()
    pages = {"/": html(page(args.links)), "/sitemap.xml": html("<urlset/>")}
    pages.update({f"/p/{i}": html("<html><body>ok</body></html>") for i in range(args.links)})
    checked = min(args.links, seo.MAX_LINKS_CHECKED)
    print(f"page with {args.links} links ({checked} checked), {args.runs} runs (medians)")
    results = {}
    for keep_alive in (False, True):
        connections: list[str] = []
        with site(pages, keep_alive=keep_alive, connections=connections) as base:
            fetch_times, audit_times = asyncio.run(measure(base, args.runs))
        fetch = statistics.median(fetch_times)
        audit = statistics.median(audit_times)
        per_audit = (len(connections) - 1) / args.runs  # less the fetches' one (kept open)
        if not keep_alive:
            per_audit = (len(connections) - args.runs) / args.runs
        label = "HTTP/1.1 keep-alive" if keep_alive else "HTTP/1.0 (baseline)"
        results[keep_alive] = audit
        print(f"  {label}:")
        print(f"    fetch alone: {fetch * 1000:8.1f} ms")
        print(f"    audit:       {audit * 1000:8.1f} ms, {per_audit:.0f} connections per audit")
        print(f"    ratio audit/fetch: {audit / fetch:.1f}")
    print(f"  audit keep-alive / HTTP/1.0: {results[True] / results[False]:.2f}")


if __name__ == "__main__":
    main()
