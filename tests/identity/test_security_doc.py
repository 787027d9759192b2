"""docs/security.md states the role table exactly as the code enforces it."""

from __future__ import annotations

import re
from pathlib import Path

from seqtrack.platform.permissions import ROLE_PERMISSIONS, Permission, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def _doc_table() -> dict[str, set[str]]:
    text = DOC.read_text()
    section = text.split("<!-- role-permissions:start -->")[1].split("<!-- role-permissions:end -->")[0]
    rows = [line.strip().strip("|").split("|") for line in section.strip().splitlines()]
    header = [cell.strip() for cell in rows[0]]
    assert header[0] == "permission"
    roles = header[1:]
    granted: dict[str, set[str]] = {role: set() for role in roles}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row]
        permission = re.sub(r"`", "", cells[0])
        for role, mark in zip(roles, cells[1:], strict=True):
            if mark:
                assert mark == "✓", f"unexpected mark {mark!r} for {permission}/{role}"
                granted[role].add(permission)
    granted["__all__"] = {re.sub(r"`", "", row[0].strip()) for row in rows[2:]}
    return granted


def test_the_security_doc_lists_roles_and_permissions_exactly_as_the_code_enforces() -> None:
    doc = _doc_table()
    assert doc.pop("__all__") == {permission.value for permission in Permission}
    assert doc == {role.value: {p.value for p in ROLE_PERMISSIONS[role]} for role in Role}
