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


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


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
) -> None:
    """Run an Odoo stand-in serving Odoo's RPC, web session and database-manager routes."""
    import psycopg

    from odoo_emulator.config import EmulatorConfig
    from odoo_emulator.server import serve
    from odoo_emulator.versions import get_version
    from saas_platform.core.logging import configure_logging

    try:
        version = get_version(odoo_version)
    except ValueError as exc:
        fail(str(exc))
    if not 0 < port < 65536:
        fail(f"The port must be between 1 and 65535, not {port}.")
    master_password = os.environ.get(MASTER_PASSWORD_ENV) or None
    if master_password_stdin:
        master_password = read_secret_from_stdin("master password")
    if not _port_is_free(host, port):
        fail(f"Cannot listen on {host}:{port}: the address is in use or not available.")
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
    config = EmulatorConfig(
        data_dir=data_dir,
        version=version,
        host=host,
        port=port,
        postgres_url=postgres_url,
        master_password=master_password,
    )
    if master_password is None and not config.config_file.exists():
        err_console.print(
            "No master password given: it is Odoo's default, 'admin', until changed.",
            highlight=False,
        )
    err_console.print(
        f"Odoo {version.serie} emulator on http://{host}:{port} (data in {data_dir})",
        highlight=False,
    )
    try:
        serve(config)
    except KeyboardInterrupt:
        pass
