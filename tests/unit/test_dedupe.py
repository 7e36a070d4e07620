"""Near-duplicate rules: text fingerprints, key fields and detail fields (pure, no database)."""

from __future__ import annotations

import pytest

from archive.dedupe import (
    BITS,
    MAX_DISTANCE,
    details_agree,
    hamming_distance,
    is_near_duplicate,
    key_fields_agree,
    max_distance_for,
    text_fingerprint,
)
from models.document import Document
from tests.fixtures.text import rescan

LICENSE = """营业执照
统一社会信用代码 91110108000000001X
名称 北京星海科技有限公司
类型 有限责任公司(自然人投资或控股)
法定代表人 张伟
注册资本 壹佰万元整
成立日期 2015-03-12
营业期限 长期
住所 北京市海淀区中关村大街27号
经营范围 技术开发、技术咨询、技术服务；销售电子产品、计算机软件及辅助设备。
登记机关 国家市场监督管理总局监制"""

OTHER = (
    LICENSE.replace("91110108000000001X", "91310000MA1FL2345K")
    .replace("北京星海科技有限公司", "上海云帆贸易有限公司")
    .replace("张伟", "王芳")
    .replace("2015-03-12", "2019-11-30")
    .replace("壹佰万元整", "伍佰万元整")
    .replace("北京市海淀区中关村大街27号", "上海市浦东新区世纪大道100号")
    .replace("技术开发、技术咨询、技术服务；销售电子产品、计算机软件及辅助设备", "日用百货批发")
)


def fp(text: str) -> str:
    value = text_fingerprint(text)
    assert value is not None
    return value


def test_fingerprint_is_stable_hex_of_the_configured_width() -> None:
    value = fp(LICENSE)
    assert value == fp(LICENSE)
    assert len(value) == BITS // 4
    int(value, 16)


def test_spacing_width_and_case_do_not_change_the_fingerprint() -> None:
    spaced = " ".join(LICENSE).replace("(", "（").replace(")", "）")
    assert fp(spaced) == fp(LICENSE)


def test_too_little_text_has_no_fingerprint() -> None:
    assert text_fingerprint("营业执照 张伟") is None
    assert text_fingerprint("") is None
    assert text_fingerprint(None) is None


def test_hamming_distance_counts_differing_bits() -> None:
    assert hamming_distance("0f", "00") == 4
    assert hamming_distance(fp(LICENSE), fp(LICENSE)) == 0


@pytest.mark.parametrize("seed", range(5))
def test_a_rescan_is_within_and_another_paper_beyond_the_threshold(seed: int) -> None:
    limit = max_distance_for("business_license")
    assert hamming_distance(fp(LICENSE), fp(rescan(LICENSE, seed=seed))) <= limit
    assert hamming_distance(fp(rescan(LICENSE, seed=seed)), fp(OTHER)) > limit


def test_thresholds_per_type_fall_back_to_the_default() -> None:
    assert max_distance_for("other") == MAX_DISTANCE
    assert max_distance_for("contract") < max_distance_for("business_license")


def test_key_fields_must_agree_when_both_were_read() -> None:
    a = {"uscc": {"value": "91110108000000001X"}}
    assert key_fields_agree(a, {"uscc": {"value": " 91110108000000001x "}})
    assert key_fields_agree(a, {"uscc": {"value": None}})  # one scan missed it
    assert key_fields_agree(a, {})
    assert not key_fields_agree(a, {"uscc": {"value": "91310000MA1FL2345K"}})
    assert not key_fields_agree({"contract_number": "HT-1"}, {"contract_number": "HT-2"})


def test_detail_fields_tolerate_ocr_noise_but_not_another_value() -> None:
    a = {"address": {"value": "北京市海淀区中关村大街27号"}}
    assert details_agree(a, {"address": {"value": "北京市海淀区中关村大街2 7号"}})
    assert details_agree(a, {"address": {"value": "北京巾海淀区中关村大街27号"}})
    assert not details_agree(a, {"address": {"value": "上海市浦东新区世纪大道100号"}})
    assert details_agree({"legal_representative": "张伟"}, {"legal_representative": "李娜"})


def _earlier(text: str, fields: dict, sha: str = "a" * 64) -> Document:
    return Document(
        document_type="business_license",
        submitted_date="2024-05-06",
        original_filename="x.pdf",
        original_sha256=sha,
        original_size=1,
        pdf_sha256=sha,
        fields=fields,
        text_fingerprint=text_fingerprint(text),
    )


def test_is_near_duplicate_combines_fields_bytes_and_text() -> None:
    fields = {"uscc": {"value": "91110108000000001X"}}
    earlier = _earlier(LICENSE, fields)
    noisy = fp(rescan(LICENSE, seed=9))
    assert is_near_duplicate(fingerprint=noisy, fields=fields, pdf_sha256="b" * 64, earlier=earlier)
    other = {"uscc": {"value": "91310000MA1FL2345K"}}
    assert not is_near_duplicate(
        fingerprint=noisy, fields=other, pdf_sha256="b" * 64, earlier=earlier
    )
    assert not is_near_duplicate(
        fingerprint=fp(OTHER), fields=fields, pdf_sha256="b" * 64, earlier=earlier
    )
    # Identical PDF bytes are a duplicate whatever the text says.
    assert is_near_duplicate(fingerprint=None, fields=fields, pdf_sha256="a" * 64, earlier=earlier)
    assert not is_near_duplicate(
        fingerprint=None, fields=fields, pdf_sha256="b" * 64, earlier=earlier
    )
