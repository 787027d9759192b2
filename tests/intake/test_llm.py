"""The optional LLM extractor against a local server speaking Ollama's /api/generate: merged when surer,
skipped when slow, down or wrong, and not asked at all while its circuit is open."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from seqtrack.app import create_app
from seqtrack.intake import llm, pdf, service
from seqtrack.intake.service import Source
from seqtrack.integrations.breaker import BreakerState
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings
from tests.fixtures.http import asgi_client
from tests.fixtures.samples import act_as
from tests.intake.support import shared_file, upload

Reply = Callable[[dict[str, Any]], tuple[int, Any, float]]


class FakeOllama:
    """A loopback server answering /api/generate as the test tells it to; it counts the calls."""

    def __init__(self) -> None:
        self.reply: Reply = lambda _body: (500, {"error": "no reply set"}, 0.0)
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                status, answer, delay = owner.reply(body)
                time.sleep(delay)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, fields: dict[str, Any], delay: float = 0.0) -> None:
        generated = json.dumps({"fields": fields})
        self.reply = lambda _body: (200, {"model": "test", "response": generated, "done": True}, delay)


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    server = FakeOllama()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    llm._BREAKERS.clear()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        llm._BREAKERS.clear()


def _settings(tmp_path: Path, url: str, **overrides: Any) -> Settings:
    return make_settings(tmp_path, **{"llm_url": url, "llm_timeout_seconds": 0.5, "llm_retries": 1, **overrides})


def _form_source() -> Source:
    return service.open_source(shared_file("nanopore_submission_form.pdf"), "pdf")


async def test_a_surer_llm_reading_replaces_the_rules_field_by_field(tmp_path: Path, ollama: FakeOllama) -> None:
    source = _form_source()
    # The rules read the reference genome from its label; make them unsure to see the merge choose.
    source.details["reference_genome"]["confidence"] = 0.4
    ollama.answer(
        {
            "reference_genome": {
                "value": "none",
                "confidence": 0.85,
                "evidence": "Reference genome: none (de novo assembly)",
            },
            "library_kit": {"value": "ligation kit 14", "confidence": 0.99, "evidence": "Library prep kit"},
            "organism": {"value": "Rhizobium sp.", "confidence": 0.5, "evidence": "Organism: Rhizobium leguminosarum"},
        }
    )
    improved = await llm.improve(_settings(tmp_path, ollama.url), source)
    assert improved.extractor == "rules+llm"
    assert improved.details["reference_genome"]["value"] == "none"
    assert improved.details["reference_genome"]["source"] == "llm"
    # The rules read the product code itself; a description from the model is not surer.
    assert improved.details["library_kit"]["value"] == "SQK-LSK114"
    assert improved.details["library_kit"]["source"] == "rules"
    assert improved.details["organism"]["value"] == "Rhizobium leguminosarum"
    [request] = ollama.requests
    assert request["format"]["required"] == ["fields"]
    assert request["stream"] is False


async def test_an_answer_that_breaks_the_schema_is_retried_then_the_rules_stand(
    tmp_path: Path, ollama: FakeOllama
) -> None:
    ollama.reply = lambda _body: (200, {"response": json.dumps({"fields": {"lab": {"value": "x"}}})}, 0.0)
    source = _form_source()
    improved = await llm.improve(_settings(tmp_path, ollama.url), source)
    assert improved is source
    assert len(ollama.requests) == 2


async def test_a_slow_llm_times_out_and_after_three_failures_is_not_asked_again(
    tmp_path: Path, ollama: FakeOllama
) -> None:
    ollama.answer({"lab": {"value": "x", "confidence": 1, "evidence": "x"}}, delay=2.0)
    settings = _settings(tmp_path, ollama.url, llm_retries=0, llm_breaker_threshold=3)
    started = time.monotonic()
    for _ in range(3):
        source = _form_source()
        assert (await llm.improve(settings, source)) is source
    assert time.monotonic() - started < 5
    assert llm.breaker_state(settings) is BreakerState.OPEN
    asked = len(ollama.requests)
    assert asked == 3
    await llm.improve(settings, _form_source())
    assert len(ollama.requests) == asked


async def test_an_upload_through_the_api_asks_the_llm_and_keeps_the_surer_rule_reading(
    tmp_path: Path, database_url: str, ollama: FakeOllama
) -> None:
    ollama.answer(
        {"data_delivery": {"value": "Globus", "confidence": 0.99, "evidence": "Data delivery: Globus transfer"}}
    )
    app = create_app(make_settings(tmp_path / "api", database_url, llm_url=ollama.url, llm_timeout_seconds=2))
    act_as(app, staff_actor())
    async with asgi_client(app) as client:
        response = await upload(client, shared_file("nanopore_submission_form.pdf").read_bytes(), "form.pdf")
    assert response.status_code == 201, response.text
    preview = response.json()
    assert len(ollama.requests) == 1
    assert "Billing (chart) code: NANO-042" in ollama.requests[0]["prompt"]
    # The label rule (0.95) is surer than any model answer (at most 0.9): the rules' reading stands.
    assert preview["extractor"] == "rules"
    assert preview["details"]["data_delivery"]["value"] == "Globus transfer"
    assert preview["state"] == "validated"


def test_the_rules_alone_read_the_form_when_no_llm_is_set() -> None:
    form = pdf.read_form(pdf.extract_text(shared_file("nanopore_submission_form.pdf")))
    assert form.details["data_delivery"]["value"] == "Globus transfer"
    assert form.details["data_delivery"]["source"] == "rules"
