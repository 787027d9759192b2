from __future__ import annotations

from seqtrack.platform.errors import Conflict, NotFound


class JobNotFound(NotFound, code="job.not_found"): ...


class JobNotRetryable(Conflict, code="job.not_retryable"): ...
