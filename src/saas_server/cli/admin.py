"""``saas admin ...``: platform operators' switches on the command line."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from saas_server.cli.common import console, fail, load_settings, run
from saas_server.cli.output import JsonOption, print_json

admin_app = typer.Typer(help="Operate the platform.", no_args_is_help=True)


@admin_app.command("maintenance")
def maintenance(
    mode: Annotated[str, typer.Argument(help="on or off.")],
    message: Annotated[
        str | None, typer.Option(help="What callers are told while it is on.")
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(help="When it ends by itself (ISO 8601, UTC when no offset is given)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Turn maintenance mode on or off: every non-admin API call answers 503 while it is on."""
    from datetime import UTC

    from saas_server.admin import maintenance as switch
    from saas_server.core import clock
    from saas_server.core.errors import AppError
    from saas_server.wiring import open_runtime

    if mode not in ("on", "off"):
        fail("MODE must be 'on' or 'off'.", code=2)
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    settings = load_settings()

    async def _set() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            try:
                async with runtime.db.transaction() as session:
                    state = await switch.set_state(
                        session, None, enabled=mode == "on", message=message, until=until
                    )
            except AppError as exc:
                fail(f"{exc.message} {exc.details or ''}".strip())
        if as_json:
            print_json(
                {
                    "enabled": state.enabled,
                    "message": state.message,
                    "until": clock.isoformat(state.until) if state.until else None,
                }
            )
            return
        if state.enabled:
            end = f" until {clock.isoformat(state.until)}" if state.until else ""
            console.print(f"Maintenance mode is on{end}.", highlight=False)
        else:
            console.print("Maintenance mode is off.", highlight=False)

    run(_set())
