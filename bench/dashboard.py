"""The dashboard's tenants page with 100 tenants, in Chromium: time to first contentful paint
and bytes transferred, as ratios to the login page of the same server (the same layout, CSS and
script without any API call), measured in the same run.

    .venv/bin/python bench/dashboard.py [--tenants 100] [--runs 7]

Needs /usr/bin/chromium (Debian's; `make test` installs it). The server is `saas serve` on an
embedded PostgreSQL with the Odoo emulator off: the tenants stay pending, which costs the page
the same as ready ones (each row shows its instance either way).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import SAAS, serve

PASSWORD = "correct-horse-battery-staple"
AIM_SECONDS = 1.0
AIM_BYTES = 300_000


def seed(base: str, workdir: Path, tenants: int) -> None:
    subprocess.run(
        [SAAS, "create-admin", "--email", "bench@example.com", "--password-stdin"],
        cwd=workdir,
        input=PASSWORD.encode(),
        check=True,
        capture_output=True,
    )
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post(
            "/api/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for i in range(tenants):
            response = client.post(
                "/api/v1/tenants",
                json={"name": f"Bench Company {i:03d}", "subdomain": f"bench-{i:03d}"},
                headers=headers,
            )
            assert response.status_code == 202, response.text


def measure(page: Page, path: str) -> tuple[float, int]:
    """First contentful paint (s) and bytes over the wire (document + subresources), cold cache."""
    client = page.context.new_cdp_session(page)
    client.send("Network.enable")
    client.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes: dict[str, int] = {}

    def finished(event: dict[str, Any]) -> None:
        sizes[event["requestId"]] = int(event["encodedDataLength"])

    client.on("Network.loadingFinished", finished)
    page.goto(path, wait_until="load")
    fcp = page.evaluate(
        """() => new Promise(resolve => {
            const found = () => performance.getEntriesByName('first-contentful-paint')[0];
            if (found()) return resolve(found().startTime);
            new PerformanceObserver(() => found() && resolve(found().startTime))
              .observe({type: 'paint', buffered: true});
        })"""
    )
    client.detach()
    return float(fcp) / 1000, sum(sizes.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with serve({"SAAS_ODOO_EMULATOR": "off"}) as server:
        seed(server.url, server.workdir, args.tenants)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox"]
            )
            page = browser.new_page(base_url=server.url)
            page.goto("/login")
            page.get_by_label("Email").fill("bench@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/app/tenants")
            assert page.locator("tbody tr").count() == args.tenants
            results: dict[str, list[tuple[float, int]]] = {"/login": [], "/app/tenants": []}
            for _ in range(args.runs):
                for path in results:
                    results[path].append(measure(page, path))
            browser.close()
    base_fcp = statistics.median(r[0] for r in results["/login"])
    base_bytes = statistics.median(r[1] for r in results["/login"])
    fcp = statistics.median(r[0] for r in results["/app/tenants"])
    weight = statistics.median(r[1] for r in results["/app/tenants"])
    tenants_page = f"/app/tenants ({args.tenants} tenants)"
    print(f"{'baseline /login':28} first paint {base_fcp * 1000:7.1f} ms, {base_bytes:9,.0f} B")
    print(f"{tenants_page:28} first paint {fcp * 1000:7.1f} ms, {weight:9,.0f} B")
    print(
        f"{'ratio to the baseline':28} first paint x{fcp / base_fcp:.2f}, "
        f"bytes x{weight / base_bytes:.2f}"
    )
    print(
        f"aim: under {AIM_SECONDS:.0f} s and {AIM_BYTES // 1000} KB -> "
        f"{'met' if fcp < AIM_SECONDS and weight < AIM_BYTES else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
