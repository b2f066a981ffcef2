"""``saas security ...``: threat detection now, the block list.

The platform's modules are imported inside each command, not here: `saas --help` and
`saas version` start without loading the API, its routers and every domain behind them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from saas_server.cli.common import console, err_console, fail, load_settings, run
from saas_server.cli.output import JsonOption, print_json, print_rows

security_app = typer.Typer(help="Security monitoring: threats and scans.", no_args_is_help=True)


@security_app.command()
def detect(as_json: JsonOption = False) -> None:
    """Run the threat detection now (it also runs on its schedule); list what it filed and
    what it updated."""
    from saas_server.security.threats import detect_threats
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _detect() -> list[tuple[str, str, str, str, str]]:
        async with open_runtime(settings) as runtime, runtime.db.transaction() as session:
            report = await detect_threats(session, runtime.settings)
            return [
                (what, str(t.id), t.type, t.subject, str(t.event_count))
                for what, threats in (("filed", report.filed), ("updated", report.updated))
                for t in threats
            ]

    rows = run(_detect())
    if as_json:
        print_json(
            [
                {"change": c, "id": i, "type": t, "subject": s, "event_count": int(n)}
                for c, i, t, s, n in rows
            ]
        )
        return
    if not rows:
        console.print("No threat found.")
        return
    print_rows(["change", "id", "type", "subject", "events"], rows)


@security_app.command()
def scan(
    tenant: Annotated[str, typer.Argument(help="The tenant's id or subdomain.")],
    as_json: JsonOption = False,
) -> None:
    """Scan a tenant's Odoo and host now, here; print the findings (exit 1 when the scan
    failed)."""
    import uuid

    from sqlalchemy import func, select

    from saas_server.security import scans
    from saas_server.tenants.models import Tenant
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _scan() -> Any:
        async with open_runtime(settings) as runtime:
            async with runtime.db.transaction() as session:
                try:
                    found = await session.get(Tenant, uuid.UUID(tenant))
                except ValueError:
                    found = (
                        await session.execute(
                            select(Tenant).where(func.lower(Tenant.subdomain) == tenant.lower())
                        )
                    ).scalar_one_or_none()
                if found is None:
                    fail(f"No tenant {tenant!r}.")
                requested = await scans.request_scan(
                    session, found, trigger="manual", actor_id=None, client=None
                )
                scan_id = requested.id
            # Run here rather than waiting for a worker; the deferred job then finds it done.
            return await scans.run_scan(runtime, scan_id)

    result = run(_scan())
    if as_json:
        print_json(
            {
                "id": str(result.id),
                "status": result.status,
                "error": result.error,
                "findings": result.findings,
            }
        )
    elif result.status != "completed":
        err_console.print(f"Scan {result.id} failed: {result.error}")
    elif not result.findings:
        console.print(f"Scan {result.id}: no finding.")
    else:
        console.print(f"Scan {result.id}: {len(result.findings)} findings.")
        print_rows(
            ["severity", "check", "evidence", "fix"],
            [(f["severity"], f["check"], f["evidence"], f["fix"]) for f in result.findings],
        )
    if result.status != "completed":
        raise typer.Exit(1)
