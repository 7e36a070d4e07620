"""Cuts that are plainly right are notes, not doubts; the two engines' agreement on key names
and dates (ingest/extract/confidence.py, plausibility.well_formed)."""

from __future__ import annotations

from datetime import date

from config.taxonomy import load_taxonomy
from ingest.extract import extract_fields
from ingest.extract.confidence import (
    AGREED_CONFIDENCE,
    DOUBT_CAP,
    INFO_REASONS,
    agreement,
    agreement_field,
    assess_fields,
    is_flagged,
)
from ingest.extract.plausibility import well_formed
from ingest.fields import Field
from ingest.pipeline import _FIELD_REASON_MAP
from tests.unit.test_field_confidence import assess, license_text, words
from web.field_view import reason_label

TODAY = date(2026, 11, 1)


def _flagged(f: Field) -> bool:
    return is_flagged({"value": f.value, "confidence": f.confidence, "reasons": f.reasons})


def test_an_address_cut_at_a_whole_date_to_a_house_number_is_a_note() -> None:
    address = assess(
        "business_license", license_text(address="杭州市西湖区文三路94号2020年02月07日")
    )["address"]
    assert address.value == "杭州市西湖区文三路94号"
    assert address.reasons == ["trimmed_date_clean"] and not _flagged(address)
    assert address.confidence > DOUBT_CAP
    assert "trimmed_date_clean" not in _FIELD_REASON_MAP  # no document reason: not an anomaly


def test_an_address_cut_at_the_start_of_a_label_is_a_note() -> None:
    text = license_text(address="广州市天河区体育西路1403室登记机")
    address = assess("business_license", text)["address"]
    assert address.value == "广州市天河区体育西路1403室"
    assert address.reasons == ["trimmed_label_clean"] and not _flagged(address)


def test_a_cut_that_leaves_a_suspicious_ending_stays_a_doubt() -> None:
    for read in ("杭州市西湖区文三路2020年02月07日", "杭州市西湖区文三路94号3单2020年02月07日"):
        address = assess("business_license", license_text(address=read))["address"]
        assert "trimmed_date" in address.reasons and _flagged(address), read
        assert address.confidence <= DOUBT_CAP


def test_a_cut_with_another_doubt_stays_a_doubt() -> None:
    fields = assess(
        "business_license",
        license_text(address="杭州市西湖区文三路94号2020年02月07日"),
        **{"文三路94号": 0.6},
    )
    assert set(fields["address"].reasons) == {"trimmed_date", "low_ocr_score"}


def test_well_formed_values() -> None:
    assert well_formed("business_license", "address", "杭州市西湖区文三路94号", {})
    assert well_formed("id_card", "address", "浙江省杭州市某小区3幢", {})
    assert not well_formed("business_license", "address", "杭州市西湖区文三路", {})
    assert not well_formed("business_license", "address", "杭州市西湖区文三路94", {})
    assert not well_formed("business_license", "address", "杭州市西湖区文三路94号2020年", {})
    assert well_formed("business_license", "name", "杭州某某科技有限公司", {})
    assert not well_formed("business_license", "name", "杭州某某科技有限", {})
    assert not well_formed("business_license", "business_scope", "技术开发。", {})


