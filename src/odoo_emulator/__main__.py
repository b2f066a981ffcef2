"""``python -m odoo_emulator``: the emulator's own command line.

``saas odoo-emulator`` takes the same options and replaces itself with this command (exec):
the platform never imports the emulator, and the process started is the emulator itself, so
its signals and its exit code are the emulator's own with nothing in between.

Every check happens before anything is started or created, in this order, each refusal one
``Error: ...`` line and exit code 1: the inherited sockets (``--listen-fd``), the versions,
the port, the master password, the listening socket (bound here, before anything else starts,
and served on as is: a port checked for being free and bound later can be taken in between),
the PostgreSQL server, the data dir.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import psycopg

from odoo_emulator.config import EmulatorConfig
from odoo_emulator.logs import ODOO_LOG_FILE_NAME, configure_logging, configure_odoo_log
from odoo_emulator.server import serve_listeners
from odoo_emulator.versions import get_version

MASTER_PASSWORD_ENV = "SAAS_ODOO_EMULATOR_MASTER_PASSWORD"
LISTEN_BACKLOG = 2048


class CommandError(Exception):
    """A refusal: printed as one ``Error: ...`` line, exit code 1."""


def fail(message: str) -> NoReturn:
    raise CommandError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odoo_emulator",
        description="Run an Odoo stand-in serving Odoo's RPC, web session and database-manager "
        "routes.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="Where the emulator keeps its config, filestores and sessions.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on.")
    parser.add_argument("--port", type=int, default=8069, help="Port to listen on.")
    parser.add_argument(
        "--odoo-version", default="18.0", help="The Odoo version to play: 17.0, 18.0 or 19.0."
    )
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="libpq URL of a PostgreSQL server where the emulator may create databases "
        "(default: an embedded server under the data dir).",
    )
    parser.add_argument(
        "--master-password-stdin",
        action="store_true",
        help=f"Read the master password from standard input (else {MASTER_PASSWORD_ENV}).",
    )
    # SERIE=FD: serve that Odoo version on an inherited listening socket (repeatable;
    # replaces --host, --port and --odoo-version). Used by `saas serve`.
    parser.add_argument(
        "--logfile",
        type=Path,
        default=None,
        help="Where Odoo's server log is written, in Odoo's format (as Odoo's --logfile; "
        "default: odoo.log in the data dir).",
    )
    parser.add_argument(
        "--no-database-list",
        dest="list_db",
        action="store_false",
        help="As Odoo's option: db.list and every database management call answer AccessDenied.",
    )
    parser.add_argument(
        "--dev",
        dest="dev_mode",
        default="",
        help="As Odoo's option: comma-separated dev features; 'werkzeug' (or 'all') wraps the "
        "server in Werkzeug's interactive debugger.",
    )
    parser.add_argument("--listen-fd", action="append", default=[], help=argparse.SUPPRESS)
    # An inherited socket to report the served addresses on; its end of file stops the
    # emulator. Used by `saas serve`.
    parser.add_argument("--control-fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level",
        default=os.environ.get("SAAS_LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (default: SAAS_LOG_LEVEL, else INFO).",
    )
    parser.add_argument(
        "--log-format",
        default=os.environ.get("SAAS_LOG_FORMAT", "auto"),
        help="auto, json, console or text (default: SAAS_LOG_FORMAT, else auto).",
    )
    return parser


def inherited_listeners(specs: Sequence[str]) -> list[tuple[str, socket.socket]]:
    """``SERIE=FD`` pairs: sockets bound by the process that started this one."""
    listeners = []
    for spec in specs:
        serie, _, fd = spec.partition("=")
        if not fd.isdigit():
            fail(f"--listen-fd takes SERIE=FD, not {spec!r}.")
        listeners.append((serie, socket.socket(fileno=int(fd))))
    return listeners


def listen_or_explain(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening at once (two sockets with
    ``SO_REUSEADDR`` may bind one address as long as neither listens), or a refusal saying
    in one sentence why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Lets a restarted emulator take its port back from connections in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: no Nagle delay on small answers.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"Cannot serve the Odoo emulator on {host}:{port}: the port is in use by "
                "another program; stop it or choose another port (--port)."
            )
        fail(f"Cannot serve the Odoo emulator on {host}:{port}: {exc.strerror or exc}.")
    return sock


def read_master_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return os.environ.get(MASTER_PASSWORD_ENV) or None
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        fail("No master password was given on standard input.")
    return value


def check_postgres(postgres_url: str) -> None:
    try:
        psycopg.connect(postgres_url, connect_timeout=10).close()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"Cannot reach PostgreSQL at the given URL: {reason}")


def run(args: argparse.Namespace) -> None:
    inherited = inherited_listeners(args.listen_fd)
    try:
        versions = [get_version(serie) for serie, _ in inherited] or [
            get_version(args.odoo_version)
        ]
    except ValueError as exc:
        fail(str(exc))
    if not 0 < args.port < 65536:
        fail(f"The port must be between 1 and 65535, not {args.port}.")
    master_password = read_master_password(args.master_password_stdin)
    if inherited:
        sockets = [sock for _, sock in inherited]
    else:
        sockets = [listen_or_explain(args.host, args.port)]
    if args.postgres_url is not None:
        check_postgres(args.postgres_url)
    data_dir: Path = args.data_dir.expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"Cannot create the data dir {data_dir}: {exc.strerror or exc}.")
    configure_logging(args.log_level, args.log_format)
    logfile = args.logfile.expanduser().resolve() if args.logfile else data_dir / ODOO_LOG_FILE_NAME
    try:
        configure_odoo_log(logfile)
    except OSError as exc:
        fail(f"Cannot open the log file {logfile}: {exc.strerror or exc}.")
    listeners = [
        (
            EmulatorConfig(
                data_dir=data_dir,
                version=served,
                host=sock.getsockname()[0],
                port=sock.getsockname()[1],
                postgres_url=args.postgres_url,
                master_password=master_password,
                list_db=args.list_db,
                dev_mode=tuple(f.strip() for f in args.dev_mode.split(",") if f.strip()),
            ),
            sock,
        )
        for served, sock in zip(versions, sockets, strict=True)
    ]
    if master_password is None and not listeners[0][0].config_file.exists():
        say("No master password given: it is Odoo's default, 'admin', until changed.")
    for config, _ in listeners:
        say(
            f"Odoo {config.version.serie} emulator on http://{config.host}:{config.port} "
            f"(data in {data_dir})"
        )
    control = socket.socket(fileno=args.control_fd) if args.control_fd is not None else None
    try:
        serve_listeners(listeners, control)
    except KeyboardInterrupt:
        pass


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except CommandError as exc:
        # Bold red on a terminal, as the saas command line writes its errors.
        label = "\x1b[1;31mError:\x1b[0m" if sys.stderr.isatty() else "Error:"
        say(f"{label} {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
