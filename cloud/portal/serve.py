"""Serve the built portal at ``/``: its hashed assets for a year, and ``index.html`` for every route of the app.

The portal's routes (``/devices/d-1``, ``/apps/...`` pages of its own) are the browser's: any GET the API does not
answer, outside the API's own prefixes, gets ``index.html`` and the app routes it. Without a build (a checkout where
``make portal`` has not run), ``/`` says how to build one; the API works either way.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from hub.errors import NotFound

DIST = Path(__file__).parent / "dist"
ASSETS_PATH = "/assets"
#: Paths that are never the portal's, so an unknown one answers the API's 404 rather than a page.
_NOT_PORTAL = ("api/", "docs", "redoc", "openapi.json", "metrics", "healthz", "readyz", "assets/", "apps/")
#: The portal loads only its own scripts and talks only to its own origin; nothing may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fieldhub</title></head>
<body><h1>Fieldhub</h1><p>The web portal is not built in this installation: run <code>make portal</code>
(Node.js 20+ and npm) in the source tree, or install a wheel built by <code>make wheel</code>.
The API is at <a href="/docs">/docs</a>.</p></body></html>"""


class _Assets(StaticFiles):
    """Vite names assets by their content's hash: a browser may keep them as long as it likes."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install(app: FastAPI, dist: Path = DIST) -> None:
    """Add the portal's routes to ``app``; call it after every API router (its catch-all route comes last)."""
    index = dist / "index.html"
    built = index.is_file()
    if built:
        app.mount(ASSETS_PATH, _Assets(directory=dist / "assets", check_dir=False), name="portal-assets")
    #: Files beside index.html (the favicon and the like), by name: nothing else is read from the build.
    files = {p.name: p for p in dist.iterdir() if p.is_file() and p != index} if built else {}

    @app.get("/{path:path}", include_in_schema=False)
    async def portal(path: str) -> Response:
        if path.startswith(_NOT_PORTAL):
            raise NotFound("path", "/" + path)
        if not built:
            return HTMLResponse(_NOT_BUILT, status_code=503, headers=_PAGE_HEADERS)
        file = files.get(path)
        if file is not None:
            return FileResponse(
                file, headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
            )
        return FileResponse(index, media_type="text/html", headers=_PAGE_HEADERS)
