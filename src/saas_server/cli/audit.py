"""``saas audit ...`` commands.

The platform's modules are imported inside each command, not here: `saas --help` and
`saas version` start without loading the API, its routers and every domain behind them.
"""

from __future__ import annotations

import dataclasses

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from saas_server.cli.common import console, err_console, fail, load_settings, run
from saas_server.cli.output import JsonOption, print_json

audit_app = typer.Typer(help="Inspect the audit trail.", no_args_is_help=True)


@audit_app.command()
def verify(as_json: JsonOption = False) -> None:
    """Walk the audit log's hash chain; exit 1 at the first entry that breaks it."""
    import sqlalchemy.exc

    from saas_server.audit import checkpoints
    from saas_server.audit import service as audit
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _verify() -> checkpoints.AnchoredReport:
        async with open_runtime(settings) as runtime:
            async with runtime.db.sessionmaker() as session:
                # One snapshot for the count and the walk, while appends go on.
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                try:
                    total = await audit.count_entries(session)
                except sqlalchemy.exc.ProgrammingError:
                    fail("The database has no audit log yet; run `saas migrate` first.")
                with Progress(
                    TextColumn("Verifying the audit chain"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=err_console,
                    transient=True,
                ) as progress:
                    task = progress.add_task("verify", total=total)
                    try:
                        return await checkpoints.verify(
                            session,
                            checkpoints.CheckpointFile.of(runtime),
                            on_progress=lambda n: progress.advance(task, n),
                        )
                    except checkpoints.CheckpointFileTampered as exc:
                        fail(f"Audit checkpoints cannot be trusted: {exc}.")

    anchored = run(_verify())
    report = anchored.chain
    if as_json:
        broken_at = dataclasses.asdict(anchored.broken) if anchored.broken else None
        print_json(
            {
                "intact": anchored.broken is None,
                **dataclasses.asdict(report),
                "broken": broken_at,
                "checkpoints": anchored.checkpoints,
            }
        )
        raise typer.Exit(0 if anchored.broken is None else 1)
    if anchored.broken is not None:
        broken = anchored.broken
        entry = f" (id {broken.id})" if broken.id is not None else ""
        fail(
            f"Audit chain broken at seq {broken.seq}{entry}: {broken.problem}. "
            f"{report.checked} entries before it are intact."
        )
    console.print(
        f"{report.checked} entries, chain intact "
        f"(MACs checked, {anchored.checkpoints} checkpoints matched).",
        highlight=False,
    )
    if report.last_seq is not None:
        console.print(f"Head: seq {report.last_seq}, hash {report.last_hash}", highlight=False)
