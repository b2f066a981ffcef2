"""The error envelope of conventions.md, and the handlers that put every error in it."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from saas_server.core import clock
from saas_server.core.errors import AppError, conflict_for
from saas_server.core.logging import request_id_var

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "MAINTENANCE_MODE",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": request_id_var.get(),
            "timestamp": clock.isoformat(clock.now()),
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def validation_details(errors: list[Any]) -> dict[str, list[str]]:
    """FastAPI's error list -> ``{"field": ["message", ...]}`` (dotted paths for nesting)."""
    details: dict[str, list[str]] = defaultdict(list)
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if error.get("type") == "json_invalid":
            details["body"].append("Malformed JSON: " + str(error.get("ctx", {}).get("error", "")))
            continue
        if loc and loc[0] in ("body", "query", "path", "header", "cookie", "form"):
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        field = ".".join(loc) or where
        message = str(error.get("msg", "Invalid value"))
        if error.get("type") == "extra_forbidden":
            name = loc[-1] if loc else field
            message = f"Unknown field {name!r}: this endpoint does not take it."
        details[field].append(message)
    return dict(details)


async def app_error_handler(request: Request, exc: AppError) -> JSONResponse:
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def request_validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = validation_details(list(exc.errors()))
    return error_response(422, "VALIDATION_ERROR", "The request is invalid", details)


async def http_exception_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "ERROR")
    if exc.status_code == 404:
        message = "Not found"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on this path"
    else:
        message = str(exc.detail) if exc.detail else code.replace("_", " ").capitalize()
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def integrity_error_handler(request: Request, exc: IntegrityError) -> JSONResponse:
    error = conflict_for(exc)
    if error is None:
        # Not a race: a bug, answered and logged as any other unhandled error.
        raise exc
    return await app_error_handler(request, error)


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this; the pipeline middleware logs it with the request id.
    return error_response(500, "INTERNAL_ERROR", "An internal error occurred")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, unhandled_error_handler)
    app.add_exception_handler(AppError, app_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, integrity_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, request_validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)  # type: ignore[arg-type]
