"""Naming rules: examples and properties (hypothesis)."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from archive.errors import InvalidKeyError, KeyCollisionError
from archive.naming import (
    COLLISION_RESERVE_BYTES,
    FALLBACK_COMPONENT,
    MAX_COMPONENT_BYTES,
    MAX_KEY_BYTES,
    archive_directory,
    archive_key,
    collision_number,
    document_filename,
    first_free_key,
    is_under_prefix,
    matches_key,
    normalize_extension,
    original_key,
    sanitize_component,
    truncate_utf8,
    validate_key,
    with_collision_suffix,
)
from config.taxonomy import Templates, load_taxonomy

TEMPLATES = load_taxonomy().templates
D = date(2024, 8, 1)

TRICKY = [
    "",
    " ",
    ".",
    "..",
    "...",
    "../../etc/passwd",
    "..\\..\\windows",
    "/abs",
    "CON",
    "con.txt",
    "Nul",
    "COM1",
    "LPT9.pdf",
    "a\x00b",
    "a\x1fb\x7f",
    "\u202eevil\u202c",
    "e\u0301",
    "\u0301leading mark",
    "trailing. . .",
    " 北京 某某\t科技\n有限公司 ",
    'a<b>c:d"e|f?g*h',
    "长" * 400,
    "\U0001f600" * 100,
    "ＡＢＣ",
    "한국어",
]

names = st.one_of(
    st.text(), st.sampled_from(TRICKY), st.text(alphabet=st.sampled_from("./\\. CON"))
)
labels = st.one_of(
    st.sampled_from(["企业客户", "个人客户"]),
    st.text(min_size=0, max_size=80),
    st.sampled_from(TRICKY),
)
doc_labels = st.one_of(
    st.sampled_from([dt.label for dt in load_taxonomy().document_types]), st.text(max_size=80)
)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31))
optional_names = st.one_of(st.none(), names)


def _assert_valid_component(text: str) -> None:
    assert text
    assert unicodedata.normalize("NFC", text) == text
    assert len(text.encode("utf-8")) <= MAX_COMPONENT_BYTES
    assert not any(ch in text for ch in '/\\<>:"|?*')
    assert ".." not in text
    assert not text.startswith(".") and not text.endswith((".", " "))
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in text)


# -- examples --------------------------------------------------------------------------------


def test_filename_example() -> None:
    name = document_filename(
        templates=TEMPLATES,
        customer_name="北京某某科技有限公司",
        document_type_label="营业执照",
        submitted=D,
    )
    assert name == "北京某某科技有限公司-营业执照-2024-08-01.pdf"


def test_directory_example() -> None:
    folder = archive_directory(
        templates=TEMPLATES,
        customer_type_label="企业客户",
        submitted=D,
        customer_name="北京某某科技有限公司",
    )
    assert folder == "企业客户/2024/Q3/北京某某科技有限公司"


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (date(2024, 1, 1), "Q1"),
        (date(2024, 3, 31), "Q1"),
        (date(2024, 4, 1), "Q2"),
        (date(2024, 9, 30), "Q3"),
        (date(2024, 12, 31), "Q4"),
    ],
)
def test_quarter_from_date(day: date, quarter: str) -> None:
    folder = archive_directory(
        templates=TEMPLATES, customer_type_label="个人客户", submitted=day, customer_name="张三"
    )
    assert folder == f"个人客户/{day.year}/{quarter}/张三"


def test_archive_and_original_keys() -> None:
    fields = dict(
        templates=TEMPLATES,
        customer_type_label="企业客户",
        customer_name="北京某某科技有限公司",
        document_type_label="营业执照",
        submitted=D,
    )
    assert archive_key(**fields) == (
        "archive/企业客户/2024/Q3/北京某某科技有限公司/北京某某科技有限公司-营业执照-2024-08-01.pdf"
    )
    assert original_key(**fields, original_ext=".JPG") == (
        "originals/企业客户/2024/Q3/北京某某科技有限公司/北京某某科技有限公司-营业执照-2024-08-01.jpg"
    )
    assert original_key(**fields, original_ext="").endswith("-2024-08-01")
    assert original_key(**fields, original_ext=".../../x y").endswith("-2024-08-01")


def test_unassigned_document_uses_template_placeholders() -> None:
    key = archive_key(
        templates=TEMPLATES,
        customer_type_label=None,
        customer_name=None,
        document_type_label="身份证",
        submitted=date(2024, 5, 6),
    )
    assert key == "archive/待分类/2024/Q2/未关联客户/未关联客户-身份证-2024-05-06.pdf"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "_._etc_passwd"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("  .hidden. ", "hidden"),
        ("a\x00b/c\\d", "ab_c_d"),
        ("", FALLBACK_COMPONENT),
        ("....", FALLBACK_COMPONENT),
        ("e\u0301", "\u00e9"),
        (" 北京  某某\t科技\u3000有限公司 ", "北京 某某 科技 有限公司"),
        ('a<b>c:d"e|f?g*h', "a_b_c_d_e_f_g_h"),
        ("\u202eevil", "evil"),
    ],
)
def test_sanitize_examples(raw: str, clean: str) -> None:
    assert sanitize_component(raw) == clean


def test_long_customer_name_is_truncated_keeping_type_date_and_extension() -> None:
    name = document_filename(
        templates=TEMPLATES,
        customer_name="很长的公司名" * 60,
        document_type_label="营业执照",
        submitted=D,
    )
    assert name.endswith("-营业执照-2024-08-01.pdf")
    assert len(name.encode()) <= MAX_COMPONENT_BYTES - COLLISION_RESERVE_BYTES
    assert name.startswith("很长的公司名很长")


def test_key_limit_truncates_on_character_boundary() -> None:
    key = archive_key(
        templates=TEMPLATES,
        customer_type_label="企业客户",
        customer_name="北京" * 300,
        document_type_label="营业执照",
        submitted=D,
        max_key_bytes=300,
    )
    assert len(key.encode()) <= 300 - COLLISION_RESERVE_BYTES
    assert key.endswith("-营业执照-2024-08-01.pdf")
    validate_key(key, max_bytes=300)


def test_impossible_limit_is_refused() -> None:
    with pytest.raises(InvalidKeyError):
        archive_key(
            templates=TEMPLATES,
            customer_type_label="企业客户",
            customer_name="北京",
            document_type_label="营业执照",
            submitted=D,
            max_key_bytes=40,
        )


def test_template_prefix_with_folders() -> None:
    templates = replace(TEMPLATES, archive_prefix="dossier/归档/")
    key = archive_key(
        templates=templates,
        customer_type_label="个人客户",
        customer_name="张三",
        document_type_label="身份证",
        submitted=D,
    )
    assert key.startswith("dossier/归档/个人客户/2024/Q3/张三/")
    assert is_under_prefix(key, "dossier/归档")


def test_collision_suffix() -> None:
    assert (
        with_collision_suffix("a/b/x-营业执照-2024-08-01.pdf", 2)
        == "a/b/x-营业执照-2024-08-01-2.pdf"
    )
    assert with_collision_suffix("a/b/noext", 3) == "a/b/noext-3"
    assert with_collision_suffix("top.pdf", 10) == "top-10.pdf"
    with pytest.raises(ValueError):
        with_collision_suffix("a.pdf", 1)


def test_matches_key_is_the_key_or_a_collision_suffix_of_it() -> None:
    base = "a/b/x-营业执照-2024-08-01.pdf"
    assert matches_key(base, base) and collision_number(base, base) == 1
    assert collision_number(base.replace(".pdf", "-2.pdf"), base) == 2
    assert collision_number(base.replace(".pdf", "-13.pdf"), base) == 13
    for other in ("-1.pdf", "-02.pdf", "-x.pdf", "-2.jpg", "-2", "-٣.pdf", "-.pdf"):
        assert not matches_key(base.replace(".pdf", other), base), other
    assert not matches_key(base.replace("x-", "y-"), base)
    assert not matches_key(None, base)
    assert matches_key("a/noext-3", "a/noext") and not matches_key("a/noext-3.pdf", "a/noext")
    # The suffix goes before the extension: "v1.2" has the stem "v1", so "v1.2-3" is no slot.
    assert matches_key("a/v1-3.2", "a/v1.2") and not matches_key("a/v1.2-3", "a/v1.2")


@given(
    customer_name=optional_names,
    document_type=doc_labels,
    submitted=dates,
    ext=st.sampled_from([".pdf", ".jpg", "", "../x"]),
    n=st.integers(min_value=2, max_value=9_999_999),
    other=st.integers(min_value=2, max_value=9_999_999),
)
def test_every_collision_suffix_matches_its_key_only(
    customer_name: str | None, document_type: str, submitted: date, ext: str, n: int, other: int
) -> None:
    fields = dict(
        templates=TEMPLATES,
        customer_type_label="企业客户",
        customer_name=customer_name,
        document_type_label=document_type,
        submitted=submitted,
    )
    for key in (archive_key(**fields), original_key(**fields, original_ext=ext)):
        assert collision_number(with_collision_suffix(key, n), key) == n
        elsewhere = submitted - timedelta(days=400)  # another year's folder
        moved = original_key(**{**fields, "submitted": elsewhere}, original_ext=ext)
        assert not matches_key(with_collision_suffix(moved, other), key)


def test_first_free_key() -> None:
    taken = {"a/x.pdf", "a/x-2.pdf", "a/x-3.pdf"}
    assert first_free_key("a/y.pdf", taken=taken.__contains__) == "a/y.pdf"
    assert first_free_key("a/x.pdf", taken=taken.__contains__) == "a/x-4.pdf"
    with pytest.raises(KeyCollisionError):
        first_free_key("a/x.pdf", taken=lambda _: True, limit=5)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/a",
        "a/../b",
        "..",
        "a/./b",
        "a//b",
        "a/",
        "a\\b",
        "a\x00",
        "a\tb",
        "e\u0301",
        "x" * 256,
        "a/" + "长" * 342 + "/b/" + "长" * 100,
    ],
)
def test_validate_key_refuses(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(key)


def test_validate_key_accepts_and_is_under_prefix() -> None:
    key = "archive/企业客户/2024/Q3/甲/甲-营业执照-2024-08-01.pdf"
    assert validate_key(key) == key
    assert is_under_prefix(key, "archive")
    assert is_under_prefix(key, "archive/")
    assert is_under_prefix(key, "")
    assert not is_under_prefix(key, "arch")
    assert not is_under_prefix("archive/../secret", "archive")
    assert not is_under_prefix("originals/x.pdf", "archive")


@pytest.mark.parametrize(
    ("ext", "clean"), [(".PDF", ".pdf"), ("jpg", ".jpg"), ("", ""), (".tar.gz", ""), (". exe", "")]
)
def test_normalize_extension(ext: str, clean: str) -> None:
    assert normalize_extension(ext) == clean


def test_truncate_utf8_keeps_whole_characters() -> None:
    assert truncate_utf8("北京市", 7) == "北京"
    assert truncate_utf8("北京市", 0) == ""


# -- properties ------------------------------------------------------------------------------


@given(text=names)
@example(text="CONSOLE" * 40)
@example(text="a" * 250 + "....CON")
def test_sanitize_component_properties(text: str) -> None:
    clean = sanitize_component(text)
    _assert_valid_component(clean)
    assert sanitize_component(clean) == clean  # idempotent
    assert clean.split(".", 1)[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}


@given(text=names, limit=st.integers(min_value=12, max_value=300))
def test_sanitize_component_respects_byte_limit(text: str, limit: int) -> None:
    clean = sanitize_component(text, max_bytes=limit)
    assert len(clean.encode()) <= limit
    assert sanitize_component(clean, max_bytes=limit) == clean


@given(
    customer_name=optional_names,
    customer_type=st.one_of(st.none(), labels),
    document_type=doc_labels,
    submitted=dates,
    ext=st.sampled_from([".pdf", ".jpg", ".PNG", "", ".docx", "../x"]),
)
def test_any_document_gets_a_valid_key_under_its_prefix(
    customer_name: str | None,
    customer_type: str | None,
    document_type: str,
    submitted: date,
    ext: str,
) -> None:
    fields = dict(
        templates=TEMPLATES,
        customer_type_label=customer_type,
        customer_name=customer_name,
        document_type_label=document_type,
        submitted=submitted,
    )
    key = archive_key(**fields)
    orig = original_key(**fields, original_ext=ext)
    for k, prefix in ((key, TEMPLATES.archive_prefix), (orig, TEMPLATES.originals_prefix)):
        assert validate_key(k) == k
        assert is_under_prefix(k, prefix)
        assert unicodedata.normalize("NFC", k) == k
        assert len(k.encode()) <= MAX_KEY_BYTES - COLLISION_RESERVE_BYTES
        segments = k.split("/")
        assert len(segments) == 6  # prefix, type, year, quarter, customer, file
        for segment in segments:
            _assert_valid_component(segment)
        assert segments[2] == f"{submitted.year:04d}"
        assert segments[3] == f"Q{(submitted.month - 1) // 3 + 1}"
        assert segments[-1].endswith(
            f"-{submitted.isoformat()}" + normalize_extension(".pdf" if k is key else ext)
        )
        suffixed = with_collision_suffix(k, 9_999_999)
        validate_key(suffixed)
        assert len(suffixed.split("/")[-1].encode()) <= MAX_COMPONENT_BYTES
    # deterministic
    assert archive_key(**fields) == key
    assert original_key(**fields, original_ext=ext) == orig


@given(customer_name=names, limit=st.integers(min_value=200, max_value=1024))
def test_key_fits_a_smaller_limit(customer_name: str, limit: int) -> None:
    key = archive_key(
        templates=TEMPLATES,
        customer_type_label="企业客户",
        customer_name=customer_name,
        document_type_label="客户资料登记表",
        submitted=D,
        max_key_bytes=limit,
    )
    assert len(key.encode()) <= limit - COLLISION_RESERVE_BYTES
    validate_key(key, max_bytes=limit)


def test_templates_come_from_the_data_file() -> None:
    custom = Templates(
        filename="{document_type}_{customer_name}_{year}{month}",
        directory="{customer_type}/{year}/{customer_name}",
        archive_prefix="a",
        originals_prefix="o",
        unassigned_customer="无主",
        unassigned_customer_type="未分",
    )
    key = archive_key(
        templates=custom,
        customer_type_label="企业客户",
        customer_name="甲公司",
        document_type_label="合同",
        submitted=D,
    )
    assert key == "a/企业客户/2024/甲公司/合同_甲公司_202408.pdf"
