"""Odoo's exceptions, and how each transport reports them (odoo-protocol.md section 3, 1.2).

The emulator raises exceptions whose *Python* class name and module are the ones Odoo's own
exceptions have (``odoo.exceptions.AccessDenied``, ``odoo.service.db.DatabaseExists``...):
Odoo serialises an error as ``f"{module}.{class}"`` and clients branch on that string, so the
emulator's classes claim Odoo's module through ``__module__``. Errors Odoo lets escape from
Python itself (``KeyError``, ``NameError``, ``TypeError``...) are raised as the real builtins.
Errors from PostgreSQL are reported under psycopg2's names, which real Odoo uses (psycopg 3
keeps the same class names for SQLSTATE errors).
"""

from __future__ import annotations

import traceback
import xmlrpc.client
from typing import Any

import psycopg

ODOO_EXCEPTIONS = "odoo.exceptions"


class UserError(Exception):
    """``odoo.exceptions.UserError``: a business error shown to the user (fault 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class AccessDenied(UserError):
    """``odoo.exceptions.AccessDenied``: bad credentials or master password (fault 3)."""

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class AccessError(UserError):
    """``odoo.exceptions.AccessError``: access rights (fault 4)."""


class MissingError(UserError):
    """``odoo.exceptions.MissingError``: the record does not exist any more."""


class ValidationError(UserError):
    """``odoo.exceptions.ValidationError``: a constraint refused the change."""


class RedirectWarning(Exception):
    """``odoo.exceptions.RedirectWarning`` (fault 2 on /xmlrpc/2)."""


class DatabaseExists(Warning):
    """``odoo.service.db.DatabaseExists``: a Warning, not a UserError, so XML-RPC fault 1."""


class SessionExpiredException(Exception):
    """``odoo.http.SessionExpiredException``: JSON-RPC error code 100."""


class OperationalError(Exception):
    """``psycopg2.OperationalError``: reported when a database cannot be connected to."""


for _cls in (UserError, AccessDenied, AccessError, MissingError, ValidationError, RedirectWarning):
    _cls.__module__ = ODOO_EXCEPTIONS
DatabaseExists.__module__ = "odoo.service.db"
SessionExpiredException.__module__ = "odoo.http"
OperationalError.__module__ = "psycopg2"


class NotFound(Exception):
    """A werkzeug ``NotFound`` raised by an endpoint: JSON-RPC error code 404, "404: Not
    Found", no arguments, werkzeug's description as message."""

    description = (
        "The requested URL was not found on the server. If you entered the URL manually "
        "please check your spelling and try again."
    )

    def __str__(self) -> str:
        return f"404 Not Found: {self.description}"


NotFound.__module__ = "werkzeug.exceptions"


def odoo_error_name(exc: BaseException) -> str:
    """The ``data.name`` Odoo would report for ``exc`` (section 3)."""
    cls = type(exc)
    if isinstance(exc, psycopg.Error):
        # psycopg's SQLSTATE classes live in psycopg.errors under psycopg2's names; the base
        # classes (OperationalError, ProgrammingError...) are top-level in both libraries.
        if cls.__module__ == "psycopg.errors":
            return f"psycopg2.errors.{cls.__name__}"
        return f"psycopg2.{cls.__name__}"
    module = cls.__module__
    return f"{module}.{cls.__name__}" if module else cls.__name__


def error_message(exc: BaseException) -> str:
    """``str(exc)`` as Odoo's ``ustr`` renders it: the args joined, so KeyError loses its
    quotes (section 11.1: ``Method not found: foo``, not ``'Method not found: foo'``)."""
    if isinstance(exc, psycopg.Error):
        # psycopg2 renders server errors with libpq's trailing newline.
        text = str(exc)
        return text if text.endswith("\n") else text + "\n"
    if exc.args:
        return "\n".join(str(arg) for arg in exc.args)
    return str(exc)


class NoDatabase(Exception):
    """No database could be chosen for a route that needs one: Odoo has no such route
    without a database and answers its HTML 404 page (section 11.2)."""


