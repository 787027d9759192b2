from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    task: str
    args: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    run_after: datetime
    # The error's type and message; the traceback (server paths, code) is for operators,
    # in the logs and `seqtrack jobs dead`, never for a facility's users.
    last_error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None = None
