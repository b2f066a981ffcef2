"""The client portal's dashboard against Odoo itself: p50 and p95 of
`GET /api/v1/portal/dashboard` for a client with 50 projects and 500 tasks, as a ratio of one
`search_read` of those 500 tasks straight from the tenant's Odoo.

Run by hand (`.venv/bin/python bench/portal.py`); prints, asserts nothing.

`saas serve` on the embedded PostgreSQL with the built-in Odoo emulator: a tenant is made,
its portal turned on, its Odoo filled (one client company with a portal user, the projects
and tasks), synced, and the portal user logs in. Then each is called --rounds times in turn.
Aim: ratio under 1 (the dashboard is served from the synced copy, Odoo is not asked; its
figures are computed once per sync and reused, the unread count is read each time).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from _harness import SAAS, serve

PASSWORD = "benchmark-passphrase-42"
ODOO_ADMIN = "admin@bench.example"
ODOO_PASSWORD = "bench-odoo-admin-7"
PORTAL_LOGIN = "client@bench.example"
PORTAL_PASSWORD = "bench-portal-7"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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


class Odoo:
    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database
        self.http = httpx.Client(timeout=120)
        self.uid = self.rpc("common", "authenticate", database, ODOO_ADMIN, ODOO_PASSWORD, {})

    def rpc(self, service: str, method: str, *args: Any) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"service": service, "method": method, "args": list(args)},
        }
        answer = self.http.post(self.url + "/jsonrpc", json=body).json()
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer.get("result")

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.rpc(
            "object", "execute_kw", self.database, self.uid, ODOO_PASSWORD, model, method,
            list(args), kwargs,
        )  # fmt: skip


def wait_for(check: Any, what: str, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def fill(odoo: Odoo, projects: int, tasks_per_project: int) -> list[int]:
    stages = [
        odoo.call("project.task.type", "create", {"name": n, "sequence": s, "fold": f})
        for n, s, f in (("To Do", 1, False), ("Doing", 5, False), ("Done", 9, True))
    ]
    company = odoo.call("res.partner", "create", {"name": "Bench Client", "is_company": True})
    contact = odoo.call(
        "res.partner",
        "create",
        {"name": "Bench Contact", "parent_id": company, "email": PORTAL_LOGIN},
    )
    [portal_group] = odoo.call("res.groups", "search", [("name", "=", "Portal")])
    odoo.call(
        "res.users",
        "create",
        {"login": PORTAL_LOGIN, "partner_id": contact, "password": PORTAL_PASSWORD,
         "groups_id": [(6, 0, [portal_group])]},
    )  # fmt: skip
    project_ids = odoo.call(
        "project.project",
        "create",
        [
            {"name": f"Project {i:02d}", "partner_id": company, "type_ids": [(6, 0, stages)],
             "date": "2027-06-30"}
            for i in range(projects)
        ],
    )  # fmt: skip
    task_ids: list[int] = []
    for number, project_id in enumerate(project_ids):
        task_ids += odoo.call(
            "project.task",
            "create",
            [
                {"name": f"Task {number}.{t}", "project_id": project_id,
                 "stage_id": stages[t % 3], "date_deadline": f"2027-01-{1 + t % 28:02d} 12:00:00"}
                for t in range(tasks_per_project)
            ],
        )  # fmt: skip
    return task_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--odoo-version", default="18.0")
    args = parser.parse_args()
    env = {"SAAS_PORTAL_RATE_LIMIT_USER": "100000/minute", "SAAS_RATE_LIMIT_ADMIN": "1000000/hour"}
    with serve(env) as server:
        base = server.url
        headers = {"Authorization": f"Bearer {admin_token(base, server.workdir)}"}
        http = httpx.Client(base_url=base, timeout=120)
        created = http.post(
            "/api/v1/tenants",
            headers=headers,
            json={
                "name": "Portal bench",
                "subdomain": f"p{uuid.uuid4().hex[:10]}",
                "admin_email": ODOO_ADMIN,
                "admin_password": ODOO_PASSWORD,
                "odoo_version": args.odoo_version,
            },
        )
        assert created.status_code == 202, created.text
        tenant_id = created.json()["id"]
        tenant = wait_for(
            lambda: (
                (t := http.get(f"/api/v1/tenants/{tenant_id}", headers=headers).json())["status"]
                == "ready"
                and t
            ),
            "the tenant",
        )
        http.post(f"/api/v1/tenants/{tenant_id}/portal", headers=headers)
        wait_for(
            lambda: (
                http.get(f"/api/v1/tenants/{tenant_id}/portal", headers=headers).json()["status"]
                == "enabled"
            ),
            "the portal",
        )
        hosts = http.get("/api/v1/admin/odoo-hosts", headers=headers).json()["results"]
        host = next(h for h in hosts if h["is_emulator"] and h["odoo_version"] == args.odoo_version)
        odoo = Odoo(host["url"], tenant["instance"]["database"])
        started = time.perf_counter()
        task_ids = fill(odoo, args.projects, args.tasks // args.projects)
        print(f"filled Odoo: {args.projects} projects, {len(task_ids)} tasks "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        started = time.perf_counter()
        http.post("/api/v1/odoo/sync", params={"tenant_id": tenant_id}, headers=headers)

        def synced() -> bool:
            state = http.get("/api/v1/odoo/sync", params={"tenant_id": tenant_id}, headers=headers)
            counts = {m["model"]: m["count"] for m in state.json()["models"]}
            return counts.get("project.task") == len(task_ids)

        wait_for(synced, "the sync")
        print(f"first sync: {time.perf_counter() - started:.1f} s")
        login = http.post(
            "/api/v1/auth/login",
            json={
                "tenant": tenant["subdomain"],
                "email": PORTAL_LOGIN,
                "password": PORTAL_PASSWORD,
            },
        )
        assert login.status_code == 200, login.text
        portal = {"Authorization": f"Bearer {login.json()['access_token']}"}
        began = time.perf_counter()
        check = http.get("/api/v1/portal/dashboard", headers=portal).json()
        # The first call after a sync computes the figures; later ones reuse them.
        print(f"dashboard, first after the sync: {1000 * (time.perf_counter() - began):.1f} ms")
        assert check["projects"]["total_count"] == args.projects, check["projects"]

        dashboard: list[float] = []
        direct: list[float] = []
        floor: list[float] = []
        fields = ["name", "project_id", "stage_id", "state", "date_deadline", "write_date"]
        for _ in range(args.rounds):
            began = time.perf_counter()
            answer = http.get("/api/v1/portal/dashboard", headers=portal)
            dashboard.append(time.perf_counter() - began)
            assert answer.status_code == 200
            began = time.perf_counter()
            http.get("/api/v1/settings", headers=portal)
            floor.append(time.perf_counter() - began)
            began = time.perf_counter()
            rows = odoo.call("project.task", "search_read", [("id", "in", task_ids)], fields=fields)
            direct.append(time.perf_counter() - began)
            assert len(rows) == len(task_ids)
        measured = (
            ("dashboard", dashboard),
            ("Odoo search_read", direct),
            # The least a portal call costs (token, session, rate limit, one read).
            ("GET settings", floor),
        )
        for label, values in measured:
            print(
                f"{label:18} p50 {1000 * statistics.median(values):7.1f} ms  "
                f"p95 {1000 * percentile(values, 0.95):7.1f} ms"
            )
        print(
            f"ratio dashboard / search_read: p50 "
            f"{statistics.median(dashboard) / statistics.median(direct):.2f}, p95 "
            f"{percentile(dashboard, 0.95) / percentile(direct, 0.95):.2f} (aim < 1)"
        )


if __name__ == "__main__":
    main()
