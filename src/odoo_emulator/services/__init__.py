"""Odoo's three RPC services, ``common``, ``db`` and ``object`` (odoo-protocol.md section 2)."""

from __future__ import annotations

from typing import Any

from odoo_emulator.runtime import Emulator, RequestInfo
from odoo_emulator.services import common, db
from odoo_emulator.services import object as object_service

DISPATCHERS = {
    "common": common.dispatch,
    "db": db.dispatch,
    "object": object_service.dispatch,
}


async def dispatch_rpc(
    emulator: Emulator, service: str, method: str, params: Any, request: RequestInfo
) -> Any:
    """``odoo.http.dispatch_rpc``: an unknown service is a KeyError (section 3)."""
    dispatcher = (
        DISPATCHERS[service] if isinstance(service, str) and service in DISPATCHERS else None
    )
    if dispatcher is None:
        raise KeyError(service)
    return await dispatcher(emulator, method, list(params or []), request)
