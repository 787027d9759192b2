"""No user, password or secret is written into the shipped code, configuration or docs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["src", "docs", "deploy", "bench", ".ci", "Makefile", "README.md", "pyproject.toml"]
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".ini", ".cfg", ".env", ".json", ".sh", ".txt", ""}

# A credential-named variable, keyword or key given a literal value.
ASSIGNED = re.compile(
    r"""(?ix)\b(password|passwd|pwd|secret|secret_key|api_key|apikey|access_token|refresh_token)\b
        ["']?\s*[:=]\s*["']([^"'\s{}<>]+)["']"""
)
# Credentials inside a URL: scheme://user:password@host.
URL_PASSWORD = re.compile(r"[a-z+]+://[^/\s:@]+:([^@\s/]+)@", re.IGNORECASE)
# Unquoted settings in configuration files: POSTGRES_PASSWORD: value, SECRET_KEY=value.
CONFIG_VALUE = re.compile(r"""(?i)\b\w*(?:password|passwd|secret)\w*\s*[:=]\s*([^\s"'#]+)""")
ENV_REFERENCE = re.compile(r"\$\{[^}]*\}")
CONFIG_SUFFIXES = {".yaml", ".yml", ".env", ".ini", ".cfg", ".toml", ".conf"}
COMMON_DEFAULTS = re.compile(
    r"""(?ix)["'](admin123|password1?23?|changeme|letmein|p@ssw0rd|hunter2|qwerty|admin:admin|root:root|s3cr3t)["']"""
)
# Documentation placeholders that stand for "your value here".
PLACEHOLDERS = {"pass", "password", "secret", "***", "..."}
# The deny-list of weak secrets in settings.py names defaults in order to refuse them.
ALLOWED_FILES = {Path("src/seqtrack/settings.py")}


def _files() -> list[Path]:
    found: list[Path] = []
    for name in SHIPPED:
        path = ROOT / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
    return [path for path in found if "__pycache__" not in path.parts and ".egg-info" not in str(path)]


def _is_literal(value: str) -> bool:
    # ${VAR} and file paths name where the secret comes from, not the secret itself.
    return value.lower() not in PLACEHOLDERS and not value.startswith(("${", "/", "./", "[", "{", "ENV"))


def test_no_password_or_secret_is_hard_coded_in_shipped_files() -> None:
    findings = []
    for path in _files():
        relative = path.relative_to(ROOT)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for pattern in (ASSIGNED, URL_PASSWORD):
                for match in pattern.finditer(line):
                    if _is_literal(match.group(match.lastindex or 0)):
                        findings.append(f"{relative}:{number}: {match.group(0)}")
            configured = path.suffix in CONFIG_SUFFIXES or path.name.startswith(("Dockerfile", ".env"))
            if configured and not line.lstrip().startswith("#"):
                for match in CONFIG_VALUE.finditer(ENV_REFERENCE.sub("ENV", line)):
                    if _is_literal(match.group(1)):
                        findings.append(f"{relative}:{number}: {match.group(0)}")
            if relative not in ALLOWED_FILES and COMMON_DEFAULTS.search(line):
                findings.append(f"{relative}:{number}: {line.strip()}")
    assert not findings, "hard-coded credentials:\n" + "\n".join(findings)


def test_the_scan_would_catch_a_hard_coded_password() -> None:
    assert ASSIGNED.search('password = "Tr0ub4dor"')
    assert ASSIGNED.search('"secret_key": "abcdef"')
    assert URL_PASSWORD.search("postgresql://seqtrack:hunter2@db/seqtrack")
    assert COMMON_DEFAULTS.search('create_user("admin", "changeme")')
    assert not URL_PASSWORD.search("postgresql://user@host/db")
    assert CONFIG_VALUE.search("      POSTGRES_PASSWORD: seqtrack")
    assert not _is_literal("${POSTGRES_PASSWORD:?set it}")
