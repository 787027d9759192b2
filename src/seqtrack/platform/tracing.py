"""OpenTelemetry: off by default, console or OTLP export when configured."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from seqtrack import __version__
from seqtrack.settings import Settings

_configured = False


def configure_tracing(settings: Settings, role: str) -> None:
    global _configured
    if settings.tracing_exporter == "none" or _configured:
        return
    exporter: SpanExporter
    if settings.tracing_exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint) if settings.otlp_endpoint else OTLPSpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "seqtrack", "service.version": __version__, "seqtrack.role": role})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True


tracer = trace.get_tracer("seqtrack")
