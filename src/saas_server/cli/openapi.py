"""``saas openapi``: the API's OpenAPI document (sdk/openapi.json, which the SDKs are generated
from) and a Postman collection made from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from saas_server.cli.common import console, fail

DEFAULT_OUTPUT = Path("sdk/openapi.json")
# Where ``--postman`` without a path writes the collection: next to the document.
DEFAULT_POSTMAN = Path("sdk/postman_collection.json")


class OpenApiCommand(TyperCommand):
    """``saas openapi``: ``--postman`` given alone (last, or before another option) writes
    to :data:`DEFAULT_POSTMAN` (Typer has no option whose value may be left out)."""

    # ``ctx`` is Typer's own (vendored) click Context.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, with_default_postman(args))


def with_default_postman(args: list[str]) -> list[str]:
    given: list[str] = []
    for index, arg in enumerate(args):
        given.append(arg)
        following = args[index + 1] if index + 1 < len(args) else None
        if arg == "--postman" and (following is None or following.startswith("-")):
            given.append(str(DEFAULT_POSTMAN))
    return given


def build_document() -> dict[str, Any]:
    """The app's document, as /openapi.json serves it (no database needed to build it)."""
    from saas_server.app import create_app
    from saas_server.core.settings import Settings

    # Defaults, not the environment: the committed document must not depend on who made it.
    settings = Settings(_env_file=None)
    return create_app(settings).openapi()


def openapi(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where the document goes ('-': stdout).")
    ] = DEFAULT_OUTPUT,
    postman: Annotated[
        Path | None,
        typer.Option(
            "--postman",
            help="Also write a Postman collection (v2.1) made from it, to this path "
            f"(given alone: {DEFAULT_POSTMAN}).",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if OUTPUT is stale.")
    ] = False,
) -> None:
    """Write the OpenAPI document (the SDKs are generated from sdk/openapi.json)."""
    from saas_server.cli.postman import collection_from_openapi
    from saas_server.core.openapi import document_text

    document = build_document()
    text = document_text(document)
    if check:
        if not output.exists() or output.read_text() != text:
            fail(f"{output} is stale; run `saas openapi`.")
        console.print(f"{output} matches the API.", highlight=False)
        return
    if str(output) == "-":
        typer.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        console.print(f"Wrote {output}", highlight=False)
    if postman is not None:
        postman.parent.mkdir(parents=True, exist_ok=True)
        collection = collection_from_openapi(document)
        postman.write_text(json.dumps(collection, indent=2, ensure_ascii=False) + "\n")
        console.print(f"Wrote {postman}", highlight=False)
