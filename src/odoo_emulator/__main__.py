"""``python -m odoo_emulator``: run the emulator without the ``saas`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path

from odoo_emulator.config import EmulatorConfig
from odoo_emulator.server import serve
from odoo_emulator.versions import VERSIONS, get_version

MASTER_PASSWORD_ENV = "SAAS_ODOO_EMULATOR_MASTER_PASSWORD"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="odoo_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--odoo-version", default="18.0", choices=sorted(VERSIONS))
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--master-password-stdin", action="store_true")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    master = os.environ.get(MASTER_PASSWORD_ENV) or None
    if args.master_password_stdin:
        master = sys.stdin.readline().rstrip("\r\n") or None
        if master is None:
            parser.error("no master password was given on standard input")
    config = EmulatorConfig(
        data_dir=args.data_dir.expanduser().resolve(),
        version=get_version(args.odoo_version),
        host=args.host,
        port=args.port,
        postgres_url=args.postgres_url,
        master_password=master,
    )
    # Bound before anything starts, and served on as is (never checked, then bound).
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    try:
        sock = socket.create_server((args.host, args.port), family=family, backlog=2048)
    except OSError as exc:
        parser.exit(1, f"odoo_emulator: cannot listen on {args.host}:{args.port}: {exc.strerror}\n")
    serve(config, sock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
