"""Imports point one way: cli, web, flows -> app -> ingest, archive -> models -> config.

Only ``flows`` imports Prefect; only ``cli`` imports ``web`` and ``flows`` (to start them).
See docs/architecture.md.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "config": {"models", "ingest", "archive", "app", "cli", "flows", "web", "prefect"},
    "models": {"ingest", "archive", "app", "cli", "flows", "web", "prefect"},
    "ingest": {"archive", "app", "cli", "flows", "web", "prefect"},
    "archive": {"ingest", "app", "cli", "flows", "web", "prefect"},
    "app": {"cli", "flows", "web", "prefect"},
    "web": {"cli", "flows", "prefect"},
    "flows": {"cli", "web"},
    "cli": {"prefect"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
