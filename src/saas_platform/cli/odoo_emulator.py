"""``saas odoo-emulator``: run the Odoo emulator (a separate server the platform reaches over
HTTP only; this command is the one place of the platform that imports it)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from saas_platform.cli.common import err_console, fail, read_secret_from_stdin

MASTER_PASSWORD_ENV = "SAAS_ODOO_EMULATOR_MASTER_PASSWORD"


def _inherited_listeners(specs: list[str]) -> list[tuple[str, socket.socket]]:
    """``SERIE=FD`` pairs: sockets bound by the process that started this one."""
    listeners = []
    for spec in specs:
        serie, _, fd = spec.partition("=")
        if not fd.isdigit():
            fail(f"--listen-fd takes SERIE=FD, not {spec!r}.")
        listeners.append((serie, socket.socket(fileno=int(fd))))
    return listeners


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
) -> None:
    """Run an Odoo stand-in serving Odoo's RPC, web session and database-manager routes."""
    import psycopg

    from odoo_emulator.config import EmulatorConfig
    from odoo_emulator.server import serve_listeners
    from odoo_emulator.versions import get_version
    from saas_platform.core.errors import ConfigurationError
    from saas_platform.core.logging import configure_logging
    from saas_platform.core.serving import listen_or_explain

    inherited = _inherited_listeners(listen_fd or [])
    try:
        versions = [get_version(serie) for serie, _ in inherited] or [get_version(odoo_version)]
    except ValueError as exc:
        fail(str(exc))
    if not 0 < port < 65536:
        fail(f"The port must be between 1 and 65535, not {port}.")
    master_password = os.environ.get(MASTER_PASSWORD_ENV) or None
    if master_password_stdin:
        master_password = read_secret_from_stdin("master password")
    # Bound here, before anything else starts, and served on as is: a port checked for
    # being free and bound later can be taken in between.
    if inherited:
        sockets = [sock for _, sock in inherited]
    else:
        try:
            sockets = [listen_or_explain(host, port, "the Odoo emulator")]
        except ConfigurationError as exc:
            fail(str(exc))
    if postgres_url is not None:
        try:
            psycopg.connect(postgres_url, connect_timeout=10).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fail(f"Cannot reach PostgreSQL at the given URL: {reason}")
    data_dir = data_dir.expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"Cannot create the data dir {data_dir}: {exc.strerror or exc}.")
    configure_logging(
        os.environ.get("SAAS_LOG_LEVEL", "INFO"), os.environ.get("SAAS_LOG_FORMAT", "text")
    )
    listeners = [
        (
            EmulatorConfig(
                data_dir=data_dir,
                version=served,
                host=sock.getsockname()[0],
                port=sock.getsockname()[1],
                postgres_url=postgres_url,
                master_password=master_password,
            ),
            sock,
        )
        for served, sock in zip(versions, sockets, strict=True)
    ]
    if master_password is None and not listeners[0][0].config_file.exists():
        err_console.print(
            "No master password given: it is Odoo's default, 'admin', until changed.",
            highlight=False,
        )
    for config, _ in listeners:
        err_console.print(
            f"Odoo {config.version.serie} emulator on http://{config.host}:{config.port} "
            f"(data in {data_dir})",
            highlight=False,
        )
    control = socket.socket(fileno=control_fd) if control_fd is not None else None
    try:
        serve_listeners(listeners, control)
    except KeyboardInterrupt:
        pass
