"""The package boundaries hold: no two packages import each other, no domain reads another's tables.

Computed from the source itself (every import statement, including those inside functions
and under ``TYPE_CHECKING``), so a new package is checked the moment it lands.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "src" / "seqtrack"
# Not domains: the shared foundation every package stands on, and the schema history that names every table.
NOT_DOMAINS = {"platform", "migrations"}


@dataclass(frozen=True)
class Import:
    source_file: str
    source_package: str
    module: str  # fully qualified, e.g. seqtrack.events.models


def _package_of(root: Path, path: Path) -> str:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _module_parts(root: Path, path: Path) -> list[str]:
    parts = ["seqtrack", *path.relative_to(root).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported_modules(root: Path, path: Path, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        here = _module_parts(root, path)
        # A package's __init__ is the package itself; a module's level 1 is its package.
        keep = len(here) - node.level + (1 if path.name == "__init__.py" else 0)
        base = ".".join(here[:keep] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    # ``from seqtrack.events import models`` imports the module seqtrack.events.models.
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imports_in_source(root: Path = PACKAGE_ROOT) -> list[Import]:
    found: list[Import] = []
    for path in sorted(root.rglob("*.py")):
        package = _package_of(root, path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            for module in _imported_modules(root, path, node):
                if module.startswith("seqtrack."):
                    found.append(Import(str(path.relative_to(root)), package, module))
    return found


def two_way_pairs(imports: list[Import]) -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for found in imports:
        target = found.module.split(".")[1]
        if target != found.source_package:
            edges[(found.source_package, target)].append(f"{found.source_file} imports {found.module}")
    return {(a, b): sorted(set(edges[(a, b)] + edges[(b, a)])) for (a, b) in edges if a < b and (b, a) in edges}


def foreign_model_imports(imports: list[Import]) -> list[str]:
    offending = set()
    for found in imports:
        parts = found.module.split(".")
        if found.source_package in NOT_DOMAINS or len(parts) < 3 or parts[2] != "models":
            continue
        owner = parts[1]
        if owner not in NOT_DOMAINS and owner != found.source_package:
            offending.add(f"{found.source_file} imports {'.'.join(parts[:3])}")
    return sorted(offending)


def test_no_two_packages_import_each_other() -> None:
    pairs = two_way_pairs(imports_in_source())
    assert not pairs, "two-way package dependencies:\n" + "\n".join(
        f"{a} <-> {b}:\n  " + "\n  ".join(lines) for (a, b), lines in sorted(pairs.items())
    )


def test_no_domain_imports_another_domains_models() -> None:
    offending = foreign_model_imports(imports_in_source())
    assert not offending, "domains reading another domain's tables:\n" + "\n".join(offending)


@pytest.mark.parametrize(
    ("files", "expected_pairs"),
    [
        ({"alpha/a.py": "from seqtrack.beta import service", "beta/b.py": "import seqtrack.alpha.x"}, 1),
        ({"alpha/a.py": "from ..beta import service", "beta/b.py": "def f():\n    from seqtrack import alpha"}, 1),
        ({"alpha/a.py": "from seqtrack.beta import service", "beta/b.py": "from seqtrack.platform import x"}, 0),
    ],
)
def test_the_checker_sees_relative_and_function_level_imports(
    tmp_path: Path, files: dict[str, str], expected_pairs: int
) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text)
    assert len(two_way_pairs(imports_in_source(tmp_path))) == expected_pairs


def test_the_checker_sees_a_foreign_models_import(tmp_path: Path) -> None:
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha" / "service.py").write_text(
        "from seqtrack.beta import models\nfrom seqtrack.platform.models import Base\nfrom .models import Sample"
    )
    assert foreign_model_imports(imports_in_source(tmp_path)) == ["alpha/service.py imports seqtrack.beta.models"]
