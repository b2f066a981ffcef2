"""Odoo failures, as the API reports them: ``ODOO_UNAVAILABLE`` (502) with the Odoo fault."""

from __future__ import annotations

from typing import Any

from saas_server.core.errors import AppError


class OdooError(AppError):
    status_code = 502
    code = "ODOO_UNAVAILABLE"
    message = "The Odoo server could not do this"


class OdooConnectionError(OdooError):
    """The server could not be reached (or answered something that is not Odoo)."""

    message = "The Odoo server cannot be reached"


class OdooFault(OdooError):
    """Odoo answered with an error: ``name`` is the exception's dotted class name
    (``odoo.exceptions.AccessDenied``), the field clients should branch on (protocol §3)."""

    def __init__(self, name: str, odoo_message: str, *, debug: str | None = None) -> None:
        self.name = name
        self.odoo_message = odoo_message
        self.debug = debug
        super().__init__(
            f"Odoo refused the call: {odoo_message}" if odoo_message else None,
            details={"odoo_error": {"name": name, "message": odoo_message}},
        )

    @property
    def is_access_denied(self) -> bool:
        return self.name.endswith("AccessDenied")

    @classmethod
    def from_jsonrpc(cls, error: dict[str, Any]) -> OdooFault:
        data = error.get("data") or {}
        return cls(
            str(data.get("name") or "OdooError"),
            str(data.get("message") or error.get("message") or ""),
            debug=data.get("debug"),
        )
