"""core/routing.py: the quick refusals change which route answers nothing, for any route."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Route

from saas_server.app import create_app
from saas_server.core.routing import PrefixedRoute, PrefixedRouter
from saas_server.core.settings import Settings

SAMPLE = "00000000-0000-4000-8000-000000000001"


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", SAMPLE, template)


def declared_routes(app: FastAPI) -> list[BaseRoute]:
    """Every route in the order FastAPI tries them: top-level ones, then each included
    router's own."""
    routes: list[BaseRoute] = []
    for route in app.router.routes:
        included = getattr(route, "original_router", None)
        routes.extend(included.routes if included is not None else [route])
    return routes


def first_match(routes: list[BaseRoute], method: str, path: str) -> tuple[str, BaseRoute | None]:
    """What plain in-order matching picks: the first full match, else the first route
    whose path matches (405), else nothing (404)."""
    partial = None
    for route in routes:
        regex = getattr(route, "path_regex", None)
        if regex is None or not regex.match(path):
            continue
        methods = getattr(route, "methods", None)
        if not methods or method in methods:
            return "found", route
        partial = partial or route
    return ("not_allowed", partial) if partial is not None else ("not_found", None)


async def resolve(app: FastAPI, method: str, path: str) -> tuple[str, BaseRoute | None]:
    """What the app picks, with every route's handler replaced by a recorder (404s are
    answered by the router itself)."""
    chosen: list[BaseRoute] = []
    originals: list[tuple[BaseRoute, Any]] = []
    for route in declared_routes(app):

        def recorder(scope: Any, receive: Any, send: Any, route: BaseRoute = route) -> Any:
            chosen.append(route)
            return _noop()

        originals.append((route, route.__dict__.get("handle")))
        route.handle = recorder  # type: ignore[method-assign]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    try:
        await app.router(scope, receive, send)
    finally:
        for route, original in originals:
            if original is None:
                del route.__dict__["handle"]
            else:
                route.handle = original  # type: ignore[method-assign]
    if chosen:
        # A route whose path matched but not its method is handled too: it answers 405.
        methods = getattr(chosen[0], "methods", None)
        return ("found" if not methods or method in methods else "not_allowed"), chosen[0]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return {404: "not_found", 405: "not_allowed"}[status], None


async def _noop() -> None:
    return None


@pytest.fixture
def platform_app(tmp_path: Any) -> FastAPI:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        secret_key="s" * 40,
        database_url="postgresql://unused@127.0.0.1:1/unused",
    )
    return create_app(settings)


async def test_every_route_of_the_platform_is_found_as_plain_matching_finds_it(
    platform_app: FastAPI,
) -> None:
    routes = declared_routes(platform_app)
    assert len(routes) > 50
    assert all(isinstance(r, PrefixedRoute | Route) for r in routes)
    checked = 0
    for route in routes:
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            path = concrete(route.path)  # type: ignore[attr-defined]
            expected = first_match(routes, method, path)
            assert await resolve(platform_app, method, path) == expected, (method, path)
            checked += 1
        # A method no route of this path takes: 405 from both, or another route's match.
        path = concrete(route.path)  # type: ignore[attr-defined]
        assert await resolve(platform_app, "PURGE", path) == first_match(routes, "PURGE", path)
    assert checked >= len(routes)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/me/extra",
        "/api/v1/authx/me",
        "/api/v1/tenants/x/y/z/w",
        "/api/v2/tenants",
        "/health/x",
        "/api/v1/admin/odoo-hostsx",
        "/nothing-here",  # "/" is the dashboard's landing page (issue 19)
    ],
)
async def test_unknown_paths_are_not_found(platform_app: FastAPI, path: str) -> None:
    assert first_match(declared_routes(platform_app), "GET", path) == ("not_found", None)
    assert await resolve(platform_app, "GET", path) == ("not_found", None)


def small_app() -> FastAPI:
    api = PrefixedRouter(prefix="/api")
    admin = PrefixedRouter(prefix="/api/admin")
    bare = PrefixedRouter()

    @api.get("/items/search")
    async def search() -> str:
        return "search"

    @api.get("/items/{item_id}")
    async def item(item_id: str) -> str:
        return f"item {item_id}"

    @api.delete("/items/{item_id}")
    async def remove(item_id: str) -> str:
        return f"removed {item_id}"

    @api.get("/files/{rest:path}")
    async def files(rest: str) -> str:
        return f"file {rest}"

    @admin.get("/items")
    async def admin_items() -> str:
        return "admin items"

    @bare.get("/ping")
    async def ping() -> str:
        return "pong"

    app = FastAPI()
    for router in (api, admin, bare):
        app.include_router(router)
    return app


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/api/items/search", 200, "search"),
        ("GET", "/api/items/42", 200, "item 42"),
        ("DELETE", "/api/items/42", 200, "removed 42"),
        ("GET", "/api/files/a/b/c.txt", 200, "file a/b/c.txt"),
        ("GET", "/api/admin/items", 200, "admin items"),
        ("GET", "/ping", 200, "pong"),
        ("GET", "/api/items", 404, None),
        ("GET", "/api/itemsx/42", 404, None),
        ("GET", "/apix/items/42", 404, None),
        ("POST", "/api/items/42", 405, None),
        ("POST", "/api/items/search", 405, None),
    ],
)
async def test_prefixed_routers_answer_as_fastapi_does(
    method: str, path: str, status: int, body: str | None
) -> None:
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.request(method, path)
    assert answer.status_code == status
    if body is not None:
        assert answer.json() == body
    if status == 405:
        assert "GET" in answer.headers["allow"]


def test_a_route_declines_foreign_paths_before_fastapi_matching() -> None:
    async def endpoint() -> None:
        return None

    route = PrefixedRoute("/api/items/{item_id}", endpoint)
    scope = {"type": "http", "method": "GET", "path": "/api/other/1", "root_path": ""}
    assert route.matches(scope)[0] is Match.NONE
    scope["path"] = "/api/items/1"
    match, child = route.matches(scope)
    assert match is Match.FULL and child["path_params"] == {"item_id": "1"}
    exact = PrefixedRoute("/api/items", endpoint)
    assert exact.matches({**scope, "path": "/api/items/1"})[0] is Match.NONE
    assert exact.matches({**scope, "path": "/api/items"})[0] is Match.FULL
