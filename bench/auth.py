"""Requests per second of an authenticated `GET /api/v1/auth/me` as a ratio of `GET /health`.

Run by hand (`make bench` or `.venv/bin/python bench/auth.py`); prints, asserts nothing.
Both endpoints are measured against the same server in the same run, interleaved, so the
ratio holds whatever the machine. Aim: at least 0.7.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import httpx
from _harness import requests_per_second, serve

PASSWORD = "benchmark-passphrase-42"


async def main(seconds: float, rounds: int, concurrency: int) -> None:
    env = {
        "SAAS_REQUIRE_EMAIL_VERIFICATION": "false",
        "SAAS_RATE_LIMIT_STANDARD": "100000000/hour",
        # No standby databases prepared by the emulator on the other core while measuring.
        "SAAS_STANDBY_DATABASES_PER_HOST": "0",
    }
    with serve(env) as server:
        base = server.url
        async with httpx.AsyncClient(base_url=base) as client:
            await client.post(
                "/api/v1/auth/register",
                json={"email": "bench@example.com", "password": PASSWORD, "full_name": "Bench"},
            )
            login = await client.post(
                "/api/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
            )
            token = login.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        await requests_per_second(base, "/health", {}, 1, concurrency)  # warm-up
        await requests_per_second(base, "/api/v1/auth/me", auth, 1, concurrency)
        health, me = [], []
        for _ in range(rounds):
            rps, statuses = await requests_per_second(base, "/health", {}, seconds, concurrency)
            assert statuses == {200}, statuses
            health.append(rps)
            rps, statuses = await requests_per_second(
                base, "/api/v1/auth/me", auth, seconds, concurrency
            )
            assert statuses == {200}, statuses
            me.append(rps)
    h, m = statistics.median(health), statistics.median(me)
    print(f"GET /health          {h:8.0f} req/s (median of {rounds} x {seconds:.0f}s)")
    print(f"GET /api/v1/auth/me  {m:8.0f} req/s")
    print(f"ratio me/health      {m / h:8.2f}   (aim: >= 0.70)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds, args.concurrency))
