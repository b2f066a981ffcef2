"""``saas security ...``: threat detection now, the block list.

The platform's modules are imported inside each command, not here: `saas --help` and
`saas version` start without loading the API, its routers and every domain behind them.
"""

from __future__ import annotations

import typer

from saas_platform.cli.common import console, load_settings, run
from saas_platform.cli.output import JsonOption, print_json, print_rows

security_app = typer.Typer(help="Security monitoring: threats and scans.", no_args_is_help=True)


@security_app.command()
def detect(as_json: JsonOption = False) -> None:
    """Run the threat detection now (it also runs on its schedule); list what it filed and
    what it updated."""
    from saas_platform.security.threats import detect_threats
    from saas_platform.wiring import open_runtime

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
