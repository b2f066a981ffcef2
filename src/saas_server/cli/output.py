"""How commands talk to the operator: lists that never cut a value, ``--json``, and a
question before anything irreversible.

``--json`` prints the API's own objects (the same schemas, the same field names), so a
script can move between the CLI and the HTTP API without a translation table.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.table import Table

from saas_server.cli.common import console, fail

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (the API's objects) instead of text.")
]


def print_rows(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A table when it fits the terminal, else one block of ``column  value`` lines per
    row: no value is ever cut or folded (an id is for copying into the next command)."""
    cells = [list(row) for row in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    if sum(widths) + 2 * (len(columns) - 1) <= console.width:
        listing = Table(box=None, padding=(0, 2, 0, 0), header_style="bold")
        for column in columns:
            listing.add_column(column, no_wrap=True)
        for row in cells:
            listing.add_row(*row)
        console.print(listing, highlight=False)
        return
    label = max(len(c) for c in columns)
    for n, row in enumerate(cells):
        if n:
            console.print()
        for column, value in zip(columns, row, strict=True):
            console.print(f"{column:<{label}}  {value}", highlight=False, soft_wrap=True)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def print_json(value: Any) -> None:
    """Write ``value`` (a schema, a list of them, or plain data) as JSON on standard output,
    unstyled and unwrapped, for scripts."""
    sys.stdout.write(json.dumps(_plain(value), indent=2, default=str) + "\n")
    sys.stdout.flush()


YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")
]


def confirm_or_refuse(question: str, *, yes: bool) -> None:
    """Go on only if ``--yes`` was given or the operator answers yes on a terminal.

    Without a terminal to ask on and without ``--yes``, refuse: a script that did not say
    yes must not overwrite data because nobody was there to say no."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail("This overwrites live data: run it on a terminal to be asked, or pass --yes.")
    if not typer.confirm(question, default=False, err=True):
        fail("Nothing was changed.")
