"""Provisioning speed: 20 tenants created at once, request to `ready`; clone vs create.

Run by hand (`.venv/bin/python bench/provisioning.py`); prints, asserts nothing.

Default: `saas serve` on the embedded PostgreSQL with the built-in Odoo emulator.
With `--odoo-url URL --odoo-master-password PW [--odoo-version V]`, a real Odoo host is
registered too, and (being real) takes the tenants: the same figures for it.
Aim (emulator): p50 under 2 s with cloning, all 20 ready within 30 s on 2 cores.

`--standby N` sizes the pool of standby databases per host (SAAS_STANDBY_DATABASES_PER_HOST;
default: as many as tenants in the burst) and waits until the pool is full before the
burst; `--standby 0` measures cloning alone.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _harness import SAAS, serve

PASSWORD = "benchmark-passphrase-42"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def provision_many(
    base: str, headers: dict[str, str], count: int, version: str, poll: float
) -> list[float]:
    """Seconds from each request to its instance's ``ready_at`` (the server's clock, the
    same machine's): exact whatever the polling interval. Each client polls every ``poll``
    s: 20 clients at 0.1 s would ask for 200 tenant reads a second, ~12 ms of CPU each, more
    than the one core the API and its worker share, and would measure mostly themselves."""
    async with httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as client:

        async def one(index: int) -> float:
            requested = time.time()
            created = await client.post(
                "/api/v1/tenants",
                json={
                    "name": f"Bench {index}",
                    "subdomain": f"b{uuid.uuid4().hex[:10]}",
                    "odoo_version": version,
                },
            )
            assert created.status_code == 202, created.text
            tenant_id = created.json()["id"]
            while True:
                await asyncio.sleep(poll)
                tenant = (await client.get(f"/api/v1/tenants/{tenant_id}")).json()
                if tenant["status"] == "ready":
                    ready_at = datetime.fromisoformat(tenant["instance"]["ready_at"])
                    return ready_at.timestamp() - requested
                if tenant["status"] == "failed":
                    raise RuntimeError(f"tenant {index} failed: {tenant['instance']['error']}")

        started = time.perf_counter()
        durations = await asyncio.gather(*(one(i) for i in range(count)))
        print(
            f"  all {count} ready after {max(durations):6.2f} s "
            f"(seen by polling every {poll} s: {time.perf_counter() - started:6.2f} s)"
        )
        return list(durations)


def host_of(
    base: str, headers: dict[str, str], url: str | None = None, version: str | None = None
) -> dict[str, Any]:
    """The host at ``url``, else the built-in emulator's host of ``version`` (it registers
    one host per Odoo version)."""
    hosts = httpx.get(base + "/api/v1/admin/odoo-hosts", headers=headers).json()["results"]
    return next(
        h
        for h in hosts
        if (h["url"] == url if url else h["is_emulator"] and h["odoo_version"] == version)
    )


def wait_for_standbys(base: str, headers: dict[str, str], wanted: int, url: str | None) -> None:
    """Let the pool fill (one database at a time, in the background) before the burst."""
    if wanted <= 0:
        return
    started = time.perf_counter()
    while (count := host_of(base, headers, url)["standby_count"]) < wanted:
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"the standby pool holds {count} of {wanted} after 600 s")
        time.sleep(0.5)
    print(f"  {wanted} standby databases ready after {time.perf_counter() - started:6.2f} s")
    time.sleep(1)  # the pool job's last commit, then quiet


async def clone_vs_create(url: str, master_password: str) -> None:
    from saas_server.odoo.client import OdooClient

    async with OdooClient(url) as odoo:
        source, clone, fresh = (f"bench_{uuid.uuid4().hex[:8]}" for _ in range(3))
        await odoo.create_database(master_password, source, admin_password="admin-pass")
        started = time.perf_counter()
        await odoo.duplicate_database(master_password, source, clone)
        cloning = time.perf_counter() - started
        started = time.perf_counter()
        await odoo.create_database(master_password, fresh, admin_password="admin-pass")
        creating = time.perf_counter() - started
        for name in (source, clone, fresh):
            await odoo.drop_database(master_password, name)
    print(
        f"  duplicate_database {cloning:6.2f} s, create_database {creating:6.2f} s, "
        f"clone/create ratio {cloning / creating:5.2f}"
    )


async def drop_leftovers(url: str, master_password: str, host_id: str) -> None:
    """A real server keeps what the run made (the tenants' databases, the template and the
    standbys of this host registration): drop it, or its connections pile up run after run."""
    from saas_server.odoo.client import OdooClient

    marker = uuid.UUID(host_id).hex[:8]
    async with OdooClient(url) as odoo:
        names = [
            name
            for name in await odoo.list_databases()
            if re.fullmatch(r"b[0-9a-f]{10}", name)
            or (name.startswith(("saas_standby_", "saas_template_")) and marker in name)
        ]
        for name in names:
            await odoo.drop_database(master_password, name)
    print(f"  dropped {len(names)} databases the run left on {url}")


def admin_token(base: str, workdir: Path) -> str:
    subprocess.run(
        [SAAS, "create-admin", "--email", "bench@example.com", "--password-stdin"],
        input=PASSWORD.encode(),
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    login = httpx.post(
        base + "/api/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
    )
    return str(login.json()["access_token"])


async def main(args: argparse.Namespace) -> None:
    standbys = args.count if args.standby is None else args.standby
    env = {
        "SAAS_RATE_LIMIT_ADMIN": "100000000/hour",
        **({"SAAS_WORKER_CONCURRENCY": str(args.concurrency)} if args.concurrency else {}),
        "SAAS_STANDBY_DATABASES_PER_HOST": str(standbys),
    }
    with serve(env) as server:
        base, workdir = server.url, server.workdir
        headers = {"Authorization": f"Bearer {admin_token(base, workdir)}"}
        emulator_password = (
            (workdir / ".saas-data" / "odoo-emulator" / "master_password").read_text().strip()
        )
        emulator_url = host_of(base, headers, version=args.version)["url"]

        print(
            f"Odoo emulator ({emulator_url}), {args.count} tenants at once, "
            f"{standbys} standby databases:"
        )
        wait_for_standbys(base, headers, standbys, emulator_url)
        durations = await provision_many(base, headers, args.count, args.version, args.poll)
        print(
            f"  request -> ready: p50 {statistics.median(durations):5.2f} s, "
            f"p95 {percentile(durations, 0.95):5.2f} s (aim: p50 < 2 s, all within 30 s)"
        )
        await clone_vs_create(emulator_url, emulator_password)

        if args.odoo_url:
            added = httpx.post(
                base + "/api/v1/admin/odoo-hosts",
                headers=headers,
                json={
                    "name": "real",
                    "url": args.odoo_url,
                    "master_password": args.odoo_master_password,
                    "odoo_version": args.odoo_version,
                    "capacity": 1000,
                },
                timeout=60,
            )
            assert added.status_code == 201, added.text
            print(
                f"Real Odoo {args.odoo_version} ({args.odoo_url}), {args.count} tenants at once, "
                f"{standbys} standby databases:"
            )
            wait_for_standbys(base, headers, standbys, args.odoo_url.rstrip("/"))
            durations = await provision_many(
                base, headers, args.count, args.odoo_version, args.poll
            )
            print(
                f"  request -> ready: p50 {statistics.median(durations):5.2f} s, "
                f"p95 {percentile(durations, 0.95):5.2f} s"
            )
            await clone_vs_create(args.odoo_url, args.odoo_master_password)
            host = host_of(base, headers, args.odoo_url.rstrip("/"))
            # Drained, the pool stops refilling and drops its spares; what is left is dropped
            # after one preparation's time (one standby may have been in the making).
            drained = httpx.post(
                f"{base}/api/v1/admin/odoo-hosts/{host['id']}/actions",
                headers=headers,
                json={"action": "drain"},
            )
            assert drained.status_code == 200, drained.text
            time.sleep(5)
            await drop_leftovers(args.odoo_url, args.odoo_master_password, host["id"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument(
        "--concurrency", type=int, help="jobs the worker runs at once (default: the platform's)"
    )
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between status reads")
    parser.add_argument(
        "--standby", type=int, help="standby databases per host (default: --count; 0: none)"
    )
    parser.add_argument("--version", default="18.0")
    parser.add_argument("--odoo-url")
    parser.add_argument("--odoo-master-password")
    parser.add_argument("--odoo-version", default="18.0")
    asyncio.run(main(parser.parse_args()))
