"""Field confidence (ingest/extract/confidence.py, plausibility.py): the engine's own scores,
plausibility rules per field, a doubt code with a Chinese label on every flagged field, and
the document reason that sorts such a document among the anomalies."""

from __future__ import annotations

from datetime import date

import pytest

from config.taxonomy import load_taxonomy
from ingest.extract import extract_fields
from ingest.extract.confidence import (
    DOUBT_CAP,
    DOUBT_REASONS,
    ScoredText,
    assess_fields,
    is_flagged,
    word_scores,
)
from ingest.fields import Field
from ingest.ocr.base import Word
from ingest.pipeline import _FIELD_REASON_MAP
from models.document import has_anomaly

TODAY = date(2026, 11, 1)
USCC = "91110105172079659C"


def license_text(
    *,
    name: str = "杭州某某科技有限公司",
    address: str = "杭州市西湖区文三路94号",
    legal_rep: str = "田斌",
    established: str = "2010年05月06日",
) -> str:
    return f"""营业执照
统一社会信用代码 {USCC}
名称 {name}
注册资本 人民币500万元
类型 有限责任公司
成立日期 {established}
法定代表人 {legal_rep}
营业期限 2010年05月06日至长期
住所 {address}
经营范围 技术开发；技术咨询。
登记机关
"""


def words(text: str, *, low: dict[str, float] | None = None) -> tuple[tuple[str, float], ...]:
    """The page as an engine returns it: one word per line scored 0.98, and each ``low``
    stretch its own word with its given score (0..1)."""
    out: list[Word] = []
    for n, line in enumerate(text.splitlines()):
        pieces = [(line, 98.0)]
        for stretch, score in (low or {}).items():
            if stretch in line:
                before, _, after = line.partition(stretch)
                pieces = [(before, 98.0), (stretch, score * 100), (after, 98.0)]
        for text_, conf in pieces:
            if text_.strip():
                out.append(Word(text_, conf, 0, 0, 1, 1, (0, 0, n)))
    return word_scores(out)


def assess(doc_type: str, text: str, **low: float) -> dict[str, Field]:
    fields = extract_fields(doc_type, text, today=TODAY)
    pages = [words(text, low=low)]
    return assess_fields(doc_type, fields, pages=pages, texts=[text], today=TODAY)


def test_a_clean_license_read_with_high_scores_carries_no_doubt() -> None:
    fields = assess("business_license", license_text())
    assert {k: f.reasons for k, f in fields.items() if f.reasons} == {}
    assert not any(
        is_flagged({"value": f.value, "confidence": f.confidence, "reasons": f.reasons})
        for f in fields.values()
    )
    assert fields["name"].confidence == pytest.approx(0.98)  # the engine's score, not 0.9


def test_an_address_cut_at_a_swallowed_date_to_a_suspicious_end_is_flagged_and_sorts() -> None:
    # (cut to a house number it is only a note: tests/unit/test_field_notes.py)
    fields = assess("business_license", license_text(address="杭州市西湖区文三路2020年02月07日"))
    address = fields["address"]
    assert address.value == "杭州市西湖区文三路"
    assert address.reasons == ["trimmed_date"] and address.confidence <= DOUBT_CAP
    document_reason = _FIELD_REASON_MAP["trimmed_date"]
    assert document_reason == "doubtful_field" and has_anomaly([document_reason])


def test_a_name_with_latin_letters_or_too_long_is_flagged() -> None:
    # (digits never reach the field: the rule's value_regex refuses them, it is then missing)
    for read in ("田斌Q", "欧阳田斌明华杰"):
        fields = assess("business_license", license_text(legal_rep=read))
        assert fields["legal_representative"].reasons == ["person_name_implausible"], read
        assert fields["name"].reasons == []


def test_an_organization_name_without_its_ending_is_flagged() -> None:
    fields = assess("business_license", license_text(name="杭州某某科技有限公"))
    assert fields["name"].reasons == ["org_name_implausible"]


def test_a_value_read_from_low_scoring_characters_is_flagged() -> None:
    fields = assess("business_license", license_text(), **{"田斌": 0.62})
    rep = fields["legal_representative"]
    assert rep.reasons == ["low_ocr_score"] and rep.confidence <= DOUBT_CAP
    assert fields["name"].reasons == []


def test_a_valid_code_is_trusted_over_a_low_score() -> None:
    fields = assess("business_license", license_text(), **{USCC: 0.7})
    assert (fields["uscc"].value, fields["uscc"].reasons) == (USCC, [])


def test_a_founding_date_in_the_future_is_flagged() -> None:
    fields = assess("business_license", license_text(established="2030年05月06日"))
    assert "date_implausible" in fields["established_date"].reasons


