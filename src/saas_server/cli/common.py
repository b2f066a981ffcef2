"""Shared CLI plumbing: one clear sentence and a non-zero exit instead of a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import psycopg
import sqlalchemy.exc
import typer
from pydantic import ValidationError
from rich.console import Console

from saas_server.core.errors import AppError, ConfigurationError
from saas_server.core.logging import configure_logging
from saas_server.core.settings import Settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    # soft_wrap: the terminal wraps; rich's own wrapping would break paths and URLs in two.
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        fail(f"Invalid setting SAAS_{field.upper()}: {first['msg']}.")
    configure_logging(settings.log_level, settings.log_format)
    return settings


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        raise typer.Exit(130) from None
    except ConfigurationError as exc:
        fail(str(exc))
    except AppError as exc:
        details = "; ".join(
            f"{field}: {' '.join(msgs) if isinstance(msgs, list) else msgs}"
            for field, msgs in exc.details.items()
        )
        fail(f"{exc.message}{' (' + details + ')' if details else ''}.")
    except (sqlalchemy.exc.OperationalError, psycopg.OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"Cannot reach the database: {reason}")
    except OSError as exc:
        fail(f"{exc.strerror or exc} ({getattr(exc, 'filename', '') or 'system error'}).")


def read_secret_from_stdin(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        fail(f"No {what} was given on standard input.")
    return value
