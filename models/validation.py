"""Validation of customer data: USCC, resident ID numbers, phones, e-mail, dates and options.

One module used by models, ingest and the UI. Every failure raises :class:`ValidationError`
with the field it concerns, a stable ``reason`` code for programs and a Chinese message for
people. Messages never contain a full ID number (it is masked).

Check characters come from python-stdnum (``stdnum.cn.uscc``, ``stdnum.cn.ric``) and phone
numbers are judged by phonenumbers' CN metadata; this module adds what those libraries do not
say in our terms: the reason codes, the Chinese messages, the GB 32100 authority and type codes
(stdnum rejects the A, N and Y authorities) and the normalized forms we store. Repairing OCR
confusions (O/0, I/1) on top of these checks is ``ingest.fields.correct_code``'s job.

References: GB 32100-2015 (统一社会信用代码) and GB 11643-1999 (公民身份号码, ISO 7064 MOD 11-2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumValidationError

from models.errors import ValidationError

# --- field labels ---------------------------------------------------------------------------

FIELD_LABELS: dict[str, str] = {
    "uscc": "统一社会信用代码",
    "id_number": "公民身份号码",
    "phone": "联系方式",
    "email": "电子邮箱",
    "name": "名称",
    "customer_name": "客户名称",
    "contact_person": "联系人",
    "address": "地址",
    "established_date": "成立日期",
    "submitted_date": "提交日期",
    "customer_type": "客户类型",
    "industry": "所属行业",
    "source_channel": "客户来源",
    "legal_representative": "法定代表人",
    "owner_id": "负责人",
    "filled_date": "填表日期",
    "issue_date": "发证日期",
    "signed_date": "签约日期",
}

REASONS = (
    "required",
    "uscc_format",
    "uscc_check_digit",
    "id_format",
    "id_check_digit",
    "id_birth_date",
    "phone_format",
    "email_format",
    "date_format",
    "date_range",
    "option_unknown",
)


def field_label(field: str) -> str:
    """The Chinese label of a field, or the field name when none is known."""
    return FIELD_LABELS.get(field, field)


def _fail(field: str, reason: str, what: str) -> ValidationError:
    return ValidationError(f"{field_label(field)}{what}", field=field, reason=reason)


# --- masking ----------------------------------------------------------------------------------


def mask_id_number(v: str) -> str:
    """Mask an ID number, keeping the first 6 and last 4 characters.

    Example: ``"11010519491231002X"`` -> ``"110105********002X"``.
    """
    s = (v or "").strip()
    if len(s) <= 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def mask_phone(v: str) -> str:
    """Mask a phone number, keeping the first 3 and last 4 digits and any separators.

    Example: ``"13812345678"`` -> ``"138****5678"``, ``"010-12345678"`` -> ``"010-****5678"``.
    """
    s = (v or "").strip()
    digit_positions = [i for i, c in enumerate(s) if c.isdigit()]
    if len(digit_positions) <= 7:
        return "".join("*" if c.isdigit() else c for c in s)
    hidden = set(digit_positions[3:-4])
    return "".join("*" if i in hidden else c for i, c in enumerate(s))


def mask_email(v: str) -> str:
    """Mask an e-mail address, keeping the first character of the name and the domain.

    Example: ``"zhangsan@example.com"`` -> ``"z***@example.com"``.
    """
    s = (v or "").strip()
    local, at, domain = s.rpartition("@")
    if not at:
        return "*" * len(s)
    return (local[:1] + "***" if local else "") + "@" + domain


# --- required and options ---------------------------------------------------------------------


def require(field: str, value: object) -> object:
    """Reject a missing value: None, a blank string or an empty collection.

    Returns:
        The value (a string stripped of surrounding whitespace).
    """
    if isinstance(value, str):
        value = value.strip()
    if value is None or (isinstance(value, str | list | tuple | set | dict) and not value):
        raise _fail(field, "required", "不能为空")
    return value


def validate_option(field: str, value: str, options: Iterable[str]) -> str:
    """Check that a dropdown value is one of the configured options.

    Returns:
        The value, stripped.
    """
    s = (value or "").strip()
    allowed = tuple(options)
    if s not in allowed:
        raise _fail(field, "option_unknown", f"的选项“{s}”无效，可选：{'、'.join(allowed)}")
    return s


# --- USCC (GB 32100-2015) -------------------------------------------------------------------

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Registration authority (1st char) -> institution type codes (2nd char) it issues.
_USCC_TYPES: dict[str, str] = {
    "1": "1239",  # 机构编制
    "2": "19",  # 外交
    "3": "12345",  # 司法行政
    "4": "19",  # 文化
    "5": "1239",  # 民政
    "6": "19",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 市场监管（工商）
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}
_USCC_SHAPE = re.compile(r"[0-9A-Z]{2}\d{6}[0-9A-Z]{10}")


def uscc_check_char(first17: str) -> str:
    """The check character of a USCC from its first 17 characters (GB 32100-2015).

    Raises:
        ValueError: When the input is not 17 characters of the USCC charset.
    """
    if len(first17) != 17 or any(c not in USCC_CHARSET for c in first17):
        raise ValueError("USCC body must be 17 characters of the USCC charset")
    return uscc.calc_check_digit(first17)


def _uscc_problem(s: str) -> tuple[str, str] | None:
    """(reason, Chinese description) of what is wrong with a normalized USCC, or None."""
    if len(s) != 18:
        return "uscc_format", f"应为18位，实际为{len(s)}位"
    bad = [c for c in s if c not in USCC_CHARSET]
    if bad or not _USCC_SHAPE.fullmatch(s):
        shown = "、".join(dict.fromkeys(bad)) if bad else ""
        return "uscc_format", f"含有无效字符{shown}" if bad else "格式错误"
    if s[0] not in _USCC_TYPES:
        return "uscc_format", f"登记管理部门代码“{s[0]}”无效"
    if s[1] not in _USCC_TYPES[s[0]]:
        return "uscc_format", f"机构类别代码“{s[1]}”无效"
    expected = uscc_check_char(s[:17])
    if s[17] != expected:
        return "uscc_check_digit", f"校验位错误：应为 {expected}"
    return None


def _normalize_code(v: str) -> str:
    return re.sub(r"[\s\-]", "", (v or "")).upper()


def uscc_is_valid(v: str) -> bool:
    """Whether ``v`` (after stripping and upper-casing) is a valid USCC."""
    return _uscc_problem(_normalize_code(v)) is None


def validate_uscc(v: str, field: str = "uscc") -> str:
    """Validate a USCC: 18 characters, charset, authority and type codes, check character.

    Returns:
        The normalized code (no spaces, upper case).

    Raises:
        ValidationError: reason ``required``, ``uscc_format`` or ``uscc_check_digit``.
    """
    s = _normalize_code(v)
    if not s:
        raise _fail(field, "required", "不能为空")
    problem = _uscc_problem(s)
    if problem:
        reason, what = problem
        raise _fail(field, reason, what)
    return s


# --- resident ID numbers (GB 11643, ISO 7064 MOD 11-2) ---------------------------------------

_ID_SHAPE = re.compile(r"\d{17}[\dX]")
_EARLIEST_BIRTH = date(1900, 1, 1)


def id_check_digit(first17: str) -> str:
    """The check digit of an 18-digit resident ID number from its first 17 digits.

    Raises:
        ValueError: When the input is not 17 digits.
    """
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("ID body must be 17 digits")
    return ric.calc_check_digit(first17 + "?")  # stdnum reads the body of a whole number


def _birth_or_none(s: str) -> date | None:
    try:
        return ric.get_birth_date(s)
    except StdnumValidationError:
        return None


def _id_problem(s: str, today: date) -> tuple[str, str] | None:
    if len(s) != 18:
        return "id_format", f"应为18位，实际为{len(s)}位"
    if not _ID_SHAPE.fullmatch(s):
        return "id_format", "只能包含数字，最后一位可为X"
    if s[:6] == "000000":
        return "id_format", "地址码无效"
    birth = _birth_or_none(s)
    if birth is None:
        return "id_birth_date", "中的出生日期不是有效日期"
    if not _EARLIEST_BIRTH <= birth <= today:
        return "id_birth_date", f"中的出生日期 {birth.isoformat()} 不在合理范围内"
    expected = id_check_digit(s[:17])
    if s[17] != expected:
        return "id_check_digit", f"校验位错误：应为 {expected}"
    return None


def id_number_is_valid(v: str, *, today: date | None = None) -> bool:
    """Whether ``v`` is a valid 18-character resident ID number."""
    return _id_problem(_normalize_code(v), today or date.today()) is None


def validate_id_number(v: str, field: str = "id_number", today: date | None = None) -> str:
    """Validate a resident ID number: shape, region code, birth date and check digit.

    Args:
        v: The number; spaces are removed and a lower-case ``x`` is upper-cased.
        field: Field name reported in errors.
        today: Latest plausible birth date (defaults to today).

    Returns:
        The normalized number.

    Raises:
        ValidationError: reason ``required``, ``id_format``, ``id_birth_date`` or
            ``id_check_digit``. The message never contains the full number.
    """
    s = _normalize_code(v)
    if not s:
        raise _fail(field, "required", "不能为空")
    problem = _id_problem(s, today or date.today())
    if problem:
        reason, what = problem
        raise _fail(field, reason, what)
    return s


def id_birth_date(v: str) -> date:
    """The birth date encoded in an 18-character ID number.

    Raises:
        ValidationError: reason ``id_format`` or ``id_birth_date``.
    """
    s = _normalize_code(v)
    if not _ID_SHAPE.fullmatch(s):
        raise _fail("id_number", "id_format", "格式错误")
    birth = _birth_or_none(s)
    if birth is None:
        raise _fail("id_number", "id_birth_date", "中的出生日期不是有效日期")
    return birth


def id_gender(v: str) -> str:
    """The gender encoded in an ID number: ``"男"`` (odd 17th digit) or ``"女"`` (even).

    Raises:
        ValidationError: reason ``id_format``.
    """
    s = _normalize_code(v)
    if not _ID_SHAPE.fullmatch(s):
        raise _fail("id_number", "id_format", "格式错误")
    return "男" if int(s[16]) % 2 else "女"


# --- phone, e-mail, dates ---------------------------------------------------------------------

_PHONE_PUNCT = str.maketrans({"（": "(", "）": ")", "－": "-", "—": "-", "＋": "+"})
#: A landline extension written after the number: ``-801``, ``转801`` (phonenumbers itself
#: understands ``ext.``, ``x`` and ``#``).
_EXTENSION = re.compile(r"(.+)(?:-|转)(\d{1,6})")
_LANDLINE_TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _parse_cn(text: str) -> PhoneNumber | None:
    """A valid Chinese number by phonenumbers' CN metadata, or None."""
    try:
        number = phonenumbers.parse(text, "CN")
    except NumberParseException:
        return None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    return number


