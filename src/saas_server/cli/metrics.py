"""``saas metrics ...``: tenant metrics on the command line."""

from __future__ import annotations

import typer

from saas_server.cli.common import console, load_settings, run
from saas_server.cli.output import JsonOption, print_json

metrics_app = typer.Typer(help="Tenant metrics (resource usage).", no_args_is_help=True)


@metrics_app.command("sample")
def sample(as_json: JsonOption = False) -> None:
    """Sample every ready instance now (the periodic job does the same), then roll up and
    prune the series."""
    from saas_server.monitoring.sampling import describe, sample_all
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _sample() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            report = await sample_all(runtime)
        if as_json:
            print_json(describe(report))
            return
        console.print(
            f"Sampled {report.sampled} instance(s), {report.failed} failed; "
            f"{report.points} point(s) recorded.",
            highlight=False,
        )

    run(_sample())