def format_traceback(exc: BaseException) -> str:
    """The ``debug`` text: a Python traceback whose last line names the Odoo class (builtins
    without their module, as Python prints them)."""
    lines = traceback.format_exception(exc)
    name = odoo_error_name(exc).removeprefix("builtins.")
    lines[-1] = f"{name}: {error_message(exc)}\n"
    return "".join(lines)


def _json_safe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


def jsonrpc_error(exc: BaseException, *, code_for_other: int = 200) -> dict[str, Any]:
    """The JSON-RPC ``error`` member (section 3; 19.0 reports ``code`` 0, section 10.4)."""
    code, message = code_for_other, "Odoo Server Error"
    if isinstance(exc, NotFound):
        code, message = 404, "404: Not Found"
    elif isinstance(exc, SessionExpiredException):
        code, message = 100, "Odoo Session Expired"
    arguments = list(exc.args) if not isinstance(exc, psycopg.Error) else [error_message(exc)]
    return {
        "code": code,
        "message": message,
        "data": {
            "name": odoo_error_name(exc),
            "debug": format_traceback(exc),
            "message": error_message(exc),
            "arguments": _json_safe(arguments),
            "context": _json_safe(getattr(exc, "context", {})),
        },
    }


# XML-RPC fault codes of /xmlrpc/2 (odoo/addons/base/controllers/rpc.py).
FAULT_APPLICATION_ERROR = 1
FAULT_WARNING = 2
FAULT_ACCESS_DENIED = 3
FAULT_ACCESS_ERROR = 4


def xmlrpc_fault_int(exc: BaseException) -> xmlrpc.client.Fault:
    """/xmlrpc/2: integer fault codes with ``str(exc)`` (so a RedirectWarning, which has four
    arguments, shows their tuple, as observed); anything not an Odoo exception is 1 with the
    traceback."""
    if isinstance(exc, RedirectWarning):
        return xmlrpc.client.Fault(FAULT_WARNING, str(exc))
    if isinstance(exc, AccessError):
        return xmlrpc.client.Fault(FAULT_ACCESS_ERROR, str(exc))
    if isinstance(exc, AccessDenied):
        return xmlrpc.client.Fault(FAULT_ACCESS_DENIED, str(exc))
    if isinstance(exc, UserError):
        return xmlrpc.client.Fault(FAULT_WARNING, str(exc))
    return xmlrpc.client.Fault(FAULT_APPLICATION_ERROR, format_traceback(exc))


def xmlrpc_fault_legacy(exc: BaseException) -> xmlrpc.client.Fault:
    """Legacy /xmlrpc: string fault codes (``AccessDenied``, ``warning -- <Kind>\\n\\n<msg>``),
    else the exception text as code and the traceback as string."""
    text = str(exc)
    if isinstance(exc, RedirectWarning):
        return xmlrpc.client.Fault("warning -- Warning\n\n" + text, "")  # type: ignore[arg-type]
    if isinstance(exc, MissingError):
        return xmlrpc.client.Fault("warning -- MissingError\n\n" + text, "")  # type: ignore[arg-type]
    if isinstance(exc, AccessError):
        return xmlrpc.client.Fault("warning -- AccessError\n\n" + text, "")  # type: ignore[arg-type]
    if isinstance(exc, AccessDenied):
        return xmlrpc.client.Fault("AccessDenied", text)  # type: ignore[arg-type]
    if isinstance(exc, UserError):
        return xmlrpc.client.Fault("warning -- UserError\n\n" + text, "")  # type: ignore[arg-type]
    return xmlrpc.client.Fault(error_message(exc), format_traceback(exc))  # type: ignore[arg-type]


def operational_error(exc: psycopg.OperationalError) -> OperationalError:
    """A connection failure as psycopg2 words it: libpq's own text, which already says
    ``database "x" does not exist`` or ``... is not currently accepting connections``."""
    text = str(exc)
    prefix = "connection failed: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return OperationalError(text if text.endswith("\n") else text + "\n")
