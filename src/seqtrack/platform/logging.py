"""structlog set-up: JSON lines in production, readable console output in development.

Standard-library loggers (uvicorn, SQLAlchemy, huey) go through the same
processors, so every line carries the request id bound for the current task.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog


def _drop_color_message(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    # uvicorn attaches an ANSI-coloured copy of each message; it is noise in both renderers.
    event.pop("color_message", None)
    return event


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
    _drop_color_message,
]


def configure_logging(*, json_logs: bool, level: str = "INFO", stream: TextIO | None = None) -> None:
    renderer: Any
    if json_logs:
        renderer = structlog.processors.JSONRenderer()
        final = [structlog.processors.dict_tracebacks]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        final = []

    structlog.configure(
        processors=[
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *final,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # uvicorn's own access log would repeat ours without the request id.
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
