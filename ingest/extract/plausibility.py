"""Plausibility rules per field: does a read value look like what the field holds?

Each rule returns reason codes (Chinese labels in config/taxonomy.toml ``[review_reasons]``):

* ``person_name_implausible``: a person's name with digits, Latin letters or punctuation, or
  not 2 to 6 Chinese characters (a minority name with ``·`` may be longer);
* ``org_name_implausible``: an organization's name without the ending such names have (公司,
  厂, 店, 中心, 银行, 公安局, ...), or with digits glued to its end;
* ``date_implausible``: a birth date before 1900 or in the future; an issue, founding or
  signing date before 1949 or after today; an end date before its start; an ID card's validity
  that is not 5, 10 or 20 years to the day;
* ``amount_implausible``: an amount of zero or above a trillion; a contract whose figures
  and 大写 (capital numerals) disagree;
* ``address_implausible``: an address without any place word (省, 市, 区, 路, 号, ...) or with
  a date in it;
* ``code_format``: an approval number, serial or account number outside the printed format;
* ``option_unknown``: an ethnicity that is none of the 56, a value outside its option list;
* ``same_party``: a contract whose party A and party B read the same;
* on every value: ``rare_character`` (a traditional or rare character outside GB 2312, as OCR
  reads 號 for 号), ``unbalanced_brackets`` (a value cut inside its brackets);
  ``ocr_confusable`` on an e-mail domain with a digit between letters (examp1e.com).

:func:`well_formed` tells whether a value's own form shows where it ends (an address ending in
号, 室, ...; an organization's name ending in 公司, ...): a cut that leaves such a value is a
note, not a doubt (:mod:`.confidence`).

:func:`confirmed` tells which values an independent check already vouches for (a valid check
digit, a member of a closed list, a birth date the ID number repeats): their OCR score is not
held against them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date

from ingest.fields import LONG_TERM, Field, chinese_amount, compact, parse_amount
from models.validation import id_birth_date, id_number_is_valid

PERSON_NAMES = frozenset({"legal_representative", "contact_person", "submitted_by"})
#: (document type, field) pairs holding a person's name beyond :data:`PERSON_NAMES`.
PERSON_NAMES_OF = frozenset({("id_card", "name")})
ORG_NAMES_OF = frozenset(
    {
        ("business_license", "name"),
        ("bank_permit", "depositor_name"),
        ("contract", "party_a"),
        ("contract", "party_b"),
        ("id_card", "issuing_authority"),
        ("bank_permit", "bank_name"),
    }
)
_ORG_ENDINGS = re.compile(
    r"(公司|厂|店|社|所|中心|部|行|院|会|馆|站|场|处|室|局|队|园|坊|堂|铺|庄|城|校|集团|"
    r"企业|合伙\)?|\(普通合伙\)|\(有限合伙\)|分局|厅|委员会|办公室|政府|医院|学校|大学)$"
)
_PERSON = re.compile(r"[\u4e00-\u9fff]{2,6}|[\u4e00-\u9fff]{1,8}(·[\u4e00-\u9fff]{1,8}){1,3}")
_PLACE_WORDS = re.compile(r"[省市区县镇乡村路街道巷弄号楼室栋层幢座组]")
#: How addresses end: a place word, a number or a letter (``…号``, ``…3栋2单元501``, ``…A座``).
_ADDRESS_END = re.compile(
    r"[号室楼层栋幢座区村组弄院园厦场店铺位门段街路道巷内房户城苑湾站港镇乡庄里坊屯心馆所部处口"
    r"旁侧元舍墅厂0-9A-Za-z)]$"
)
#: How an address ends when its end is certain: a house number, room, floor, building, block.
_FIRM_ADDRESS_END = re.compile(r"[号室层楼座栋幢]$")
_DATE_INSIDE = re.compile(r"(19|20)\d{2}年\d{1,2}月|(19|20)\d{2}[-./]\d{1,2}[-./]\d{1,2}")
#: Printed formats of codes (compact, upper case).
CODE_FORMATS = {
    "approval_number": re.compile(r"[A-Z]\d{13}"),
    "serial_number": re.compile(r"\d{4}-\d{6,10}"),
    "account_number": re.compile(r"\d{8,30}"),
}
ETHNICITIES = frozenset(
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 "
    "拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 "
    "塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 "
    "基诺".split()
)
START_DATES = frozenset(
    {
        "established_date",
        "term_start",
        "issue_date",
        "signed_date",
        "filled_date",
        "valid_from",
        "effective_date",
    }
)
#: End date -> the start date it must follow.
END_DATES = {"term_end": "term_start", "valid_to": "valid_from", "expiry_date": "effective_date"}
EARLIEST = date(1949, 10, 1)
#: An ID card is valid for 5, 10 or 20 years (or long term).
ID_CARD_YEARS = (5, 10, 20)
MAX_AMOUNT = 10**12


def _iso(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and value != LONG_TERM else None
    except ValueError:
        return None


def _person_name(value: str) -> list[str]:
    return [] if _PERSON.fullmatch(compact(value)) else ["person_name_implausible"]


def _org_name(value: str) -> list[str]:
    v = compact(value).translate(str.maketrans("（）", "()"))
    if len(v) < 4 or not _ORG_ENDINGS.search(v) or re.search(r"\d{3,}", v):
        return ["org_name_implausible"]
    return []


def _address(value: str) -> list[str]:
    v = compact(value)
    if len(v) < 6 or not _PLACE_WORDS.search(v) or _DATE_INSIDE.search(v):
        return ["address_implausible"]
    if not _ADDRESS_END.search(v.translate(str.maketrans("）", ")"))):
        return ["address_implausible"]
    return []


def _start_date(name: str, value: str, today: date) -> list[str]:
    d = _iso(value)
    if d is None:
        return []
    earliest = date(1900, 1, 1) if name == "birth_date" else EARLIEST
    return [] if earliest <= d <= today else ["date_implausible"]


def _end_date(name: str, f: Field, fields: Mapping[str, Field], document_type: str) -> list[str]:
    start_field = fields.get(END_DATES[name])
    start, end = _iso(start_field.value if start_field else None), _iso(f.value)
    if start is None or end is None:
        return []
    if end <= start or end.year - start.year > 100:
        return ["date_implausible"]
    if document_type == "id_card" and not any(
        (end.year - start.year, end.month, end.day) == (years, start.month, start.day)
        for years in ID_CARD_YEARS
    ):
        return ["date_implausible"]
    return []


def _amount(document_type: str, f: Field) -> list[str]:
    parsed = parse_amount(f.raw or "") if f.raw else None
    try:
        number = float(f.value or "")
    except ValueError:
        return []
    if not 0 < number <= MAX_AMOUNT:
        return ["amount_implausible"]
    if parsed is not None and f.raw:
        capital = re.search(r"[零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整圆]{3,}", compact(f.raw))
        spelled = chinese_amount(capital.group(0)) if capital else None
        if spelled is not None and spelled != parsed[0]:
            return ["amount_implausible"]
    return []


def _code(name: str, value: str) -> list[str]:
    pattern = CODE_FORMATS.get(name)
    return [] if pattern is None or pattern.fullmatch(compact(value).upper()) else ["code_format"]


def _rule(document_type: str, name: str) -> Callable[..., list[str]] | None:
    """The value rule of one field (None: no rule beyond the common ones)."""
    if name in PERSON_NAMES or (document_type, name) in PERSON_NAMES_OF:
        return lambda f, **_: _person_name(f.value)
    if (document_type, name) in ORG_NAMES_OF or name == "customer_name":
        return lambda f, fields, **_: (
            _org_name(f.value) if name != "customer_name" or _is_company(fields) else []
        )
    if name == "address":
        return lambda f, **_: _address(f.value)
    if name == "birth_date" or name in START_DATES:
        return lambda f, today, **_: _start_date(name, f.value, today)
    if name in END_DATES:
        return lambda f, fields, **_: _end_date(name, f, fields, document_type)
    if name in ("registered_capital", "amount"):
        return lambda f, **_: _amount(document_type, f)
    if name in CODE_FORMATS:
        return lambda f, **_: _code(name, f.value)
    if name == "ethnicity":
        return lambda f, **_: (
            [] if compact(f.value).removesuffix("族") in ETHNICITIES else ["option_unknown"]
        )
    return None


def _email(value: str) -> list[str]:
    domain = value.rpartition("@")[2]
    return ["ocr_confusable"] if re.search(r"[a-z][01][a-z]", domain, re.I) else []


def _common(value: str) -> list[str]:
    """Rules for every value: rare characters, brackets that do not pair."""
    found = []
    for ch in value:
        if "\u4e00" <= ch <= "\u9fff":
            try:
                ch.encode("gb2312")
            except UnicodeEncodeError:
                found.append("rare_character")
                break
    v = unicodedata.normalize("NFKC", value)
    if v.count("(") != v.count(")"):
        found.append("unbalanced_brackets")
    return found


def confirmed(document_type: str, name: str, f: Field, fields: Mapping[str, Field]) -> bool:
    """Whether an independent check vouches for the value (its OCR score then counts less):
    a code that passed its check digit, a member of a closed list, a birth date the valid ID
    number repeats."""
    value = compact(str(f.value or ""))
    if not value or f.reasons:
        return False
    if name in ("uscc", "id_number"):
        return True  # without a reason it passed its check digit
    if name == "gender":
        return value in ("男", "女")
    if name == "ethnicity":
        return value.removesuffix("族") in ETHNICITIES
    if name == "birth_date":
        number = fields.get("id_number")
        return bool(
            number
            and number.value
            and not number.reasons
            and id_number_is_valid(number.value)
            and id_birth_date(number.value).isoformat() == value
        )
    return False


def well_formed(
    document_type: str, name: str, value: str | None, fields: Mapping[str, Field]
) -> bool:
    """Whether a value's own form shows where it ends: an address (without other doubt) ending
    in 号, 室, 层, 楼, 座, 栋 or 幢; an organization's name ending as such names do. Other
    fields have no such form (False)."""
    v = compact(value or "")
    if not v:
        return False
    if name == "address":
        return not _address(v) and bool(_FIRM_ADDRESS_END.search(v))
    if (document_type, name) in ORG_NAMES_OF or (name == "customer_name" and _is_company(fields)):
        return not _org_name(v)
    return False


def _is_company(fields: Mapping[str, Field]) -> bool:
    kind = fields.get("customer_type")
    return kind is None or kind.value != "个人客户"


def implausible(
    document_type: str, name: str, f: Field, fields: Mapping[str, Field], *, today: date
) -> list[str]:
    """The plausibility reasons of one read field (empty when it looks right)."""
    if f.value is None or not str(f.value).strip():
        return []
    rule = _rule(document_type, name)
    found = rule(f, fields=fields, today=today) if rule else []
    found += _common(str(f.value))
    if name == "email":
        found += _email(str(f.value))
    if document_type == "contract" and name == "party_b":
        a = fields.get("party_a")
        if a is not None and a.value and compact(a.value) == compact(f.value):
            found.append("same_party")
    return found
