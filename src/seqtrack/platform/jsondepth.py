"""How deep JSON nests, judged from its text before any recursive parser or serialiser sees it."""

from __future__ import annotations

import json
import re
from typing import Any

# No SeqTrack body needs more than a handful of levels; deep nesting only costs
# recursion in every later reader (validation, hashing, serialising the audit trail).
MAX_BODY_DEPTH = 32
# What a stored value may nest and still be read back and serialised (pydantic stops near 255).
MAX_STORED_DEPTH = 200

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects in ``text`` nest deeper than ``limit``, brackets inside strings aside."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def tolerant_loads(text: str | bytes) -> Any:
    """Parse a stored JSON value; one nested beyond what can be shown is replaced by a note saying so.

    Rows written before request bodies had a depth limit may hold such values, and
    the trail is append-only: reading it must not fail for ever because of one.
    """
    if isinstance(text, bytes):
        text = text.decode()
    if nesting_exceeds(text, MAX_STORED_DEPTH):
        return {"_unshown": f"too deeply nested to show ({len(text)} characters of JSON)"}
    return json.loads(text)
