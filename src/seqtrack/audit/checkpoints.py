"""Chain heads written down outside the database, signed so that a forged one is refused.

An attacker who can write to the database can delete the newest entries and, if
they kept an older copy of the head row, put it back. A checkpoint kept
elsewhere (a file shipped to another host, a log line) still names the longer
chain, and ``seqtrack audit verify --checkpoint`` shows the cut.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path

from seqtrack.audit.service import Checkpoint
from seqtrack.platform.models import utcnow


class CheckpointRefused(ValueError):
    pass


def _signature(key: bytes, heads: list[dict[str, object]], written_at: str) -> str:
    body = json.dumps({"heads": heads, "written_at": written_at}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, b"checkpoint|" + body.encode(), hashlib.sha256).hexdigest()


def signed_checkpoint(heads: list[Checkpoint], key: bytes) -> str:
    listed: list[dict[str, object]] = [
        {"tenant_id": str(head.tenant_id), "sequence": head.sequence, "entry_hash": head.entry_hash} for head in heads
    ]
    written_at = utcnow().isoformat()
    document = {"heads": listed, "written_at": written_at, "signature": _signature(key, listed, written_at)}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def read_checkpoint(path: Path, key: bytes) -> list[Checkpoint]:
    try:
        document = json.loads(path.read_text())
        heads = document["heads"]
        written_at = document["written_at"]
        signature = document["signature"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointRefused(f"{path} is not a checkpoint: {exc}") from None
    if not isinstance(signature, str) or not hmac.compare_digest(signature, _signature(key, heads, written_at)):
        raise CheckpointRefused(f"{path} is not signed with this installation's audit key")
    return [Checkpoint(uuid.UUID(head["tenant_id"]), int(head["sequence"]), str(head["entry_hash"])) for head in heads]
