"""Odoo's JSON-RPC transport (odoo-protocol.md sections 1.1, 3, 10.4, 11.1).

Every ``type='json'`` route (``/jsonrpc``, ``/web/session/*``, ``/web/dataset/call_kw``...)
behaves the same way:

- ``Content-Type`` must be ``application/json`` or ``application/json-rpc`` (parameters such
  as ``charset`` allowed); otherwise an HTML 400 page (415 on 19.0);
- a body that is not JSON: 400 ``Invalid JSON data`` (``text/html``); JSON but not an
  object: 400 ``Invalid JSON-RPC data``;
- ``params`` must be an object; its keys are matched to the endpoint's parameters, extra
  ones dropped, a missing one a TypeError;
- the answer is ``{"jsonrpc": "2.0", "id": <echoed>, "result": ...}`` with HTTP 200, the
  ``result`` member omitted for None; errors are HTTP 200 envelopes (section 3);
- success carries ``X-Content-Type-Options: nosniff``, error envelopes do not (11.1).
"""

from __future__ import annotations

import datetime as dt
import html
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from odoo_emulator.errors import AccessDenied, UserError, jsonrpc_error
from odoo_emulator.versions import OdooVersion

logger = logging.getLogger(__name__)

JSON_MIMETYPES = ("application/json", "application/json-rpc")
HTML = "text/html; charset=utf-8"
# Odoo adds ``X-Content-Type-Options: nosniff`` to every response its dispatcher finishes;
# error envelopes, 404s and requests refused before dispatch go without (section 11.1). The
# app's middleware adds the header unless a response carries this internal marker.
NO_NOSNIFF = "x-odoo-emulator-no-nosniff"


def without_nosniff(response: Response) -> Response:
    response.headers[NO_NOSNIFF] = "1"
    return response


def mimetype(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def werkzeug_error_page(status: int, title: str, description: str) -> str:
    """The HTML body werkzeug's HTTPException renders."""
    return (
        "<!doctype html>\n<html lang=en>\n"
        f"<title>{status} {title}</title>\n<h1>{title}</h1>\n"
        f"<p>{html.escape(description).replace('&#x27;', '&#39;')}</p>\n"
    )


def not_found() -> Response:
    return without_nosniff(
        Response(
            werkzeug_error_page(
                404,
                "Not Found",
                "The requested URL was not found on the server. If you entered the URL manually "
                "please check your spelling and try again.",
            ),
            status_code=404,
            media_type=HTML,
        )
    )


def wrong_content_type(path: str, version: OdooVersion) -> Response:
    """A JSON route reached with another Content-Type (http.py ``_set_request_dispatcher``)."""
    if version.wrong_content_type_status == 415:
        description = (
            f"Request inferred type is compatible with ['http'] but {path!r} is "
            "type='jsonrpc'.\n\nPlease verify the Content-Type request header and try again."
        )
        response = Response(
            werkzeug_error_page(415, "Unsupported Media Type", description),
            status_code=415,
            media_type=HTML,
        )
        response.headers["Accept"] = ", ".join(JSON_MIMETYPES)
        return without_nosniff(response)
    description = f"Request inferred type is compatible with ['http'] but {path!r} is type='json'."
    return without_nosniff(
        Response(
            werkzeug_error_page(400, "Bad Request", description), status_code=400, media_type=HTML
        )
    )


def _json_default(value: Any) -> Any:
    # odoo.tools.date_utils.json_default
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, frozenset | set):
        return list(value)
    return str(value)


def json_response(payload: dict[str, Any], *, success: bool) -> Response:
    body = json.dumps(payload, ensure_ascii=False, default=_json_default)
    response = Response(body, media_type="application/json; charset=utf-8")
    return response if success else without_nosniff(response)


class JsonRequestError(Exception):
    """The request cannot be dispatched; ``response`` is the answer (400 pages...)."""

    def __init__(self, response: Response) -> None:
        super().__init__("invalid JSON request")
        self.response = response


async def parse_json_request(request: Request, version: OdooVersion) -> tuple[Any, Any]:
    """(request id, params) of a JSON-RPC request; JsonRequestError for bad requests."""
    if mimetype(request) not in JSON_MIMETYPES:
        raise JsonRequestError(wrong_content_type(request.url.path, version))
    body = await request.body()
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise JsonRequestError(
            Response("Invalid JSON data", status_code=400, media_type=HTML)
        ) from None
    if not isinstance(data, dict):
        raise JsonRequestError(Response("Invalid JSON-RPC data", status_code=400, media_type=HTML))
    return data.get("id"), data.get("params", {})


def _missing_message(function_name: str, missing: list[str]) -> str:
    """Python's own wording for missing arguments."""
    quoted = [repr(name) for name in missing]
    if len(quoted) == 1:
        names = quoted[0]
    elif len(quoted) == 2:
        names = f"{quoted[0]} and {quoted[1]}"
    else:
        names = ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
    plural = "argument" if len(quoted) == 1 else "arguments"
    return f"{function_name}() missing {len(quoted)} required positional {plural}: {names}"


def bind_params(
    endpoint: Callable[..., Any], params: Any, name: str | None = None
) -> dict[str, Any]:
    """Odoo's route_wrapper: keep the endpoint's parameters, drop (and log) the others; a
    missing required one is Python's TypeError, naming the controller method as Odoo's does
    (``RPC.jsonrpc()``)."""
    params = dict(params)  # a list or null raises TypeError/ValueError, as dict() does in Odoo
    signature = inspect.signature(endpoint)
    accepted = {
        key
        for key, parameter in signature.parameters.items()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }
    ignored = set(params) - accepted
    if ignored:
        logger.warning("%s called ignoring args %s", name or endpoint.__name__, sorted(ignored))
    bound = {k: v for k, v in params.items() if k in accepted}
    missing = [
        key
        for key, parameter in signature.parameters.items()
        if key in accepted and key not in bound and parameter.default is parameter.empty
    ]
    if missing:
        raise TypeError(_missing_message(name or endpoint.__name__, missing))
    return bound


def envelope(request_id: Any, *, result: Any = None, error: Any = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        payload["error"] = error
    if result is not None:
        payload["result"] = result
    return payload


async def handle_json(
    request: Request,
    version: OdooVersion,
    endpoint: Callable[..., Awaitable[Any]],
    name: str,
) -> Response:
    """Parse, call ``endpoint`` (Odoo's controller method ``name``) with the bound params,
    and wrap the answer or the error."""
    try:
        request_id, params = await parse_json_request(request, version)
    except JsonRequestError as exc:
        return exc.response
    try:
        result = await endpoint(**bind_params(endpoint, params, name))
    except Exception as exc:
        log_rpc_error(exc)
        error = jsonrpc_error(exc, code_for_other=version.jsonrpc_error_code)
        return json_response(envelope(request_id, error=error), success=False)
    return json_response(envelope(request_id, result=result), success=True)


def log_rpc_error(exc: BaseException) -> None:
    if isinstance(exc, AccessDenied | UserError | KeyError | NameError | AttributeError):
        logger.info("RPC error: %s: %s", type(exc).__name__, exc)
    else:
        logger.warning("RPC error", exc_info=exc)
