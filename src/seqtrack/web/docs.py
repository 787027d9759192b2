"""The API's interactive documentation, served from this server's own files (no CDN)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from seqtrack.web.rendering import static_url

router = APIRouter(include_in_schema=False)

SWAGGER_FILES = {
    "swagger_js_url": "vendor/swagger-ui-dist/swagger-ui-bundle.js",
    "swagger_css_url": "vendor/swagger-ui-dist/swagger-ui.css",
    "swagger_favicon_url": "favicon.svg",
}
REDOC_FILES = {"redoc_js_url": "vendor/redoc/redoc.standalone.js", "redoc_favicon_url": "favicon.svg"}


def _viewer(request: Request, page: Callable[..., HTMLResponse], files: dict[str, str]) -> HTMLResponse:
    """A viewer of this server's schema, its scripts and styles served from here."""
    urls = {name: static_url(path) for name, path in files.items()}
    return page(openapi_url=request.app.openapi_url, title="SeqTrack API", **urls)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _viewer(request, get_swagger_ui_html, SWAGGER_FILES)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    # Fonts from Google would be a request to another site, and fail offline.
    return _viewer(request, partial(get_redoc_html, with_google_fonts=False), REDOC_FILES)