def _normalized_phone(number: PhoneNumber, extension: str | None) -> str | None:
    """``13812345678`` for a mobile, ``010-12345678[-801]`` for a landline, else None."""
    national = str(number.national_number)
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.MOBILE and not extension:
        return national
    area = phonenumbers.length_of_geographical_area_code(number)
    if kind in _LANDLINE_TYPES and area:
        return f"0{national[:area]}-{national[area:]}" + (f"-{extension}" if extension else "")
    return None


def validate_phone(v: str, field: str = "phone") -> str:
    """Validate and normalize a Chinese mobile or landline number (phonenumbers' CN metadata).

    Mobile: spaces, dashes and a ``+86`` prefix allowed -> ``13812345678``; a segment that is not
    allocated (e.g. ``128``) is refused. Landline with area code and a local number of the length
    used there, optional extension -> ``010-12345678`` or ``021-87654321-123``.

    Raises:
        ValidationError: reason ``required`` or ``phone_format``.
    """
    raw = (v or "").strip()
    if not raw:
        raise _fail(field, "required", "不能为空")
    compact = re.sub(r"[\s\u3000]", "", raw).translate(_PHONE_PUNCT)
    number, extension = _parse_cn(compact), None
    if number is None and (m := _EXTENSION.fullmatch(compact)):
        number, extension = _parse_cn(m.group(1)), m.group(2)
    if number is not None:
        normalized = _normalized_phone(number, extension or number.extension)
        if normalized:
            return normalized
    raise _fail(
        field, "phone_format", "格式错误：应为11位手机号或带区号的固定电话（如010-12345678）"
    )


