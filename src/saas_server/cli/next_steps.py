"""What ``saas serve`` prints once it is serving: where to go next.

A new user's first screen: the API's address, its docs, how to make the first admin (while
there is none) and where the built-in Odoo emulator answers. Printed only once the server
is listening, so every address shown works.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from saas_server.billing.providers import configuration_warnings
from saas_server.cli.common import console
from saas_server.core.runtime import Runtime
from saas_server.users.service import platform_admin_exists

logger = logging.getLogger(__name__)


def base_url(host: str, port: int) -> str:
    """The address a browser on this machine uses (a wildcard bind is reached on loopback)."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def saas_command() -> str:
    """``saas`` when the shell finds this very program under that name, else its path
    (``make run`` runs ``.venv/bin/saas``, which is rarely on the PATH)."""
    program = Path(sys.argv[0])
    found = shutil.which("saas")
    if program.name == "saas" and (found is None or Path(found).resolve() != program.resolve()):
        absolute = program.resolve()
        try:
            return str(absolute.relative_to(Path.cwd().resolve()))
        except ValueError:  # not under the current directory
            return str(absolute)
    return "saas"


def next_steps(
    *,
    url: str,
    has_admin: bool,
    emulator_urls: Sequence[str],
    command: str = "saas",
    warnings: Sequence[str] = (),
) -> list[str]:
    lines = [
        f"Serving on {url}",
        f"  API docs:       {url}/docs (ReDoc: {url}/redoc)",
    ]
    for emulator_url in emulator_urls:
        lines.append(f"  Odoo emulator:  {emulator_url}")
    if not has_admin:
        lines.append(
            f"  No platform admin yet: create one with `{command} create-admin --email EMAIL`"
        )
    for warning in warnings:
        lines.append(f"  Warning: {warning}")
    lines.append("  Ctrl-C stops the platform.")
    return lines


async def print_next_steps(
    runtime: Runtime, *, host: str, port: int, emulator_urls: Sequence[str]
) -> None:
    async with runtime.db.sessionmaker() as session:
        has_admin = await platform_admin_exists(session)
    warnings = configuration_warnings(runtime.settings)
    for warning in warnings:
        logger.warning("%s", warning)
    for line in next_steps(
        url=base_url(host, port),
        has_admin=has_admin,
        emulator_urls=emulator_urls,
        command=saas_command(),
        warnings=warnings,
    ):
        # soft_wrap: an address is never broken across lines on a narrow or piped console.
        console.print(line, highlight=False, soft_wrap=True, markup=False)