def test_engine_agreement_on_names_and_dates() -> None:
    rep = Field("田斌", 0.9, raw="田斌")
    labels = ("法定代表人", "姓名")
    assert agreement("legal_representative", rep, "法定代表人 田 斌", 0.8) is True
    assert agreement("legal_representative", rep, "法定代表人:田武", 0.8, labels=labels) is False
    assert agreement("legal_representative", rep, "田武", 0.8) is False
    assert agreement("legal_representative", rep, "法定代表人田武", 0.3, labels=labels) is None
    assert agreement("legal_representative", rep, "田", 0.9) is None  # too little read
    # one character read as two (tesseract's way with wide glyphs): no opinion
    assert agreement("name", Field("罗军", 0.9), "姓名罗和车", 0.75, labels=labels) is None
    form = Field("胡志強", 0.9)
    assert agreement("submitted_by", form, "填表人:胡志强", 0.88, labels=("填表人",)) is False
    day = Field("2010-05-06", 0.9, raw="2010年05月06日")
    assert agreement("established_date", day, "成立日期 2010 年 05 月 06 日", 0.7) is True
    assert agreement("established_date", day, "2010年08月06日", 0.7) is False
    assert agreement("established_date", day, "成立日期", 0.9) is None  # no date read
    assert agreement_field("business_license", "legal_representative")
    assert agreement_field("id_card", "name") and agreement_field("id_card", "birth_date")
    assert not agreement_field("business_license", "address")
    assert not agreement_field("business_license", "uscc")


def _assessed(readings: list[tuple[str, float, str, float]], **low: float) -> dict[str, Field]:
    text = license_text()
    fields = extract_fields("business_license", text, today=TODAY)
    return assess_fields(
        "business_license",
        fields,
        pages=[words(text, low=low)],
        texts=[text],
        readings=[readings],
        today=TODAY,
    )


def test_agreement_outweighs_a_low_score_and_disagreement_is_a_doubt() -> None:
    low = _assessed([], 田斌=0.7)["legal_representative"]
    assert low.reasons == ["low_ocr_score"]
    agreed = _assessed([("legal_representative", 0.7, "法定代表人田斌", 0.85)], 田斌=0.7)
    rep = agreed["legal_representative"]
    assert rep.reasons == ["engines_agree"] and not _flagged(rep)
    assert rep.confidence == AGREED_CONFIDENCE
    differ = _assessed([("legal_representative", 0.99, "法定代表人田武", 0.85)])
    rep = differ["legal_representative"]
    assert rep.reasons == ["engines_disagree"] and _flagged(rep) and rep.confidence <= DOUBT_CAP
    assert _FIELD_REASON_MAP["engines_disagree"] == "doubtful_field"


def test_notes_and_new_doubts_have_chinese_labels() -> None:
    taxonomy = load_taxonomy()
    for code in (*(INFO_REASONS - {"reread"}), "engines_disagree"):
        label = reason_label(taxonomy, code)
        assert label != code and not label.isascii(), code


def test_the_page_shows_a_note_beside_the_field_without_highlighting_it() -> None:
    from web.field_view import field_rows  # the document page's rows

    fields = {
        "address": {"value": "杭州市西湖区文三路94号", "confidence": 0.98,
                    "reasons": ["trimmed_date_clean"]},
        "name": {"value": "杭州某某科技有限公司", "confidence": 0.5,
                 "reasons": ["engines_disagree"]},
    }
    rows = {r["name"]: r for r in field_rows(
        fields, document_type="business_license", taxonomy=load_taxonomy(), unmask=False
    )}
    assert not rows["address"]["doubtful"] and rows["address"]["reason_codes"] == []
    assert rows["address"]["notes"] == ["已截去末尾混入的日期（截后内容完整）"]
    assert rows["name"]["doubtful"] and rows["name"]["reasons"] == ["两种识别引擎读出的内容不一致"]


def test_a_cut_at_the_edge_of_its_box_is_a_note_when_the_value_is_well_formed() -> None:
    from ingest.extract.confidence import _trim_notes

    def cut(value: str) -> list[str]:
        f = Field(value=value, confidence=0.99, reasons=["trimmed_layout"])
        return _trim_notes("business_license", "address", f, list(f.reasons), {}, value + "登记林")

    assert cut("杭州市西湖区文三路115号") == ["trimmed_layout_clean"]  # the seal case
    assert cut("杭州市西湖区文三路") == ["trimmed_layout"]  # ends mid-address: still a doubt
    assert "截" in reason_label(load_taxonomy(), "trimmed_layout_clean")  # labelled in Chinese
