"""The API's browsable docs (Swagger UI at ``/docs``, ReDoc at ``/redoc``), served with their assets by the hub.

FastAPI's own pages load their JavaScript and CSS from a CDN, so they stay blank on a network without
Internet access, where hubs often run. The assets come from the ``fastapi-offline`` package (Swagger UI 5,
which reads OpenAPI 3.1, and ReDoc 2); only its files are used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the assets are served, under the app's root path.
ASSETS_PATH = "/docs/assets"
_ASSETS_PACKAGE = ("fastapi_offline", "static")
_OAUTH2_REDIRECT = "/docs/oauth2-redirect"
#: The pages load nothing from another origin: ReDoc, for one, would fetch its logo from its vendor's CDN.
#: Inline scripts and styles are the pages' own (FastAPI writes the page's setup inline); blob: workers are ReDoc's.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets from ``app`` (build it with ``docs_url=redoc_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(packages=[_ASSETS_PACKAGE]), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    _serve(
        app,
        "/docs",
        get_swagger_ui_html,
        {
            "openapi_url": openapi_url,
            "swagger_js_url": f"{ASSETS_PATH}/swagger-ui-bundle.js",
            "swagger_css_url": f"{ASSETS_PATH}/swagger-ui.css",
            "swagger_favicon_url": f"{ASSETS_PATH}/favicon.png",
            "oauth2_redirect_url": _OAUTH2_REDIRECT,
        },
        title=f"{app.title} - API docs",
        # Swagger UI would otherwise fetch a validity badge from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    _serve(app, _OAUTH2_REDIRECT, get_swagger_ui_oauth2_redirect_html, {})
    _serve(
        app,
        "/redoc",
        get_redoc_html,
        {
            "openapi_url": openapi_url,
            "redoc_js_url": f"{ASSETS_PATH}/redoc.standalone.js",
            "redoc_favicon_url": f"{ASSETS_PATH}/favicon.png",
        },
        title=f"{app.title} - API reference",
        with_google_fonts=False,
    )


def _serve(
    app: FastAPI, path: str, render: Callable[..., HTMLResponse], urls: Mapping[str, str], **options: Any
) -> None:
    """Serve the page ``render(**urls, **options)`` at ``path``, confined to the hub's origin.

    ``urls`` are paths in the app; each gets the request's root path (a proxy's prefix) in front.
    """

    async def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        response = render(**{name: f"{root}{url}" for name, url in urls.items()}, **options)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    app.add_api_route(path, page, methods=["GET"], include_in_schema=False, name=render.__name__)
