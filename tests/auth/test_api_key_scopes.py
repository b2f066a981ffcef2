"""The scope table (auth/scopes.py) covers every route of the app, and nothing else."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from saas_server.app import create_app
from saas_server.auth.scopes import (
    PUBLIC,
    ROUTE_SCOPES,
    SCOPES,
    SESSION_ONLY,
    TENANT_LESS_FOR_CONFINED_KEYS,
    TENANT_QUERY_ROUTES,
)
from saas_server.core.settings import Settings


def app_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, inside included routers too."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from app_routes(original.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        elif isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, prefix + route.path


def test_every_route_has_a_scope_and_every_scope_a_route(settings: Settings) -> None:
    routes = set(app_routes(create_app(settings).routes))
    assert len(routes) > 50  # the walk found the included routers
    missing = sorted(routes - ROUTE_SCOPES.keys())
    assert not missing, f"routes with no line in auth/scopes.py ROUTE_SCOPES: {missing}"
    stale = sorted(ROUTE_SCOPES.keys() - routes)
    assert not stale, f"lines of ROUTE_SCOPES naming no route: {stale}"


def test_the_table_names_only_known_scopes() -> None:
    for route, scope in ROUTE_SCOPES.items():
        assert scope in SCOPES or scope in (PUBLIC, SESSION_ONLY), (route, scope)
    assert TENANT_LESS_FOR_CONFINED_KEYS <= ROUTE_SCOPES.keys()
    assert TENANT_QUERY_ROUTES <= ROUTE_SCOPES.keys()
    # A route is confined one way: by a ?tenant_id= or as a route naming no tenant.
    assert not TENANT_QUERY_ROUTES & TENANT_LESS_FOR_CONFINED_KEYS
    # Every scope is needed by some route (a scope nothing needs is a typo somewhere).
    assert set(SCOPES) == set(ROUTE_SCOPES.values()) - {PUBLIC, SESSION_ONLY}
