"""Requests continue the caller's trace, named by route template."""

from __future__ import annotations

import httpx

from tests.fixtures.tracing import capture_spans


async def test_a_request_span_joins_the_callers_trace(client: httpx.AsyncClient) -> None:
    exporter = capture_spans()

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    await client.get("/health", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})

    spans = [span for span in exporter.get_finished_spans() if span.name == "GET /health"]
    assert spans, [span.name for span in exporter.get_finished_spans()]
    assert format(spans[-1].context.trace_id, "032x") == trace_id
    assert spans[-1].attributes is not None
    assert spans[-1].attributes["http.response.status_code"] == 200
