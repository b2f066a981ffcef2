"""Swagger UI and ReDoc pages whose scripts come from an installed package, not a CDN.

Self-hosters run air-gapped more often than not; FastAPI's default pages load their
JavaScript from jsDelivr and stay blank there. ``fastapi-offline`` ships the same bundles
as package data, and this module serves them from ``/docs/assets`` with the pages built by
FastAPI's own ``get_swagger_ui_html`` / ``get_redoc_html``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.responses import FileResponse, HTMLResponse

from saas_server.core.errors import NotFound

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
# conventions.md: static assets are cached for a week.
ASSETS_CACHE_CONTROL = "public, max-age=604800"


# The bundle's files, listed once: a request names one of them or gets a 404, so no path
# from a client ever reaches the file system.
ASSET_FILES = {path.name: path for path in ASSETS_DIR.iterdir() if path.is_file()}


def install_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` (build the app with ``docs_url=None, redoc_url=None``)."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url

    # A plain route rather than a StaticFiles mount: every route of the app stays a Route that
    # the prefix-declining router (core/routing.py) matches as plain in-order matching would.
    @app.get(ASSETS_URL + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        path = ASSET_FILES.get(name)
        if path is None:
            raise NotFound("No such documentation asset")
        return FileResponse(path, headers={"Cache-Control": ASSETS_CACHE_CONTROL})

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # Swagger UI would otherwise fetch a badge from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
