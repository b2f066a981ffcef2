"""The portal's lists refuse bad paging, ordering and filter values as every other list does
(tests/core/test_bad_input.py walks the others): a 422 naming the parameter, never a 500.
Their caller needs a tenant with its portal on, which that walk has not, so they are walked
here, as the agency's owner (``tenant_id``) and, for the public blog, anonymously
(``tenant``)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from saas_server.core.pagination import Page
from tests.fixtures.errors import assert_envelope
from tests.fixtures.portal import PortalTenant

pytestmark = pytest.mark.slow


def portal_lists(app: FastAPI) -> list[APIRoute]:
    routes = (context.original_route for context in iter_route_contexts(app.routes))
    return [
        route
        for route in routes
        if isinstance(route, APIRoute)
        and route.endpoint.__module__.startswith("saas_server.portal")
        and "GET" in route.methods
        and isinstance(route.response_model, type)
        and issubclass(route.response_model, Page)
    ]


def caller_of(route: APIRoute, portal: PortalTenant) -> tuple[dict[str, str], dict[str, str]]:
    """Query and headers of someone who may read the list."""
    if route.path == "/api/v1/blog/posts":
        return {"tenant": portal.subdomain}, {}
    return {"tenant_id": portal.tenant.id}, portal.owner.headers


async def test_the_portal_lists_refuse_bad_pages_orderings_and_filter_values(
    app: FastAPI, client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    routes = portal_lists(app)
    assert {r.path for r in routes} >= {
        "/api/v1/projects",
        "/api/v1/portal/invoices",
        "/api/v1/notifications",
        "/api/v1/blog/posts",
    }
    filtered = []
    for route in routes:
        query, headers = caller_of(route, portal)
        fine = await client.get(route.path, params=query, headers=headers)
        assert fine.status_code == 200, (route.path, fine.text)
        for page in ("99999999999999999999", "9223372036854775807", "2147483648"):
            answer = await client.get(route.path, params={**query, "page": page}, headers=headers)
            assert "page" in assert_envelope(answer, 422, "VALIDATION_ERROR")["details"], route.path
        for ordering in ("--created_at", "-+created_at", "++created_at", "created_at,--x"):
            answer = await client.get(
                route.path, params={**query, "ordering": ordering}, headers=headers
            )
            error = assert_envelope(answer, 422, "VALIDATION_ERROR")
            assert "ordering" in error["details"], (route.path, ordering)
        names = {p.alias or p.name for p in route.dependant.query_params}
        for name in sorted(names & {"status", "type"}):
            answer = await client.get(route.path, params={**query, name: "bogus"}, headers=headers)
            assert name in assert_envelope(answer, 422, "VALIDATION_ERROR")["details"], (
                route.path,
                name,
            )
            filtered.append((route.path, name))
    # projects: status; notifications: type
    assert sorted(filtered) == [("/api/v1/notifications", "type"), ("/api/v1/projects", "status")]
