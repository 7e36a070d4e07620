"""``dossier relink-pending`` and the ``relink-pending`` flow on a real home (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.context import app_context
from archive.filing import file_document
from cli.main import app
from flows.relink import relink_pending_flow
from tests.fixtures.db import make_uscc
from tests.integration.test_filing import Files, fv

runner = CliRunner()


@pytest.fixture
def home(tmp_home: Path) -> Path:
    assert runner.invoke(app, ["init"]).exit_code == 0
    return tmp_home


def _file_unlinked_permit(tmp_path: Path) -> int:
    """A bank permit whose company is not known yet (its name is unreadable)."""
    files = Files(tmp_path)
    ctx = app_context()
    part = files.part("bank_permit", {"depositor_name": fv("OSs"), "uscc": fv(make_uscc(501))})
    with ctx.session() as session:
        [filed] = file_document(
            session=session, store=ctx.store, taxonomy=ctx.taxonomy, request=files.request(part)
        )
    assert filed.customer_code is None
    return filed.document_id


def _relink_json() -> dict:
    result = runner.invoke(app, ["relink-pending", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_relink_pending_links_once_the_customer_is_added(home: Path, tmp_path: Path) -> None:
    document_id = _file_unlinked_permit(tmp_path)
    assert _relink_json()["linked"] == []
    added = runner.invoke(
        app,
        [
            "customers",
            "add",
            "--name",
            "杭州命令行科技有限公司",
            "--uscc",
            make_uscc(501),
            "--legal-rep",
            "张三",
            "--established",
            "2015-03-12",
            "--address",
            "杭州市1号",
            "--json",
        ],
    )
    assert added.exit_code == 0, added.output
    code = json.loads(added.stdout)["code"]
    report = _relink_json()
    assert [(c["document_id"], c["customer_code"]) for c in report["linked"]] == [
        (document_id, code)
    ]
    text = runner.invoke(app, ["relink-pending"])
    assert text.exit_code == 0 and "新关联 0 份" in text.stdout


def test_the_flow_runs_the_same_pass(home: Path, tmp_path: Path) -> None:
    _file_unlinked_permit(tmp_path)
    assert relink_pending_flow.fn()["examined"] == 1
