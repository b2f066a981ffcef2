"""``saas docs ...``: documentation generated from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from saas_server.cli.common import console, fail
from saas_server.core.lifecycle import Lifecycle
from saas_server.wiring import lifecycles as registered_lifecycles

docs_app = typer.Typer(help="Generate the documentation pages made from the code.")


def stale_pages(docs_dir: Path, tables: list[Lifecycle] | None = None) -> list[str]:
    """The pages in ``docs_dir`` that differ from their table (missing ones included)."""
    stale = []
    for lifecycle in tables if tables is not None else registered_lifecycles():
        path = docs_dir / lifecycle.doc_name
        if not path.exists() or path.read_text() != lifecycle.page():
            stale.append(lifecycle.doc_name)
    return stale


@docs_app.command("lifecycles")
def lifecycles(
    docs_dir: Annotated[
        Path, typer.Option("--docs-dir", help="Where the pages go (the repository's docs/).")
    ] = Path("docs"),
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if a page is stale.")
    ] = False,
) -> None:
    """Write docs/<thing>-lifecycle.md, with its state diagram, for every transition table."""
    if check:
        stale = stale_pages(docs_dir)
        if stale:
            fail(f"Stale: {', '.join(stale)}; run `saas docs lifecycles`.")
        console.print("Every lifecycle page matches its table.")
        return
    docs_dir.mkdir(parents=True, exist_ok=True)
    for lifecycle in registered_lifecycles():
        path = docs_dir / lifecycle.doc_name
        page = lifecycle.page()
        if not path.exists() or path.read_text() != page:
            path.write_text(page)
            console.print(f"Wrote {path}", highlight=False)
