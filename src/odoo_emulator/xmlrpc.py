"""Odoo's XML-RPC transport (odoo-protocol.md section 1.2).

``POST /xmlrpc/2/<service>`` answers faults with integer codes, the legacy ``/xmlrpc/<service>``
with string codes; both answer HTTP 200 ``text/xml``. Results are marshalled as Odoo's
patched marshaller does: no None (``allow_none=False``: a None result is fault 1), dates and
datetimes as ``YYYY-MM-DD[ HH:MM:SS]`` strings, bytes as strings, control characters dropped.
The emulator uses its own marshaller instead of patching ``xmlrpc.client`` process-wide.
"""

from __future__ import annotations

import datetime as dt
import logging
import xmlrpc.client
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from odoo_emulator.errors import xmlrpc_fault_int, xmlrpc_fault_legacy
from odoo_emulator.jsonrpc import log_rpc_error, without_nosniff

logger = logging.getLogger(__name__)

# 0 to 31, except tab, newline and carriage return.
CONTROL_CHARACTERS = dict.fromkeys(set(range(32)) - {9, 10, 13})


def _dump_text(marshaller: xmlrpc.client.Marshaller, value: Any, write: Any) -> None:
    # XML 1.0 cannot carry control characters: dropped, as Odoo does.
    xmlrpc.client.Marshaller.dump_unicode(
        marshaller, str(value).translate(CONTROL_CHARACTERS), write
    )


def _dump_bytes(marshaller: xmlrpc.client.Marshaller, value: bytes, write: Any) -> None:
    _dump_text(marshaller, value.decode("utf-8", "replace"), write)


def _dump_datetime(marshaller: xmlrpc.client.Marshaller, value: dt.datetime, write: Any) -> None:
    _dump_text(marshaller, value.strftime("%Y-%m-%d %H:%M:%S"), write)


def _dump_date(marshaller: xmlrpc.client.Marshaller, value: dt.date, write: Any) -> None:
    _dump_text(marshaller, value.strftime("%Y-%m-%d"), write)


def _odoo_dispatch() -> Any:
    dispatch: dict[Any, Any] = dict(xmlrpc.client.Marshaller.dispatch)
    dispatch.update(
        {
            str: _dump_text,
            bytes: _dump_bytes,
            dt.datetime: _dump_datetime,
            dt.date: _dump_date,
            frozenset: dispatch[list],
        }
    )
    return dispatch


class OdooMarshaller(xmlrpc.client.Marshaller):
    """The stdlib marshaller with Odoo's overrides (odoo/addons/base/controllers/rpc.py)."""

    dispatch = _odoo_dispatch()


def _dumps(params: tuple[Any, ...] | xmlrpc.client.Fault, *, odoo18: bool) -> str:
    """The stdlib's framing up to 17.0; 18.0 writes its own (double-quoted declaration, a
    newline before the closing tag), as observed."""
    body = OdooMarshaller("utf-8", allow_none=False).dumps(params)
    if odoo18:
        return f'<?xml version="1.0"?>\n<methodResponse>\n{body}\n</methodResponse>\n'
    return f"<?xml version='1.0'?>\n<methodResponse>\n{body}</methodResponse>\n"


def dumps_response(value: Any, *, odoo18: bool = False) -> str:
    return _dumps((value,), odoo18=odoo18)


def dumps_fault(fault: xmlrpc.client.Fault, *, odoo18: bool = False) -> str:
    return _dumps(fault, odoo18=odoo18)


def xml_response(body: str) -> Response:
    return Response(body.encode("utf-8"), media_type="text/xml; charset=utf-8")


async def handle_xmlrpc(
    body: bytes,
    call: Callable[[str, tuple[Any, ...]], Awaitable[Any]],
    *,
    legacy: bool,
    odoo18: bool,
) -> Response:
    """Decode the call, run it, encode the result or the fault. From 18.0 a fault is
    answered by Odoo's error path, without ``X-Content-Type-Options`` (observed)."""
    try:
        params, method = xmlrpc.client.loads(body, use_builtin_types=True)
        if method is None:
            raise ValueError("no method name in the XML-RPC request")
        result = await call(method, params)
        return xml_response(dumps_response(result, odoo18=odoo18))
    except Exception as exc:
        log_rpc_error(exc)
        fault = xmlrpc_fault_legacy(exc) if legacy else xmlrpc_fault_int(exc)
        response = xml_response(dumps_fault(fault, odoo18=odoo18))
        return without_nosniff(response) if odoo18 else response
