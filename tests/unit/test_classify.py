"""Unit tests for ingest.classify on hand-written OCR text samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigurationError
from ingest.classify import (
    Classification,
    PageGroup,
    classify,
    classify_pages,
    group_pages,
    load_classification_rules,
)
from tests.unit.test_extract import (
    BANK_PERMIT,
    CONTRACT,
    CUSTOMER_FORM,
    ID_BACK,
    ID_BACK_LONG,
    ID_FRONT,
    LICENSE_CLEAN,
    LICENSE_NOISY,
    OTHER,
)

CONTRACT_PAGE_2 = """6. 双 方 对 在 履 行 过 程 中 知 悉 的 对 方 商 业 秘 密 负 有 保 密 义 务 。
7. 因 履 行 引 起 的 争 议 ， 双 方 应 协 商 解 决 。
"""


@pytest.mark.parametrize(
    ("text", "doc_type", "side"),
    [
        (LICENSE_CLEAN, "business_license", None),
        (LICENSE_NOISY, "business_license", None),
        (ID_FRONT, "id_card", "front"),
        (ID_BACK, "id_card", "back"),
        (ID_BACK_LONG, "id_card", "back"),
        (ID_FRONT + "仅供开户使用\n" + ID_BACK, "id_card", None),
        (BANK_PERMIT, "bank_permit", None),
        (CUSTOMER_FORM, "customer_form", None),
        (CONTRACT, "contract", None),
    ],
)
def test_classify_every_type(text: str, doc_type: str, side: str | None) -> None:
    c = classify(text)
    assert (c.document_type, c.side) == (doc_type, side)
    assert 0.5 <= c.confidence <= 1.0
    assert c.matched


def test_license_without_its_title_still_recognized_by_labels() -> None:
    text = LICENSE_NOISY.replace("营 业 执 照", "").replace("( 副 本 )", "")
    assert classify(text).document_type == "business_license"


def test_form_that_mentions_a_license_is_a_form() -> None:
    text = CUSTOMER_FORM + "附 件 ： 营 业 执 照 复 印 件 、 法 定 代 表 人 身 份 证 复 印 件\n"
    assert classify(text).document_type == "customer_form"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n",
        OTHER,
        "Lorem ipsum dolor sit amet",
        "营业执照",  # a title alone is not enough evidence
        "开户许可证\n营业执照\n",  # two titles: ambiguous, never guessed
    ],
)
def test_unknown_or_ambiguous_is_other_with_zero_confidence(text: str) -> None:
    assert classify(text) == Classification("other", 0.0)


def test_classify_pages_splits_a_bank_opening_bundle() -> None:
    pages = [CUSTOMER_FORM, LICENSE_NOISY, ID_FRONT, ID_BACK, CONTRACT, CONTRACT_PAGE_2, "", OTHER]
    result = classify_pages(pages)
    assert [c.document_type for c in result] == [
        "customer_form", "business_license", "id_card", "id_card", "contract", "contract",
        "other", "other",
    ]
    assert result[5].matched == ["continuation"]
    assert result[5].confidence < result[4].confidence
    groups = group_pages(result)
    assert [(g.document_type, g.pages) for g in groups] == [
        ("customer_form", [1]),
        ("business_license", [2]),
        ("id_card", [3, 4]),
        ("contract", [5, 6]),
        ("other", [7]),
        ("other", [8]),
    ]
    assert groups[2].side is None


def test_group_pages_keeps_two_licenses_and_two_fronts_apart() -> None:
    result = classify_pages([LICENSE_CLEAN, LICENSE_NOISY, ID_FRONT, ID_FRONT])
    groups = group_pages(result)
    assert [g.pages for g in groups] == [[1], [2], [3], [4]]
    assert groups[2] == PageGroup("id_card", [3], result[2].confidence, "front")


def test_continuation_does_not_follow_a_license() -> None:
    result = classify_pages([LICENSE_CLEAN, CONTRACT_PAGE_2])
    assert [c.document_type for c in result] == ["business_license", "other"]


def test_user_can_extend_rules(tmp_path: Path) -> None:
    bundled = Path(__file__).resolve().parents[2] / "config" / "understanding.toml"
    extra = '''
[[classify.rules]]
type = "contract"
pattern = "补充协议"
weight = 5.0
where = "head"
'''
    custom = tmp_path / "understanding.toml"
    custom.write_text(bundled.read_text(encoding="utf-8") + extra, encoding="utf-8")
    text = "补 充 协 议 书 ( 一 )\n双 方 同 意 变 更 交 货 时 间 。\n"
    assert classify(text).document_type == "other"
    rules = load_classification_rules(custom)
    assert classify(text, rules=rules).document_type == "contract"


def test_malformed_rules_file_is_a_configuration_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[classify.rules]]\ntype = "contract"\npattern = "(unclosed"\n', "utf-8")
    with pytest.raises(ConfigurationError):
        load_classification_rules(bad)
    with pytest.raises(ConfigurationError):
        load_classification_rules(tmp_path / "missing.toml")
