"""``saas odoo-emulator``: run the Odoo emulator, a separate program the platform reaches over
HTTP only and never imports (the import-linter contract "emulator").

The command replaces itself (exec) with ``python -P -m odoo_emulator`` given the same options:
the process started is the emulator itself, so the signals sent to it and its exit code are
the emulator's own. The emulator checks the options and answers refusals in this command
line's words (odoo_emulator/__main__.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from saas_server.cli.common import fail

MASTER_PASSWORD_ENV = "SAAS_ODOO_EMULATOR_MASTER_PASSWORD"
EMULATOR_MODULE = "odoo_emulator"


def odoo_emulator(
    data_dir: Annotated[
        Path, typer.Option(help="Where the emulator keeps its config, filestores and sessions.")
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8069,
    odoo_version: Annotated[
        str, typer.Option(help="The Odoo version to play: 17.0, 18.0 or 19.0.")
    ] = "18.0",
    postgres_url: Annotated[
        str | None,
        typer.Option(
            help="libpq URL of a PostgreSQL server where the emulator may create databases "
            "(default: an embedded server under the data dir)."
        ),
    ] = None,
    master_password_stdin: Annotated[
        bool,
        typer.Option(
            "--master-password-stdin",
            help=f"Read the master password from standard input (else {MASTER_PASSWORD_ENV}).",
        ),
    ] = False,
    listen_fd: Annotated[
        list[str] | None,
        typer.Option(
            hidden=True,
            help="SERIE=FD: serve that Odoo version on an inherited listening socket "
            "(repeatable; replaces --host, --port and --odoo-version). Used by `saas serve`.",
        ),
    ] = None,
    control_fd: Annotated[
        int | None,
        typer.Option(
            hidden=True,
            help="An inherited socket to report the served addresses on; its end of file "
            "stops the emulator. Used by `saas serve`.",
        ),
    ] = None,
    database_list: Annotated[
        bool,
        typer.Option(
            "--database-list/--no-database-list",
            help="Odoo's list_db: off, db.list and database management answer AccessDenied.",
        ),
    ] = True,
    logfile: Annotated[
        Path | None,
        typer.Option(
            help="Where Odoo's server log is written, in Odoo's format (as Odoo's --logfile; "
            "default: odoo.log in the data dir).",
        ),
    ] = None,
    dev: Annotated[
        str | None,
        typer.Option(
            help="Odoo's --dev features, comma-separated; 'werkzeug' (or 'all') wraps the "
            "server in Werkzeug's interactive debugger, as Odoo does.",
        ),
    ] = None,
) -> None:
    """Run an Odoo stand-in serving Odoo's RPC, web session and database-manager routes."""
    # -P: the emulator is the installed package, never a directory of that name where the
    # command happens to run (``-m`` would put the working directory first on sys.path).
    argv = [
        sys.executable,
        "-P",
        "-m",
        EMULATOR_MODULE,
        "--data-dir",
        str(data_dir),
        "--host",
        host,
        "--port",
        str(port),
        "--odoo-version",
        odoo_version,
    ]
    if postgres_url is not None:
        argv += ["--postgres-url", postgres_url]
    if master_password_stdin:
        argv.append("--master-password-stdin")
    if not database_list:
        argv.append("--no-database-list")
    if logfile is not None:
        argv += ["--logfile", str(logfile)]
    if dev:
        argv += ["--dev", dev]
    for spec in listen_fd or []:
        argv += ["--listen-fd", spec]
    if control_fd is not None:
        argv += ["--control-fd", str(control_fd)]
    # Standard input is left unread (the master password is the emulator's to read), and the
    # inherited sockets and the environment pass through the exec as they are.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter, no shell)
    except OSError as exc:
        fail(f"Cannot start the Odoo emulator ({sys.executable}): {exc.strerror or exc}.")
