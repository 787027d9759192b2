"""structlog set-up: JSON lines in production, readable console output in development.

Standard-library loggers (uvicorn, SQLAlchemy, huey) go through the same
processors, so every line carries the request id bound for the current task.

A line is rendered where it is logged (so it carries that task's context) but
written by a thread of its own: a slow terminal or a full pipe never holds up
the event loop. Tracebacks carry no local variables and are cut to a bounded
size, so one crashing request cannot stall the server while its report is written.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, TextIO

import structlog

# Enough for the frames that matter (the first and the last); a recursion 1,000 frames
# deep must not turn into megabytes of identical lines.
MAX_TRACEBACK_CHARS = 16_000
MAX_TRACEBACK_FRAMES = 40
_HEAD_CHARS = 4_000

_listener: logging.handlers.QueueListener | None = None
_queue: queue.Queue[logging.LogRecord] | None = None


def bounded(text: str, limit: int = MAX_TRACEBACK_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return f"{text[:_HEAD_CHARS]}\n... [{cut} characters of traceback cut] ...\n{text[-(limit - _HEAD_CHARS) :]}"


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def format_exception(exc_info: ExcInfo) -> str:
    """The traceback without local variables, at most ``MAX_TRACEBACK_FRAMES`` frames per exception."""
    kind, value, tb = exc_info
    frames = traceback.TracebackException(kind, value, tb, limit=-MAX_TRACEBACK_FRAMES, capture_locals=False)
    return bounded("".join(frames.format()))


def _plain_exception(sio: TextIO, exc_info: ExcInfo) -> None:
    sio.write("\n" + format_exception(exc_info))


def _render_exception(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        event["exception"] = format_exception(exc_info)
    return event


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
        final = [_render_exception]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=_plain_exception)
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
    root = logging.getLogger()
    root.handlers = [_queued(formatter, stream or sys.stderr)]
    root.setLevel(level)
    # uvicorn's own access log would repeat ours without the request id.
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class _RenderHere(logging.handlers.QueueHandler):
    """Renders in the logging task (its context variables), hands the text to the writer thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        message = self.format(record)
        prepared = logging.makeLogRecord({"msg": message, "levelno": record.levelno, "levelname": record.levelname})
        prepared.name = record.name
        return prepared


def _queued(formatter: logging.Formatter, stream: TextIO) -> logging.Handler:
    global _listener, _queue
    stop_writer()
    writer = logging.StreamHandler(stream)
    writer.setFormatter(logging.Formatter("%(message)s"))
    _queue = queue.Queue()
    _listener = logging.handlers.QueueListener(_queue, writer)
    _listener.start()
    handler = _RenderHere(_queue)
    handler.setFormatter(formatter)
    return handler


def flush() -> None:
    """Wait until every line logged so far is written (for readers of the stream, and at exit)."""
    if _queue is not None:
        _queue.join()


def stop_writer() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(stop_writer)
