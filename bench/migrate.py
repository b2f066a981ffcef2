"""The window of refused logins when a tenant moves between two hosts (issue 17).

Run by hand (`.venv/bin/python bench/migrate.py`); prints, asserts nothing.

Two Odoo emulators of one version run on the PostgreSQL given (default: an embedded one of
its own, which nothing else touches), or two real Odoo servers are named (`--odoo-url`,
`--odoo-url-2` with their master passwords and PostgreSQL URLs), a
`saas serve` on a scratch database of that server registers them as hosts, and a tenant is
provisioned on the first and grown to about --size-mb megabytes (table rows plus filestore
files). Then, in the same run:
- baseline: a plain dump + restore of the same database from the first host to the second
  (the driver's `dump` to a file, then `restore` under a scratch name, dropped after);
- the move: `POST /api/v1/admin/tenants/{id}/actions` `migrate`, followed until completed;
  the move's own measurement of the refused-login window (`login_refused_ms`), and while it
  runs a prober tries a login on the tenant's database every 50 ms and reports the longest
  stretch of refusals it saw (its logins are writes: the catch-up copies `res_users_log`).
  The move copies the database while the source serves, then only the tables written
  since (decision 0031): how it caught up is printed.
Aim: window under 10 s for a 50 MB tenant; the ratio window / baseline compares it with a
dump and restore, which is what the window held before the pre-copy (and still holds when
the catch-up has to copy the whole database).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from _harness import SAAS, free_port, serve
from psycopg import sql

from saas_server.core.db import with_database
from saas_server.core.embedded_postgres import EmbeddedPostgres
from saas_server.odoo.rpc_driver import RpcDriver

MASTER = "bench-master"
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-Password-1"
TENANT_ADMIN = "boss@example.com"
TENANT_PASSWORD = "odoo-admin-pass-1"


def rpc(url: str, service: str, method: str, *args: object) -> Any:
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {"service": service, "method": method, "args": list(args)},
    }
    answer = httpx.post(url + "/jsonrpc", json=body, timeout=600).json()
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer.get("result")


def start_emulator(postgres: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            SAAS, "odoo-emulator", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir), "--postgres-url", postgres, "--odoo-version", "18.0",
        ],
        env={**os.environ, "SAAS_ODOO_EMULATOR_MASTER_PASSWORD": MASTER},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/web/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.2)


def grow(url: str, postgres: str, database: str, size_mb: int) -> None:
    """Rows in the tenant's database and files in its filestore, about ``size_mb`` in all."""
    files_mb = max(1, size_mb // 10)
    with psycopg.connect(with_database(postgres, database), autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_rows (id serial PRIMARY KEY, note text)")
        rows = (size_mb - files_mb) * 1024 * 1024 // 330
        conn.execute(
            "INSERT INTO bench_rows (note) SELECT repeat('invoice line for customer ', 10) "
            "|| md5(i::text) || md5((i * 7)::text) || ' ' || i FROM generate_series(1, %s) i",
            (rows,),
        )
    uid = rpc(url, "common", "authenticate", database, TENANT_ADMIN, TENANT_PASSWORD, {})
    for index in range(files_mb):
        content = base64.b64encode(os.urandom(1 << 20)).decode()
        rpc(
            url, "object", "execute_kw", database, uid, TENANT_PASSWORD, "ir.attachment",
            "create", [{"name": f"file{index}.bin", "datas": content}], {},
        )  # fmt: skip


async def dump_and_restore(
    source_host: tuple[str, str, str],
    target_host: tuple[str, str, str],
    database: str,
    workdir: Path,
) -> float:
    """A plain dump and restore: the source's archive, restored on the target."""
    source = RpcDriver(source_host[0], source_host[1], postgres_url=source_host[2])
    target = RpcDriver(target_host[0], target_host[1], postgres_url=target_host[2])
    scratch = f"bench_restore_{uuid.uuid4().hex[:8]}"
    archive = workdir / "baseline.zip"
    try:
        started = time.perf_counter()
        with archive.open("wb") as out:
            async for chunk in source.dump(database):
                out.write(chunk)
        with archive.open("rb") as data:
            await target.restore(scratch, data, copy=False)
        return time.perf_counter() - started
    finally:
        await target.drop_and_confirm(scratch)
        archive.unlink(missing_ok=True)
        await source.close()
        await target.close()


async def probe_logins(url_of: dict[str, str], stop: asyncio.Event) -> tuple[float, float]:
    """Log in every 50 ms where the tenant lives now: the longest run of refusals (answers
    that are not a user id, or a closed port), and the longest run without a login at all
    (timeouts of a busy server included), in seconds."""
    longest_refused = longest_without = 0.0
    refused_since: float | None = None
    without_since: float | None = None
    async with httpx.AsyncClient(timeout=5) as http:
        while not stop.is_set():
            body = {
                "jsonrpc": "2.0",
                "method": "call",
                "id": 1,
                "params": {
                    "service": "common",
                    "method": "authenticate",
                    "args": [url_of["db"], TENANT_ADMIN, TENANT_PASSWORD, {}],
                },
            }
            refused = False
            try:
                answer = (await http.post(url_of["url"] + "/jsonrpc", json=body)).json()
                ok = isinstance(answer.get("result"), int)
                refused = not ok
            except httpx.TimeoutException:
                ok = False
            except httpx.HTTPError:
                ok, refused = False, True
            now = time.perf_counter()
            if ok:
                without_since = None
            elif without_since is None:
                without_since = now
            if not refused:
                refused_since = None
            elif refused_since is None:
                refused_since = now
            if refused_since is not None:
                longest_refused = max(longest_refused, now - refused_since)
            if without_since is not None:
                longest_without = max(longest_without, now - without_since)
            await asyncio.sleep(0.05)
    return longest_refused, longest_without


async def run(args: argparse.Namespace) -> None:
    postgres = args.postgres_url
    scratch_db = f"bench_platform_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch_db)))
    workdir = Path(tempfile.mkdtemp(prefix="bench-migrate-"))
    made: list[str] = []  # database name prefixes this run made (tenant, baseline restore)
    hosts_made: list[str] = []  # host id markers of template and standby databases
    real = [
        (args.odoo_url, args.master_password, args.odoo_postgres_url),
        (args.odoo_url_2, args.master_password_2, args.odoo_postgres_url_2),
    ]
    if all(url for url, _, _ in real):
        emulators: list[tuple[subprocess.Popen[bytes] | None, str]] = [
            (None, url) for url, _, _ in real
        ]
        masters = [master for _, master, _ in real]
        host_postgres = [pg for _, _, pg in real]
    else:
        emulators = [start_emulator(postgres, workdir / f"odoo-{i}") for i in range(2)]
        masters = [MASTER, MASTER]
        host_postgres = [postgres, postgres]
    version = args.odoo_version
    env = {
        "SAAS_DATABASE_URL": with_database(postgres, scratch_db),
        "SAAS_ODOO_EMULATOR": "off",
    }
    try:
        with serve(env) as server:
            subprocess.run(
                [SAAS, "create-admin", "--email", ADMIN_EMAIL, "--password-stdin"],
                input=ADMIN_PASSWORD.encode(),
                cwd=server.workdir,
                env={**os.environ, **env},
                check=True,
                capture_output=True,
            )
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as api:
                login = await api.post(
                    "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
                )
                login.raise_for_status()
                api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
                host_ids = []
                for index, (_, url) in enumerate(emulators):
                    added = await api.post(
                        "/api/v1/admin/odoo-hosts",
                        json={
                            "name": f"bench-{index}",
                            "url": url,
                            "master_password": masters[index],
                            "odoo_version": version,
                            "capacity": 50,
                            "postgres_url": host_postgres[index],
                        },
                    )
                    added.raise_for_status()
                    host_ids.append(added.json()["id"])
                    hosts_made.append(uuid.UUID(added.json()["id"]).hex[:8])
                    if index == 0:  # the tenant lands on the first host
                        await api.post(
                            f"/api/v1/admin/odoo-hosts/{host_ids[0]}/actions",
                            json={"action": "activate"},
                        )
                await api.post(
                    f"/api/v1/admin/odoo-hosts/{host_ids[1]}/actions", json={"action": "drain"}
                )
                subdomain = "bench" + uuid.uuid4().hex[:8]
                made.append(subdomain)
                created = await api.post(
                    "/api/v1/tenants",
                    json={
                        "name": "Move bench",
                        "subdomain": subdomain,
                        "admin_email": TENANT_ADMIN,
                        "admin_password": TENANT_PASSWORD,
                        "odoo_version": version,
                    },
                )
                created.raise_for_status()
                tenant_id = created.json()["id"]
                tenant = await _until(api, f"/api/v1/tenants/{tenant_id}", "ready")
                database = tenant["instance"]["database"]
                activated = await api.post(
                    f"/api/v1/admin/odoo-hosts/{host_ids[1]}/actions", json={"action": "activate"}
                )
                activated.raise_for_status()

                source_url, target_url = emulators[0][1], emulators[1][1]
                grow(source_url, host_postgres[0], database, args.size_mb)
                with psycopg.connect(host_postgres[0]) as conn:
                    row = conn.execute("SELECT pg_database_size(%s)", (database,)).fetchone()
                on_disk = (row[0] if row else 0) / 2**20
                base = await dump_and_restore(
                    (source_url, masters[0], host_postgres[0]),
                    (target_url, masters[1], host_postgres[1]),
                    database,
                    workdir,
                )

                where = {"url": source_url, "db": database, "target": target_url}
                stop = asyncio.Event()
                prober = asyncio.create_task(probe_logins(where, stop))
                await asyncio.sleep(0.3)
                asked = await api.post(
                    f"/api/v1/admin/tenants/{tenant_id}/actions",
                    json={"action": "migrate", "target_host_id": host_ids[1], "reason": "bench"},
                )
                asked.raise_for_status()
                move_id = asked.json()["move"]["id"]
                move = await _until(api, f"/api/v1/admin/moves/{move_id}", "completed", where)
                stop.set()
                seen, without = await prober
                window = move["login_refused_ms"] / 1000
                print(
                    f"tenant ~{args.size_mb} MB (database on disk {on_disk:.0f} MB, "
                    f"{args.size_mb // 10 or 1} MB of files)"
                )
                print(f"  plain dump + restore      {base:6.2f} s")
                print(
                    f"  move: logins refused      {window:6.2f} s  (aim < 10 s)  "
                    f"ratio to dump + restore {window / base:.2f}"
                )
                print(f"  a login prober saw        {seen:6.2f} s of refusals")
                print(f"  and waited at most        {without:6.2f} s for any login (slow ones too)")
                catch_up = move.get("catch_up") or {}
                print(
                    f"  caught up by              {catch_up.get('mode')}: "
                    f"{', '.join(catch_up.get('tables') or []) or catch_up.get('reason')}"
                )
    finally:
        for proc, _ in emulators:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        # Only what this run made: the servers are shared.
        markers = [scratch_db, *made]
        for server_url in dict.fromkeys([postgres, *host_postgres]):
            _drop_made(server_url, markers, hosts_made)
        shutil.rmtree(workdir, ignore_errors=True)


def _drop_made(postgres: str, markers: list[str], hosts_made: list[str]) -> None:
    with psycopg.connect(postgres, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database").fetchall()
        for (name,) in rows:
            if any(name.startswith(m) for m in markers) or any(
                name.startswith(("saas_template_", "saas_standby_")) and f"_{h}" in name
                for h in hosts_made
            ):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


async def _until(
    api: httpx.AsyncClient, path: str, status: str, where: dict[str, str] | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while True:
        found = (await api.get(path)).json()
        state = found.get("status")
        if where is not None and found.get("step") in ("switch", "reopen", "drop_source"):
            # The prober follows the tenant to its new home, as the platform's routing does.
            where["url"], where["db"] = where["target"], found["target_database"]
        if state == status:
            return found  # type: ignore[no-any-return]
        if state == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"{path}: {found}")
        await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", help="default: an embedded PostgreSQL of its own")
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--odoo-version", default="18.0")
    for suffix, which in (("", "source"), ("-2", "target")):
        parser.add_argument(f"--odoo-url{suffix}", help=f"a real Odoo server, the {which}")
        parser.add_argument(f"--master-password{suffix}", default="")
        parser.add_argument(f"--odoo-postgres-url{suffix}", help=f"the {which}'s PostgreSQL")
    args = parser.parse_args()
    if args.postgres_url:
        asyncio.run(run(args))
        return
    root = Path(tempfile.mkdtemp(prefix="bench-migrate-pg-"))
    server = EmbeddedPostgres(root / "pgdata")
    try:
        args.postgres_url = with_database(server.start(), "postgres")
        asyncio.run(run(args))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
