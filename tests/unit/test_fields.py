"""Unit tests for ingest.fields: dates, amounts, names, OCR-confusion correction, expiry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingest.fields import (
    CONFUSION_GROUPS,
    compact_lines,
    correct_code,
    expiry_reasons,
    find_dates,
    normalize_name,
    parse_amount,
    parse_date,
)
from models.validation import USCC_CHARSET, id_number_is_valid, uscc_check_char, uscc_is_valid


@pytest.mark.parametrize(
    "text",
    [
        "2015年03月12日",
        "2015年3月12日",
        "2 0 1 5 年 0 3 月 1 2 日",
        "2015.3.12",
        "2015. 03. 12",
        "2015-03-12",
        "2015/03/12",
        "20150312",
        "成立日期：2015年03月12日",
        "2O15年O3月l2日",  # tesseract letter-for-digit confusions
        "二〇一五年三月十二日",
        "２０１５年３月１２日",  # full-width digits
        "2015年03月.12日",  # a speck read as a dot
        "2015年.3月12日",
    ],
)
def test_parse_date_forms(text: str) -> None:
    assert parse_date(text) == date(2015, 3, 12)


@pytest.mark.parametrize("text", ["", "长期", "2015年13月12日", "2015-02-30", "电话 12345678"])
def test_parse_date_rejects(text: str) -> None:
    assert parse_date(text) is None


def test_find_dates_in_a_range() -> None:
    assert find_dates("2015.03.12-2035.03.12") == [date(2015, 3, 12), date(2035, 3, 12)]
    assert find_dates("2015年03月12日 至 2035年03月11日") == [date(2015, 3, 12), date(2035, 3, 11)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100万元", (Decimal("1000000"), "元")),
        ("人民币100万元", (Decimal("1000000"), "元")),
        ("人民币壹佰万元整", (Decimal("1000000"), "元")),
        ("1,000,000.00元", (Decimal("1000000.00"), "元")),
        ("人民币 1,234,000 元（大写：壹佰贰拾叁万肆仟元整）", (Decimal("1234000"), "元")),
        ("伍拾万元整", (Decimal("500000"), "元")),
        ("壹拾万零伍佰元伍角", (Decimal("100500.5"), "元")),
        ("叁仟万元", (Decimal("30000000"), "元")),
        ("壹亿贰仟万元整", (Decimal("120000000"), "元")),
        ("50万美元", (Decimal("500000"), "美元")),
        ("¥12.50", (Decimal("12.50"), "元")),
    ],
)
def test_parse_amount(text: str, expected: tuple[Decimal, str]) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["", "长期", "百分之十的违约金", "无"])
def test_parse_amount_rejects(text: str) -> None:
    assert parse_amount(text) is None


def test_normalize_name() -> None:
    assert normalize_name("北京某某（上海）科技 有限公司") == "北京某某(上海)科技有限公司"
    assert normalize_name("北 京 某 某 (上海) 科 技 有 限 公 司") == "北京某某(上海)科技有限公司"
    assert normalize_name("ＡＢＣ【北京】") == "ABC(北京)"
    assert normalize_name("某某公司") != normalize_name("某某有限公司")


def test_compact_lines_removes_ocr_spaces_and_blank_lines() -> None:
    text = "统 一 社 会 信 用 代 码 ：\n\n  9135 0100 M000 100Y 43 \n\x00名\u3000称"
    assert compact_lines(text) == ["统一社会信用代码:", "91350100M000100Y43", "名称"]


# --- OCR confusion correction -------------------------------------------------------------------


def test_correct_code_keeps_a_valid_code() -> None:
    assert correct_code("91350100M000100Y43", uscc_is_valid) == ("91350100M000100Y43", False)


def test_correct_code_forced_letter_in_uscc() -> None:
    # "O" is not in the USCC charset, so it must be one of 0/D/Q; only 0 validates here.
    assert correct_code("9135O100M000100Y43", uscc_is_valid, alphabet=USCC_CHARSET) == (
        "91350100M000100Y43",
        True,
    )


def test_correct_code_id_number_letters() -> None:
    assert correct_code("11O1O5I949l231OO2X", id_number_is_valid, alphabet="0123456789X") == (
        "11010519491231002X",
        True,
    )


def test_correct_code_optional_swap() -> None:
    # A valid code with B (an 8/B confusion) at position 9; OCR read 8.
    body = "91350100B00010"
    code = next(
        body + tail + uscc_check_char(body + tail)
        for tail in ("0Y4", "1Y4", "2Y4", "3Y4", "4Y4", "5Y4", "6Y4", "7Y4", "9Y4")
        if correct_code(
            (body + tail + uscc_check_char(body + tail)).replace("B", "8", 1),
            uscc_is_valid,
            alphabet=USCC_CHARSET,
        )[0]
    )
    misread = code.replace("B", "8", 1)
    assert not uscc_is_valid(misread)
    assert correct_code(misread, uscc_is_valid, alphabet=USCC_CHARSET) == (code, True)


def test_correct_code_never_accepts_two_candidates_simple() -> None:
    # "I" could be "1" or "L": both validate, so nothing is accepted.
    def valid(s: str) -> bool:
        return s in {"A1", "AL"}

    assert correct_code("AI", valid) == (None, False)
    assert correct_code("AI", lambda s: s == "A1") == ("A1", True)


def _single_swaps(code: str) -> set[str]:
    """All codes one confusion swap away (independent of correct_code)."""
    partners = {c: g.replace(c, "") for g in CONFUSION_GROUPS for c in g}
    out = set()
    for i, ch in enumerate(code):
        for alt in partners.get(ch, ""):
            out.add(code[:i] + alt + code[i + 1 :])
    return out


def test_correct_code_never_accepts_two_candidates_uscc() -> None:
    # Search misreads of valid USCCs that have two or more valid single-swap repairs.
    ambiguous = []
    for n in range(2000):
        body = f"91110000{n:06d}MA0"
        code = body + uscc_check_char(body)
        for misread in _single_swaps(code):
            if uscc_is_valid(misread):
                continue
            repairs = {c for c in _single_swaps(misread) if uscc_is_valid(c)}
            if len(repairs) >= 2:
                ambiguous.append(misread)
        if len(ambiguous) >= 5:
            break
    assert ambiguous, "the search should find ambiguous misreads"
    for misread in ambiguous:
        assert correct_code(misread, uscc_is_valid, alphabet=USCC_CHARSET) == (None, False)


def test_correct_code_gives_up_on_non_confusable_errors() -> None:
    # 3 -> 4 is not an OCR confusion pair; check digit fails and nothing can repair it.
    assert correct_code("91350100M000100Y44", uscc_is_valid, alphabet=USCC_CHARSET)[0] in (
        None,
        "91350100M000100Y43",
    )
    assert correct_code("11010519491231003X", id_number_is_valid, alphabet="0123456789X") == (
        None,
        False,
    )


# --- expiry -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (date(2024, 12, 31), ["expired"]),
        (date(2025, 1, 1), ["expiring"]),  # ends today: still valid, last day
        (date(2025, 1, 15), []),
        ("2024-06-30", ["expired"]),
        ("长期", []),
        (None, []),
    ],
)
def test_expiry_reasons(end: date | str | None, expected: list[str]) -> None:
    assert expiry_reasons(end, today=date(2025, 1, 1), warning_days=0) == expected


def test_expiry_warning_window() -> None:
    today = date(2025, 1, 1)
    assert expiry_reasons(date(2025, 1, 31), today=today, warning_days=30) == ["expiring"]
    assert expiry_reasons(date(2025, 2, 1), today=today, warning_days=30) == []
    assert expiry_reasons(date(2024, 12, 31), today=today, warning_days=30) == ["expired"]
