"""Unit tests for models.validation: check digits, formats, error fields and masking."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.errors import DossierError, ErrorCode
from models.validation import (
    USCC_CHARSET,
    ValidationError,
    id_birth_date,
    id_check_digit,
    id_gender,
    id_number_is_valid,
    mask_id_number,
    mask_phone,
    require,
    uscc_check_char,
    uscc_is_valid,
    validate_date,
    validate_email,
    validate_id_number,
    validate_option,
    validate_phone,
    validate_uscc,
)

# Published examples (USCC from real licenses; 11010519491231002X is the GB 11643 example;
# the other ID numbers were built with the algorithm).
KNOWN_USCC = ["91350100M000100Y43", "91110000600037341L", "911100001000054748"]
KNOWN_ID = ["11010519491231002X", "440524198001010013", "310101199003071230"]


def _with_check_char(body: str) -> str:
    return body + uscc_check_char(body)


def _with_id_check(body: str) -> str:
    return body + id_check_digit(body)


# --- USCC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", KNOWN_USCC)
def test_known_uscc_are_valid(code: str) -> None:
    assert uscc_is_valid(code)
    assert uscc_check_char(code[:17]) == code[17]
    assert validate_uscc(code) == code


def test_uscc_check_char_by_hand() -> None:
    # 9 1 3 5 0 1 0 0 M(21) 0 0 0 1 0 0 Y(30) 4 weighted: sum = 462, 462 % 31 = 28, 31 - 28 = 3.
    assert uscc_check_char("91350100M000100Y4") == "3"


def test_uscc_check_char_maps_31_to_zero() -> None:
    # Find a body whose weighted sum is divisible by 31: its check char must be "0".
    body = "91110000" + "000000000"
    for c in USCC_CHARSET:
        candidate = body[:16] + c
        if uscc_check_char(candidate) == "0":
            assert uscc_is_valid(candidate + "0")
            return
    pytest.fail("no body with check char 0 found")


def test_validate_uscc_normalizes_case_and_spaces() -> None:
    assert validate_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("91350100M000100Y4", "uscc_format"),  # 17 characters
        ("91350100M000100Y433", "uscc_format"),  # 19 characters
        ("91350100M000I00Y43", "uscc_format"),  # I is not in the charset
        ("91350100M000O00Y43", "uscc_format"),  # O is not in the charset
        ("Z1350100M000100Y43", "uscc_format"),  # unknown registration authority
        ("97350100M000100Y43", "uscc_format"),  # 工商 issues no type 7
        ("913501A0M000100Y43", "uscc_format"),  # region code must be digits
        ("91350100M000100Y44", "uscc_check_digit"),
        ("", "required"),
    ],
)
def test_validate_uscc_rejects(value: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_uscc(value, field="company_uscc")
    assert info.value.reason == reason
    assert info.value.field == "company_uscc"
    assert info.value.code == ErrorCode.VALIDATION
    assert not uscc_is_valid(value)


def test_uscc_check_digit_message_names_field_and_expected_char() -> None:
    with pytest.raises(ValidationError) as info:
        validate_uscc("91350100M000100Y44")
    assert info.value.message == "统一社会信用代码校验位错误：应为 3"
    assert info.value.to_dict() == {
        "code": "validation",
        "message": "统一社会信用代码校验位错误：应为 3",
        "field": "uscc",
        "reason": "uscc_check_digit",
    }
    assert isinstance(info.value, DossierError)


_USCC_BODIES = st.tuples(
    st.sampled_from(["11", "12", "51", "52", "91", "92", "93", "Y1"]),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=USCC_CHARSET, min_size=9, max_size=9),
).map("".join)


@given(body=_USCC_BODIES, pos=st.integers(0, 17), data=st.data())
def test_every_single_character_corruption_of_a_uscc_is_rejected(
    body: str, pos: int, data: st.DataObject
) -> None:
    code = _with_check_char(body)
    assert uscc_is_valid(code)
    replacement = data.draw(st.sampled_from([c for c in USCC_CHARSET if c != code[pos]]))
    corrupted = code[:pos] + replacement + code[pos + 1 :]
    assert not uscc_is_valid(corrupted)
    with pytest.raises(ValidationError):
        validate_uscc(corrupted)


def test_every_single_character_corruption_of_known_uscc_exhaustive() -> None:
    for code in KNOWN_USCC:
        for pos in range(18):
            for c in USCC_CHARSET + "IOSVZ":
                if c != code[pos]:
                    assert not uscc_is_valid(code[:pos] + c + code[pos + 1 :]), (pos, c)


# --- resident ID numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("number", KNOWN_ID)
def test_known_id_numbers_are_valid(number: str) -> None:
    assert id_number_is_valid(number)
    assert id_check_digit(number[:17]) == number[17]
    assert validate_id_number(number) == number


def test_gb11643_example_birth_and_gender() -> None:
    assert id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert id_gender("11010519491231002X") == "女"  # 17th digit 2: even
    assert id_gender("440524198001010013") == "男"  # 17th digit 1: odd


def test_lowercase_x_is_normalized() -> None:
    assert validate_id_number("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519491231002", "id_format"),
        ("11010519491231002XX", "id_format"),
        ("1101051949123100X2", "id_format"),
        ("000000199001011234", "id_format"),
        (_with_id_check("11010519490231001"), "id_birth_date"),  # 31 February
        (_with_id_check("11010518991231001"), "id_birth_date"),  # before 1900
        (_with_id_check("11010520991231001"), "id_birth_date"),  # in the future
        ("110105194912310021", "id_check_digit"),
        ("   ", "required"),
    ],
)
def test_validate_id_number_rejects(value: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_id_number(value, field="legal_rep_id", today=date(2026, 1, 1))
    assert info.value.reason == reason
    assert info.value.field == "legal_rep_id"
    assert not id_number_is_valid(value, today=date(2026, 1, 1))


def test_id_birth_date_after_today_rejected_by_today_parameter() -> None:
    number = _with_id_check("11010520250601001")
    assert validate_id_number(number, today=date(2026, 1, 1)) == number
    with pytest.raises(ValidationError) as info:
        validate_id_number(number, today=date(2025, 1, 1))
    assert info.value.reason == "id_birth_date"


@pytest.mark.parametrize(
    "value", ["110105194912310021", "11010519490231001X", "11010519491231002"]
)
def test_id_error_messages_never_contain_the_number(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_id_number(value)
    assert value not in info.value.message
    assert value not in str(info.value.to_dict())
    assert "公民身份号码" in info.value.message


_ID_BODIES = st.builds(
    lambda region, birth, seq: f"{region}{birth:%Y%m%d}{seq:03d}",
    st.sampled_from(["110105", "310101", "440305", "510104", "650102"]),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    st.integers(0, 999),
)


@given(body=_ID_BODIES, pos=st.integers(0, 17), data=st.data())
def test_every_single_character_corruption_of_an_id_number_is_rejected(
    body: str, pos: int, data: st.DataObject
) -> None:
    number = _with_id_check(body)
    assert id_number_is_valid(number)
    replacement = data.draw(st.sampled_from([c for c in "0123456789X" if c != number[pos]]))
    corrupted = number[:pos] + replacement + number[pos + 1 :]
    assert not id_number_is_valid(corrupted)


def test_check_digit_helpers_reject_bad_bodies() -> None:
    with pytest.raises(ValueError):
        id_check_digit("1101051949123100")
    with pytest.raises(ValueError):
        uscc_check_char("91350100M000100I4")


# --- phone, e-mail, dates, options, required ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+8619912345678", "19912345678"),
        ("010-12345678", "010-12345678"),
        ("01012345678", "010-12345678"),
        ("(010)12345678", "010-12345678"),
        ("（0755）8888 6666", "0755-88886666"),
        ("0310-2345678", "0310-2345678"),  # 邯郸: local numbers still have 7 digits
        ("021-87654321ext.123", "021-87654321-123"),
        ("+86 10 1234 5678", "010-12345678"),
        ("021-87654321-123", "021-87654321-123"),
        ("021-87654321转123", "021-87654321-123"),
    ],
)
def test_validate_phone_accepts_and_normalizes(raw: str, normalized: str) -> None:
    assert validate_phone(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "12800138000",
        "1380013800",
        "138001380001",
        "12345678",
        "010-123456",
        "abc",
        "0",
        "14832097354",  # 148: no mobile segment allocated (phonenumbers' CN metadata)
        "0571-8888666",  # 杭州 numbers have 8 digits: a digit was lost
        "13800138000-123",  # a mobile has no extension
        "+1 650 253 0000",  # not a Chinese number
        "400-812-3123",  # a service number, not a customer's phone
    ],
)
def test_validate_phone_rejects(raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_phone(raw)
    assert info.value.reason == "phone_format"
    assert info.value.field == "phone"
    assert "联系方式" in info.value.message


def test_validate_email() -> None:
    assert validate_email(" Zhang.San@Example.COM ") == "Zhang.San@example.com"
    for bad in ["zhangsan", "a@b", "a@@b.com", "a b@c.com", "a..b@c.com", "@c.com"]:
        with pytest.raises(ValidationError) as info:
            validate_email(bad)
        assert info.value.reason == "email_format", bad
    with pytest.raises(ValidationError) as info:
        validate_email("")
    assert info.value.reason == "required"


def test_validate_date() -> None:
    assert validate_date("2015-03-12", "established_date") == date(2015, 3, 12)
    assert validate_date(date(2015, 3, 12), "established_date") == date(2015, 3, 12)
    for bad, reason in [("2015/03/12", "date_format"), ("2015-02-30", "date_format"),
                        ("2015年3月12日", "date_format"), ("", "required")]:
        with pytest.raises(ValidationError) as info:
            validate_date(bad, "established_date")
        assert (info.value.reason, info.value.field) == (reason, "established_date"), bad
    with pytest.raises(ValidationError) as info:
        validate_date("2030-01-01", "established_date", latest=date(2026, 1, 1))
    assert info.value.reason == "date_range"
    assert "成立日期" in info.value.message


def test_validate_option_and_require() -> None:
    assert validate_option("industry", " 金融 ", ["制造业", "金融"]) == "金融"
    with pytest.raises(ValidationError) as info:
        validate_option("industry", "农业", ["制造业", "金融"])
    assert (info.value.reason, info.value.field) == ("option_unknown", "industry")
    assert "所属行业" in info.value.message
    assert require("name", "  某某公司 ") == "某某公司"
    for empty in [None, "", "  ", []]:
        with pytest.raises(ValidationError) as info:
            require("customer_name", empty)
        assert info.value.reason == "required"
        assert info.value.message == "客户名称不能为空"


# --- masking ------------------------------------------------------------------------------------


def test_masking() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("13856785678") == "138****5678"
    assert mask_phone("010-12345678") == "010-****5678"
    assert mask_id_number("123") == "***"


# --- agreement with the kept libraries ----------------------------------------------------------


@given(
    body=st.builds(
        lambda region, org: f"91{region}{org}",
        st.text(alphabet="0123456789", min_size=6, max_size=6),
        st.text(alphabet=USCC_CHARSET, min_size=9, max_size=9),
    ),
    last=st.sampled_from(USCC_CHARSET),
)
def test_uscc_verdict_agrees_with_stdnum(body: str, last: str) -> None:
    from stdnum.cn import uscc

    assert uscc_is_valid(body + last) == uscc.is_valid(body + last)


@given(body=_ID_BODIES, last=st.sampled_from("0123456789X"))
def test_id_check_digit_agrees_with_stdnum(body: str, last: str) -> None:
    # stdnum also checks the birth place against its table of counties; we only pin the check
    # digit (a county that did not exist yet is not the ID number's fault when read from a card).
    from stdnum.cn import ric
    from stdnum.exceptions import InvalidChecksum
    from stdnum.exceptions import ValidationError as StdnumError

    try:
        ric.validate(body + last)
        checksum_ok = True
    except InvalidChecksum:
        checksum_ok = False
    except StdnumError:
        checksum_ok = True  # failed later, on the birth place
    assert id_number_is_valid(body + last) == checksum_ok
