"""Refresh-token reuse grace (docs/decisions/0034-refresh-reuse-grace.md): what it costs and
what it saves.

Two servers in the same run, one with the grace off (the baseline) and one with the default
10 s window, measured in interleaved rounds:

- refreshes per second, each chain rotating its own token (the grace adds sealing the
  successor and a bounded sweep to every refresh): ratio grace/off;
- sessions lost when a client sends two refreshes with one token at once (two API processes
  behind a balancer): the baseline loses one in each race, the grace none.

Run by hand (`.venv/bin/python bench/refresh_grace.py`); prints, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from _harness import serve

PASSWORD = "benchmark-passphrase-42"
ENV = {
    "SAAS_REQUIRE_EMAIL_VERIFICATION": "false",
    "SAAS_RATE_LIMIT_ENABLED": "false",
    "SAAS_STANDBY_DATABASES_PER_HOST": "0",
}


async def _login(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["refresh_token"])


async def _chain(client: httpx.AsyncClient, token: str, stop_at: float) -> tuple[int, str]:
    done = 0
    while time.perf_counter() < stop_at:
        response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
        done += 1
    return done, token


async def _refreshes_per_second(
    client: httpx.AsyncClient, tokens: list[str], seconds: float
) -> float:
    start = time.perf_counter()
    results = await asyncio.gather(*(_chain(client, t, start + seconds) for t in tokens))
    tokens[:] = [token for _, token in results]
    return sum(done for done, _ in results) / (time.perf_counter() - start)


async def _races_lost(client: httpx.AsyncClient, email: str, races: int) -> int:
    lost = 0
    for _ in range(races):
        token = await _login(client, email)
        answers = await asyncio.gather(
            *(client.post("/api/v1/auth/refresh", json={"refresh_token": token}) for _ in range(2))
        )
        if any(a.status_code != 200 for a in answers):
            lost += 1
    return lost


async def main(seconds: float, rounds: int, chains: int, races: int) -> None:
    with (
        serve({**ENV, "SAAS_REFRESH_REUSE_GRACE_SECONDS": "0"}) as off,
        serve({**ENV, "SAAS_REFRESH_REUSE_GRACE_SECONDS": "10"}) as on,
    ):
        async with (
            httpx.AsyncClient(base_url=off.url, timeout=60) as base,
            httpx.AsyncClient(base_url=on.url, timeout=60) as grace,
        ):
            tokens: dict[str, list[str]] = {}
            for name, client in (("off", base), ("on", grace)):
                await client.post(
                    "/api/v1/auth/register",
                    json={"email": "bench@example.com", "password": PASSWORD, "full_name": "B"},
                )
                tokens[name] = [await _login(client, "bench@example.com") for _ in range(chains)]
                await _refreshes_per_second(client, tokens[name], 1)  # warm-up
            rates: dict[str, list[float]] = {"off": [], "on": []}
            for _ in range(rounds):
                rates["off"].append(await _refreshes_per_second(base, tokens["off"], seconds))
                rates["on"].append(await _refreshes_per_second(grace, tokens["on"], seconds))
            lost_off = await _races_lost(base, "bench@example.com", races)
            lost_on = await _races_lost(grace, "bench@example.com", races)
    r_off, r_on = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(f"refreshes/s, grace off  {r_off:8.1f} (median of {rounds} x {seconds:.0f}s)")
    print(f"refreshes/s, grace 10 s {r_on:8.1f}")
    print(f"ratio grace/off         {r_on / r_off:8.2f}")
    print(f"sessions lost in {races} two-refresh races: grace off {lost_off}, grace 10 s {lost_on}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--races", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds, args.chains, args.races))