def test_an_id_card_valid_for_eleven_years_is_flagged_ten_is_not() -> None:
    def card(validity: str) -> dict[str, Field]:
        text = f"姓名 王强\n性别 男 民族 汉\n签发机关 杭州市公安局\n有效期限 {validity}\n"
        return assess("id_card", text)

    assert card("2015.03.04-2025.03.04")["valid_to"].reasons == ["expired"]  # a fact, no doubt
    assert "date_implausible" in card("2015.03.04-2026.03.04")["valid_to"].reasons
    assert card("2015.03.04-2025.03.04")["ethnicity"].reasons == []
    assert card("2015.03.04-2025.03.04")["issuing_authority"].reasons == []


def test_an_ethnicity_that_is_none_of_the_56_is_flagged() -> None:
    text = "姓名 王强\n性别 男 民族 汊\n"
    assert assess("id_card", text)["ethnicity"].reasons == ["option_unknown"]


def test_contract_figures_and_capital_numerals_must_agree() -> None:
    def contract(money: str) -> Field:
        head = "技术服务合同\n合同编号：HT-2024-0001\n甲方：甲科技有限公司\n乙方：乙贸易有限公司"
        text = f"{head}\n{money}\n"
        return assess("contract", text)["amount"]

    right = contract("合同金额：人民币1,234,000元（大写：壹佰贰拾叁万肆仟元整）。")
    assert (right.value, right.reasons) == ("1234000", [])
    wrong = contract("合同金额：人民币1,284,000元（大写：壹佰贰拾叁万肆仟元整）。")
    assert wrong.reasons == ["amount_implausible"]


def test_every_doubt_has_a_chinese_label_and_a_document_reason() -> None:
    taxonomy = load_taxonomy()
    from web.field_view import reason_label  # the page's one labelling function

    for code in DOUBT_REASONS:
        label = reason_label(taxonomy, code)
        assert label != code and not label.isascii(), code
        assert _FIELD_REASON_MAP[code] == "doubtful_field"
    assert taxonomy.review_reasons["doubtful_field"] == "字段存疑"


def test_scored_text_finds_a_value_split_over_two_pieces() -> None:
    text = ScoredText.of((("住所杭州市西湖区", 0.99), ("文三路94号", 0.7)))
    assert text.score_of("杭州市西湖区文三路94号") == pytest.approx(0.7)
    assert text.score_of("不在页面上的文字") is None


def test_status_and_informational_reasons_are_not_flags() -> None:
    assert not is_flagged({"value": "2020-01-01", "confidence": 0.9, "reasons": ["expired"]})
    assert not is_flagged({"value": USCC, "confidence": 0.9, "reasons": ["reread"]})
    assert is_flagged({"value": "x", "confidence": 0.4, "reasons": []})
    assert not is_flagged({"value": None, "confidence": 0.0, "reasons": []})


def test_an_address_ending_in_a_misread_label_is_flagged() -> None:
    # "登记机" read as "登记林": no label fragment to cut, but no address ends like that
    fields = assess("business_license", license_text(address="北京市朝阳区建国路115号登记林"))
    assert fields["address"].reasons == ["address_implausible"]
    for good in (
        "杭州市西湖区文三路94号",
        "杭州市西湖区某小区3栋2单元501",
        "深圳市南山区科技园A座",
    ):
        assert assess("business_license", license_text(address=good))["address"].reasons == []


def test_traditional_characters_and_cut_brackets_are_flagged() -> None:
    fields = assess("business_license", license_text(address="南京市鼓楼区中山北路211號"))
    assert "rare_character" in fields["address"].reasons
    text = license_text().replace("类型 有限责任公司", "类型 有限责任公司(自然人投资或控股")
    assert assess("business_license", text)["company_type"].reasons == ["unbalanced_brackets"]


FORM = """客户资料登记表
客户名称 广州华瑞软件有限公司
客户类型 企业客户
统一社会信用代码 91440106MA97HUWH6H
法定代表人 {rep}
联系人 孙建国
联系方式 15129919867
电子邮箱 {email}
地址 广东省广州市天河区体育西路365号
所属行业 制造业
客户来源 客户转介绍
备注
"""


def test_a_form_row_read_without_its_value_is_flagged_a_full_form_is_clean() -> None:
    clean = assess("customer_form", FORM.format(rep="高丽", email="contact190@example.com"))
    assert {k: f.reasons for k, f in clean.items() if f.reasons} == {}
    empty = assess("customer_form", FORM.format(rep="", email="contact190@example.com"))
    assert empty["legal_representative"].reasons == ["value_unread"]
    assert empty["id_number"].reasons == []  # no such row on the page: nothing expected
    confusable = assess("customer_form", FORM.format(rep="高丽", email="contact209@examp1e.com"))
    assert confusable["email"].reasons == ["ocr_confusable"]
