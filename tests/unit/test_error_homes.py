"""Every error class lives in its package's errors.py and derives from DossierError with a code.

Packages are added to ``CHECKED`` as their error classes move home (issue 10, item 6).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from config.errors import DossierError, ErrorCode

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("config", "models", "archive")


def _error_classes_outside_errors_modules(package: str) -> list[str]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Exception")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    return found


@pytest.mark.parametrize("package", CHECKED)
def test_error_classes_live_in_errors_modules(package: str) -> None:
    assert _error_classes_outside_errors_modules(package) == []


@pytest.mark.parametrize("package", CHECKED)
def test_errors_derive_from_dossier_error_with_a_code(package: str) -> None:
    module = importlib.import_module(f"{package}.errors")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
    assert classes
    for cls in classes:
        assert issubclass(cls, DossierError), cls
        assert isinstance(cls.code, ErrorCode), cls
