"""Templates, and the few values every page needs (who is signed in, the CSRF token)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from seqtrack import __version__
from seqtrack.identity.actor import Actor
from seqtrack.identity.authenticate import cookie_secure, csrf_cookie_name
from seqtrack.web import nav
from seqtrack.web.forms import Refusal

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"

templates = Jinja2Templates(directory=WEB_DIR / "templates")


@cache
def _asset_version(path: str) -> str:
    # Cache-busting by content: a page never pairs new HTML with a stale script.
    file = STATIC_DIR / path
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:12] if file.is_file() else __version__
    return digest


def static_url(path: str) -> str:
    return f"/static/{path}?v={_asset_version(path)}"


def when(value: datetime | date | None, with_time: bool = True) -> str:
    """Times in UTC, the zone SeqTrack stores, written the same way on every page."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC") if with_time else value.strftime("%Y-%m-%d")
    return value.isoformat()


# Where the plain rule (underscores to spaces, first letter up) reads wrong.
LABELS = {
    "qc": "QC",
    "genomic_dna": "Genomic DNA",
    "hmw_dna": "HMW DNA",
    "total_rna": "Total RNA",
    "mrna": "mRNA",
    "cdna": "cDNA",
    "a260_280": "A260/280",
    "a260_230": "A260/230",
    "din": "DIN",
    "rin": "RIN",
    "concentration_ng_ul": "Concentration (ng/µl)",
    "volume_ul": "Volume (µl)",
    "genome_size_bp": "Genome size (bp)",
    "fragment_size_bp": "Fragment size (bp)",
    "human_id": "ID",
}


def label(value: object) -> str:
    """An enum value or field name as people read it: ``library_prep`` → ``Library prep``."""
    text = str(getattr(value, "value", value) or "")
    return LABELS.get(text) or text.replace("_", " ").capitalize()


def csrf_token(request: Request) -> str:
    return request.cookies.get(csrf_cookie_name(cookie_secure(request, request.app.state.settings)), "")


def csrf_field(request: Request) -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf_token(request))


templates.env.globals.update(
    static_url=static_url, csrf_field=csrf_field, version=__version__, live_event_types=",".join(nav.LIVE_EVENT_TYPES)
)
templates.env.filters.update(when=when, label=label)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    refusal: Refusal | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A page; with a refusal, the form's page again: its problem shown, answered with the refusal's status."""
    actor: Actor | None = getattr(request.state, "actor", None)
    page = {
        "actor": actor,
        "nav": nav.entries_for(actor) if actor is not None else [],
        "path": request.url.path,
        "csrf_token": csrf_token(request),
        **({"problem": refusal.problem} if refusal else {}),
        **(context or {}),
    }
    status = refusal.status_code if refusal else status_code
    return templates.TemplateResponse(request, name, page, status_code=status)
