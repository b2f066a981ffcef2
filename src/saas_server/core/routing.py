"""Routers that find the endpoint of a request without trying every route on the way.

FastAPI walks routes in order, twice per request (once to find the included router, once
inside it), and each try costs about 3 µs of bookkeeping around the regex. With a hundred
routes, finding one near the end cost more than authenticating its caller. Two cheap
refusals, neither of which changes which route answers:

- a router refuses any path outside its own prefix before trying its routes;
- a route refuses any path that does not start with the literal part of its own path
  (everything before its first ``{``) before FastAPI's matching machinery runs.

The route is also where input no endpoint can use is refused, once for every endpoint:
a body whose Content-Type is not the one the endpoint reads (415, naming both), and a NUL
character in the path or the query (422: PostgreSQL cannot hold it in text).
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response, params
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

from saas_server.core.errors import UnsupportedMediaType, ValidationFailed
from saas_server.core.schemas import NUL_MESSAGE

_NO_MATCH: tuple[Match, Scope] = (Match.NONE, {})


class PrefixedRoute(APIRoute):
    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(path, *args, **kwargs)
        literal = self.path.split("{", 1)[0]
        # A path with no parameter must be equal, not merely start with it.
        self._literal = literal
        self._exact = literal == self.path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path = get_route_path(scope)
            if path != self._literal if self._exact else not path.startswith(self._literal):
                return _NO_MATCH
        return super().matches(scope)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        accepted = _accepted_media_types(self)

        async def guarded(request: Request) -> Response:
            refuse_nul_in_url(request)
            if accepted is not None:
                refuse_unexpected_media_type(request, accepted)
            return await handler(request)

        return guarded


JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _accepted_media_types(route: APIRoute) -> tuple[str, ...] | None:
    """The media types the route's body may come in, or None when it takes no body."""
    if route.body_field is None:
        return None
    return FORM_TYPES if isinstance(route.body_field.field_info, params.Form) else JSON_TYPES


def refuse_nul_in_url(request: Request) -> None:
    if "\x00" in request.scope["path"]:
        raise ValidationFailed("The request is invalid", details={"path": [NUL_MESSAGE]})
    bad = sorted(
        {key for key, value in request.query_params.multi_items() if "\x00" in key + value}
    )
    if bad:
        raise ValidationFailed(
            "The request is invalid",
            details={(key.replace("\x00", "") or "query"): [NUL_MESSAGE] for key in bad},
        )


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


def refuse_unexpected_media_type(request: Request, accepted: tuple[str, ...]) -> None:
    """A body must say it is one of ``accepted``; an empty body needs no Content-Type."""
    if not _has_body(request):
        return
    raw = request.headers.get("content-type")
    if raw:
        header = email.message.Message()
        header["content-type"] = raw
        media_type = header.get_content_type()
        if media_type in accepted or (
            accepted == JSON_TYPES
            and media_type.startswith("application/")
            and media_type.endswith("+json")
        ):
            return
        received = f"Content-Type {raw!r}"
    else:
        received = "no Content-Type"
    expected = " or ".join(accepted)
    raise UnsupportedMediaType(
        f"The body was sent with {received}; this endpoint takes {expected}",
        details={"content_type": raw, "accepted": list(accepted)},
    )


class PrefixedRouter(APIRouter):
    """Every domain's router: declines foreign paths at once, and its routes likewise."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", PrefixedRoute)
        super().__init__(**kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.prefix and not get_route_path(scope).startswith(self.prefix):
            return _NO_MATCH
        return super().matches(scope)
