"""Every audit action the code writes has a Chinese name on the audit page (issue 16 item 2)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from web.audit_view import ENTITY_LABELS, action_label

REPO = Path(__file__).resolve().parents[2]
NOT_ACTIONS = {"id", "html"}  # column references and template names, not actions
ACTION = re.compile(r"^(?P<entity>[a-z_]+)\.(?P<verb>[a-z_]+)$")


def written_actions() -> set[str]:
    """String literals shaped like ``entity.verb`` whose entity is an audited one."""
    found: set[str] = set()
    for package in ("archive", "models", "app", "web", "ingest", "cli", "flows"):
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    m = ACTION.match(node.value)
                    if m and m["entity"] in ENTITY_LABELS and m["verb"] not in NOT_ACTIONS:
                        found.add(node.value)
    return found


def test_every_written_action_has_a_chinese_label() -> None:
    actions = written_actions()
    assert len(actions) > 30, actions  # the scan found the code's actions
    missing = sorted(a for a in actions if action_label(a) is None)
    assert missing == []


def test_an_unknown_action_has_no_label() -> None:
    assert action_label("document.frobnicate") is None