_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}"
)


def validate_email(v: str, field: str = "email") -> str:
    """Validate an e-mail address; returns it stripped with the domain lower-cased.

    Raises:
        ValidationError: reason ``required`` or ``email_format``.
    """
    s = (v or "").strip()
    if not s:
        raise _fail(field, "required", "不能为空")
    if not _EMAIL.fullmatch(s) or ".." in s:
        raise _fail(field, "email_format", "格式错误")
    local, domain = s.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def validate_date(
    v: str | date,
    field: str,
    *,
    earliest: date | None = None,
    latest: date | None = None,
) -> date:
    """Validate a date given as a ``date`` or a ``YYYY-MM-DD`` string.

    Args:
        v: The value.
        field: Field name reported in errors.
        earliest: Optional lower bound (inclusive).
        latest: Optional upper bound (inclusive).

    Raises:
        ValidationError: reason ``required``, ``date_format`` or ``date_range``.
    """
    if isinstance(v, datetime):
        d = v.date()
    elif isinstance(v, date):
        d = v
    else:
        s = (v or "").strip()
        if not s:
            raise _fail(field, "required", "不能为空")
        if not _ISO_DATE.fullmatch(s):
            raise _fail(field, "date_format", f"格式错误：应为YYYY-MM-DD，实际为“{s}”")
        try:
            d = date.fromisoformat(s)
        except ValueError as e:
            raise _fail(field, "date_format", f"不是有效日期：“{s}”") from e
    if earliest and d < earliest:
        raise _fail(field, "date_range", f"不能早于{earliest.isoformat()}")
    if latest and d > latest:
        raise _fail(field, "date_range", f"不能晚于{latest.isoformat()}")
    return d
