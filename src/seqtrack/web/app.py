"""Wires the pages into the application: routes, static files, and problems shown as pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from seqtrack.platform.problems import install_page_renderer
from seqtrack.web import (
    admin,
    admin_integrations,
    admin_settings,
    auth,
    docs,
    home,
    intake,
    samples,
    scan,
    sequencing,
    storage,
    vendor,
)
from seqtrack.web.rendering import STATIC_DIR, render

log = structlog.get_logger("seqtrack.web")


WEB_MODULES = (auth, docs, home, scan, samples, intake, sequencing, storage, admin, admin_integrations, admin_settings)


def install_web(app: FastAPI) -> None:
    missing = vendor.missing()
    if missing:
        log.warning(
            "front-end libraries are not installed; pages and /docs will lack them until `make install` "
            "(python -m seqtrack.web.vendor) fetches them",
            missing=[f"{pinned.package} {pinned.version}" for pinned in missing],
        )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Each page module straight into the app: a router of routers, included without a prefix,
    # makes FastAPI resolve every page's dependencies one extra time per app.
    for module in WEB_MODULES:
        app.include_router(module.router, include_in_schema=False)
    install_page_renderer(app, problem_page)


def problem_page(request: Request, problem: dict[str, Any]) -> Response:
    """A problem met while browsing: signing in again, or a page that says what went wrong."""
    if problem["status"] == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)
    return render(request, "error.html", {"problem": problem}, status_code=problem["status"])
