"""The API's interactive documentation, served from this server's own files (no CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from seqtrack.web.rendering import static_url

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title="SeqTrack API",
        swagger_js_url=static_url("vendor/swagger-ui-dist/swagger-ui-bundle.js"),
        swagger_css_url=static_url("vendor/swagger-ui-dist/swagger-ui.css"),
        swagger_favicon_url=static_url("favicon.svg"),
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title="SeqTrack API",
        redoc_js_url=static_url("vendor/redoc/redoc.standalone.js"),
        redoc_favicon_url=static_url("favicon.svg"),
        with_google_fonts=False,
    )
