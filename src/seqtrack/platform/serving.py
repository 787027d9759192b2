"""The HTTP server of ``seqtrack serve``: one process or several, each closing its live feeds when told to stop.

Imported only by ``serve`` (uvicorn is heavy for the other commands), and by each
worker process of ``--workers N``, which uvicorn starts afresh (spawn) from these classes.
"""

from __future__ import annotations

from types import FrameType

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from seqtrack.platform import shutdown


class StreamClosingServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Live-feed streams never end on their own: they are told to close with a final event,
        # so the graceful shutdown has nothing to wait out or cancel.
        shutdown.request()
        super().handle_exit(sig, frame)


class StreamClosingWorker(Process):
    """One worker process; uvicorn's own would run a plain server, whose streams are cut after the grace period."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = StreamClosingServer(config=self.config)
        return self._server


class StreamClosingWorkers(Multiprocess):
    """uvicorn's supervisor, starting workers that close their live feeds on the stop signal it passes on."""

    def init_processes(self) -> None:
        # A worker replaced later (crashed, or on SIGHUP) is uvicorn's plain one: its streams
        # still end, cut after the grace period, without the final event.
        for _ in range(self.processes_num):
            process = StreamClosingWorker(self.config, self.sockets)
            process.start()
            self.processes.append(process)


def serve(config: uvicorn.Config) -> None:
    if config.workers > 1:
        StreamClosingWorkers(config, sockets=[config.bind_socket()]).run()
    else:
        StreamClosingServer(config).run()
