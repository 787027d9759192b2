"""JSON written once, in the canonical form hashes are taken over, and stored as that same text.

An import of a hundred thousand samples would otherwise encode each new sample's
~2 KB of values four times: for its event's digest, its audit entry's hash, and
the two JSON columns that keep them. Encoded once as :class:`JsonText`, the text
is hashed inside the larger documents that contain it and sent to the database
as it is; read back and encoded again it is the same text, so a later
verification recomputes the same digests.
"""

from __future__ import annotations

import json
from typing import Any


class JsonText(str):
    """A JSON document already encoded canonically (sorted keys, no spaces, UTF-8 as is)."""

    __slots__ = ()


# One encoder for every call: ``json.dumps`` with options builds a new one each time.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical(value: Any) -> str:
    """``value`` in canonical form; a :class:`JsonText` among a dictionary's values is taken as it is.

    Only a dictionary's direct values are looked at for :class:`JsonText`, so
    a document built of encoded parts nests them one level per dictionary.
    """
    if type(value) is JsonText:
        return value
    if type(value) is not dict or JsonText not in map(type, value.values()):
        return _encode(value)
    # The dictionary is encoded whole (keys sorted by the encoder), each part standing in as a marker
    # that no stored text can contain (NUL is refused everywhere), then each marker becomes its part.
    plain: dict[Any, Any] = {}
    parts: list[tuple[str, str]] = []
    for key, item in value.items():
        if type(item) is JsonText:
            marker = f"\x00{len(parts)}\x00"
            parts.append((_encode(marker), item))
            item = marker
        plain[key] = item
    text = _encode(plain)
    for marker, part in parts:
        text = text.replace(marker, part, 1)
    return text


def json_text(value: Any) -> JsonText:
    """``value`` encoded once, to be hashed and stored as this text."""
    return JsonText(canonical(value))
