"""A mistyped command line is answered in Chinese, through the CLI's one error boundary."""

from __future__ import annotations

import re

import pytest

from cli.main import run
from cli.usage_errors import usage_message

ENGLISH = re.compile(
    r"\b(Missing|Invalid|No such|unexpected|requires|Did you mean|Possible|Input)\b"
)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["documents", "show", "abc"], "document_id 的值无效：应为整数"),
        (["documents", "shw", "1"], "没有命令 shw；是否想用 show"),
        (["documents", "list", "--bogus"], "没有选项 --bogus"),
        (["documents", "list", "--limt", "3"], "没有选项 --limt；是否想用 --limit"),
        (["documents", "list", "--limit"], "选项 --limit 需要一个值"),
        (["customers", "list", "--limit", "-5"], "--limit 的值无效：应不小于 1"),
        (["review", "approve", "1"], "缺少选项 '--user' / '-u'（或设置环境变量 DOSSIER_USER）"),
        (["version", "extra"], "多余的参数：extra"),
    ],
)
def test_usage_errors_are_chinese(
    argv: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOSSIER_USER", raising=False)
    assert run(argv) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("用法错误："), line
    assert expected in line
    assert not ENGLISH.search(line), line


def test_unknown_wording_is_kept_after_a_chinese_lead() -> None:
    assert usage_message("Something new went wrong.") == "命令行有误（Something new went wrong.）"
    assert usage_message("客户编号：格式不对") == "客户编号：格式不对"
    assert usage_message("Invalid value for '--format': 'pdf' is not one of 'xlsx', 'csv'.") == (
        "--format 的值无效：应为以下之一：xlsx、csv"
    )
    assert usage_message("Invalid value for 'FILE': File 'a.xlsx' does not exist.") == (
        "FILE 的值无效：a.xlsx 不存在"
    )
