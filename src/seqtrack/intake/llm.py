"""The optional LLM extractor for PDF forms, behind an Ollama-compatible ``/api/generate``.

It only ever adds to the rules: its answer must parse and pass a JSON schema,
every value is normalised like the rules' own, evidence it quotes must be in
the document, and a field is taken from it only when it is surer than the
rules. Slow, down or wrong, it is skipped (retries, then a circuit breaker)
and the rules' reading stands. No model is downloaded by SeqTrack: the server
at ``SEQTRACK_LLM_URL`` has its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seqtrack.intake import mapping
from seqtrack.integrations.breaker import Breaker, BreakerState
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings

if TYPE_CHECKING:
    from seqtrack.intake.service import Source

log = structlog.get_logger("seqtrack.intake.llm")

WANTED_FIELDS = tuple(dict.fromkeys((*mapping.SUBMISSION_FIELDS, *mapping.REQUEST_FIELDS)))
# A model's own confidence is not calibrated: it never outranks a rule that matched a label exactly.
MOST_TRUSTED = 0.9
MAX_PROMPT_CHARS = 20_000


class FieldAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | float | int | None
    confidence: float = Field(ge=0, le=1)
    evidence: str = Field(max_length=500)


class Extraction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, FieldAnswer] = Field(default_factory=dict)


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "fields": {
            "type": "object",
            "properties": {
                name: {
                    "type": "object",
                    "properties": {
                        "value": {"type": ["string", "number", "null"]},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                        "evidence": {"type": "string"},
                    },
                    "required": ["value", "confidence", "evidence"],
                }
                for name in WANTED_FIELDS
            },
            "additionalProperties": False,
        }
    },
    "required": ["fields"],
}


@dataclass
class _BreakerState:
    failures: int = 0
    opened_at: datetime | None = None


# One breaker per LLM server for this process: a dead server is not asked again until the cooldown passes.
_BREAKERS: dict[str, _BreakerState] = {}


class ExtractorFailed(Exception):
    pass


def breaker_state(settings: Settings) -> BreakerState:
    state = _BREAKERS.get(settings.llm_url or "", _BreakerState())
    return Breaker(settings.llm_breaker_threshold, settings.llm_breaker_cooldown_seconds).state(
        state.failures, state.opened_at, utcnow()
    )


def _record(settings: Settings, ok: bool) -> None:
    state = _BREAKERS.setdefault(settings.llm_url or "", _BreakerState())
    if ok:
        state.failures, state.opened_at = 0, None
        return
    state.failures += 1
    if state.failures >= settings.llm_breaker_threshold:
        state.opened_at = utcnow()


def _prompt(text: str) -> str:
    return (
        "You read a filled-in sequencing submission form. Return JSON only, matching the given schema. "
        "For each field you find, give the value as written, your confidence from 0 to 1, and as evidence the "
        f"exact line of the form it comes from. Fields: {', '.join(WANTED_FIELDS)}.\n\nFORM:\n"
        + text[:MAX_PROMPT_CHARS]
    )


async def _ask(settings: Settings, text: str) -> Extraction:
    assert settings.llm_url is not None
    url = settings.llm_url.rstrip("/") + "/api/generate"
    payload = {
        "model": settings.llm_model,
        "prompt": _prompt(text),
        "format": SCHEMA,
        "stream": False,
        "options": {"temperature": 0},
    }
    last: Exception | None = None
    async with httpx.AsyncClient(timeout=settings.llm_timeout_seconds) as client:
        for attempt in range(settings.llm_retries + 1):
            try:
                response = await client.post(url, json=payload)
                response.raise_for_status()
                answer = response.json()
                raw = answer.get("response") if isinstance(answer, dict) else None
                if not isinstance(raw, str):
                    raise ExtractorFailed("the reply has no 'response' text")
                return Extraction.model_validate(json.loads(raw))
            except (httpx.HTTPError, ValueError, ValidationError, ExtractorFailed) as exc:
                last = exc
                log.info("llm extractor attempt failed", attempt=attempt + 1, error=type(exc).__name__)
                if attempt < settings.llm_retries:
                    await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
    raise ExtractorFailed(f"no usable answer after {settings.llm_retries + 1} attempts: {last!r}")


def merge(
    rules: dict[str, dict[str, Any]], extraction: Extraction, text: str
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Field by field, the surer reading wins; the model's must normalise and quote the document."""
    merged = dict(rules)
    taken: list[str] = []
    for name, answer in extraction.fields.items():
        if name not in WANTED_FIELDS or answer.value in (None, ""):
            continue
        value: Any = answer.value
        confidence = min(answer.confidence, MOST_TRUSTED)
        if answer.evidence.strip() not in text:
            # A quote that is not in the form is invented: keep the value only as a weak hint.
            confidence *= 0.5
        if name in mapping.CONTROLLED_FIELDS:
            reading = mapping.normalise_controlled(name, str(value))
            if reading is None:
                continue
            value, confidence = reading.value, min(confidence, reading.confidence)
        elif name in mapping.NUMBER_FIELDS:
            number = mapping.parse_number(str(value))
            if number is None:
                continue
            value = int(number) if mapping.NUMBER_FIELDS[name] is int and number.is_integer() else number
        current = rules.get(name)
        if current is not None and float(current.get("confidence", 0)) >= confidence:
            continue
        merged[name] = {
            "value": value,
            "written": str(answer.value),
            "confidence": round(confidence, 2),
            "evidence": answer.evidence,
            "label": current.get("label", name) if current else name,
            "source": "llm",
        }
        taken.append(name)
    return merged, taken


async def improve(settings: Settings, source: Source) -> Source:
    """The source with the LLM's surer readings merged in; unchanged whenever the LLM cannot help."""
    if not settings.llm_url or not source.text:
        return source
    if breaker_state(settings) is BreakerState.OPEN:
        log.info("llm extractor skipped: circuit open")
        return source
    try:
        extraction = await _ask(settings, source.text)
    except ExtractorFailed as exc:
        _record(settings, ok=False)
        log.warning("llm extractor unavailable; the rules' reading stands", error=str(exc)[:300])
        return source
    _record(settings, ok=True)
    details, taken = merge(source.details, extraction, source.text)
    return dataclasses.replace(source, details=details, extractor="rules+llm" if taken else "rules")
