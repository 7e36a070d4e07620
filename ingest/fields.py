"""Small pure helpers shared by classification and extraction.

OCR text normalization, dates, amounts, names, OCR-confusion correction of check-digit codes,
expiry reasons and the :class:`Field` value object. No I/O, no settings.
"""

from __future__ import annotations

import itertools
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from config.errors import ConfigurationError
from config.taxonomy import DEFAULT_UNDERSTANDING_FILE

LONG_TERM = "长期"
LONG_TERM_WORDS = ("长期", "永久", "无固定期限", "不约定期限")


@dataclass(frozen=True)
class Field:
    """One extracted field.

    Attributes:
        value: Normalized value (dates ``YYYY-MM-DD`` or ``"长期"``, amounts as a decimal string
            with ``unit`` set), or None when the field was not found.
        confidence: 0..1; low values go to review.
        page: 1-based page the value was read from.
        reasons: Stable codes saying why the value is doubtful (``"missing"``,
            ``"uscc_check_digit"``, ``"uscc_corrected"``, ``"expired"``...). Empty when fine.
        unit: Unit of an amount (``"元"``, ``"美元"``...), else None.
        raw: The OCR text the value came from (may contain personal data; never log it).
    """

    value: str | None
    confidence: float
    page: int = 1
    reasons: list[str] = field(default_factory=list)
    unit: str | None = None
    raw: str | None = None

    @property
    def doubtful(self) -> bool:
        """Whether a reviewer should look at this field."""
        return bool(self.reasons)


@cache
def load_understanding(path: Path | None = None) -> dict:
    """Read the understanding rules (classification and extraction) from a TOML file.

    Args:
        path: The file; defaults to ``config/understanding.toml``. Cached per path.

    Raises:
        ConfigurationError: When the file cannot be read or parsed.
    """
    source = Path(path) if path else DEFAULT_UNDERSTANDING_FILE
    try:
        with source.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigurationError(f"无法读取文档识别规则文件 {source}: {e}") from e


# --- text normalization ------------------------------------------------------------------------

_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")


def compact(text: str) -> str:
    """NFKC-normalize (full-width -> half-width) and remove all whitespace and NULs."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or "").replace("\x00", ""))


# Marks tesseract scatters over scans (table rules, speckles read as quotes); never content.
_OCR_NOISE = re.compile(r"[“”\"‘’`|©®™]")


def compact_lines(text: str) -> list[str]:
    """The non-empty lines of OCR text, each passed through :func:`compact`, without noise marks.

    Tesseract puts spaces between Chinese characters and splits words apart; removing all
    whitespace inside a line (and stray quotes and bars) is what makes labels and values
    matchable.
    """
    lines = (_OCR_NOISE.sub("", compact(line)) for line in (text or "").splitlines())
    return [line for line in lines if line]


_BRACKETS = str.maketrans({"【": "(", "】": ")", "〔": "(", "〕": ")", "[": "(", "]": ")"})


def normalize_name(text: str) -> str:
    """A name in the form used for matching: half-width, no spaces, round ASCII brackets.

    ``"北京某某（上海）科技 有限公司"`` and ``"北京某某(上海)科技有限公司"`` give the same result.
    """
    return compact(text).translate(_BRACKETS)


# --- dates ---------------------------------------------------------------------------------------

# Letters OCR produces for digits; applied only inside a date-shaped token.
_DIGIT_CONFUSIONS = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "I": "1",
        "l": "1",
        "L": "1",
        "|": "1",
        "Z": "2",
        "z": "2",
        "S": "5",
        "s": "5",
        "B": "8",
        "G": "6",
        "〇": "0",
    }
)
_DIGITISH = r"[0-9OoDQIlL|ZzSsBG]"
_DATE_PATTERNS = (
    # a speck read as a dot may follow 年 or 月 (2032年02月.05日)
    re.compile(rf"({_DIGITISH}{{4}})年[.,]?({_DIGITISH}{{1,2}})月[.,]?({_DIGITISH}{{1,2}})日?"),
    re.compile(
        rf"({_DIGITISH}{{4}})[.\-/_,]({_DIGITISH}{{1,2}})[.\-/_,]({_DIGITISH}{{1,2}})"
        r"(?![0-9])"
    ),
    re.compile(r"(?<![0-9])((?:19|20)\d{2})(\d{2})(\d{2})(?![0-9])"),
)
_CN_DIGITS = {
    "〇": 0,
    "零": 0,
    "○": 0,
    "O": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_DATE = re.compile(
    r"([〇零○一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月"
    r"([一二三四五六七八九十]{1,3})日"
)


def _cn_small_number(s: str) -> int:
    """十 -> 10, 十二 -> 12, 二十 -> 20, 二十一 -> 21, 三 -> 3."""
    if "十" not in s:
        return _CN_DIGITS[s]
    tens, _, ones = s.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _make_date(y: str, m: str, d: str) -> date | None:
    try:
        year, month, day = (int(p.translate(_DIGIT_CONFUSIONS)) for p in (y, m, d))
        if not 1900 <= year <= 2200:
            return None
        return date(year, month, day)
    except ValueError:
        return None


def _iter_dates(text: str) -> Iterator[tuple[int, date]]:
    s = compact(text)
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(s):
            d = _make_date(*m.groups())
            if d:
                yield m.start(), d
    for m in _CN_DATE.finditer(s):
        try:
            year = int("".join(str(_CN_DIGITS[c]) for c in m.group(1)))
            d = date(year, _cn_small_number(m.group(2)), _cn_small_number(m.group(3)))
        except (KeyError, ValueError):
            continue
        yield m.start(), d


def printed_date_span(text: str) -> tuple[int, int] | None:
    """Where the first written-out date (年月日, or with separators; not a bare digit run) is
    in ``text``, which must be compact already (see :func:`compact`); None without one."""
    spans = [
        m.span()
        for pattern in (*_DATE_PATTERNS[:2], _CN_DATE)
        for m in pattern.finditer(text)
        if (d := _span_date(pattern, m)) is not None and d.year >= 1950
    ]
    return min(spans) if spans else None


def _span_date(pattern: re.Pattern[str], m: re.Match[str]) -> date | None:
    if pattern is not _CN_DATE:
        return _make_date(*m.groups())
    try:
        year = int("".join(str(_CN_DIGITS[c]) for c in m.group(1)))
        return date(year, _cn_small_number(m.group(2)), _cn_small_number(m.group(3)))
    except (KeyError, ValueError):
        return None


def find_dates(text: str) -> list[date]:
    """All dates in ``text``, in reading order (see :func:`parse_date` for the forms)."""
    seen: dict[int, date] = {}
    for pos, d in _iter_dates(text):
        seen.setdefault(pos, d)
    return [seen[pos] for pos in sorted(seen)]


def parse_date(text: str) -> date | None:
    """The first date in ``text``, or None.

    Accepts 2015年03月12日, 2015年3月12日, 二〇一五年三月十二日, 2015.3.12, 2015-03-12,
    2015/03/12 and 20150312, with OCR spaces inside and common letter-for-digit confusions.
    """
    dates = find_dates(text)
    return dates[0] if dates else None


def is_long_term(text: str) -> bool:
    """Whether ``text`` says the term has no end (长期, 永久, 无固定期限)."""
    s = compact(text)
    return any(word in s for word in LONG_TERM_WORDS)


def expiry_reasons(end: date | str | None, *, today: date, warning_days: int) -> list[str]:
    """``["expired"]`` when ``end`` is before ``today``, ``["expiring"]`` within the window.

    Args:
        end: End of validity: a date, an ISO string, ``"长期"`` or None (no reasons).
        today: The reference day.
        warning_days: Size of the "expiring soon" window, in days.
    """
    if end is None or (isinstance(end, str) and (not end or is_long_term(end))):
        return []
    if isinstance(end, str):
        try:
            end = date.fromisoformat(end)
        except ValueError:
            return []
    if end < today:
        return ["expired"]
    if end <= today + timedelta(days=warning_days):
        return ["expiring"]
    return []


# --- amounts ------------------------------------------------------------------------------------

_CN_NUM = {
    "零": 0,
    "〇": 0,
    "壹": 1,
    "一": 1,
    "贰": 2,
    "贳": 2,
    "二": 2,
    "两": 2,
    "叁": 3,
    "参": 3,
    "三": 3,
    "肆": 4,
    "四": 4,
    "伍": 5,
    "五": 5,
    "陆": 6,
    "六": 6,
    "柒": 7,
    "七": 7,
    "捌": 8,
    "八": 8,
    "玖": 9,
    "九": 9,
}
_CN_UNIT = {"拾": 10, "十": 10, "佰": 100, "百": 100, "仟": 1000, "千": 1000}
_CN_SECTION = {"万": 10_000, "亿": 100_000_000}
_CN_FRACTION = {"角": Decimal("0.1"), "分": Decimal("0.01")}
# A numeral amount must say 元/圆: "百分之十" is not an amount.
_CN_AMOUNT = re.compile(
    r"[零〇壹一贰二两叁参三肆四伍五陆六柒七捌八玖九拾十佰百仟千万亿]+"
    r"(?:美元|港元|欧元|日元|[元圆])(?:[零〇壹一贰二两叁参三肆四伍五陆六柒七捌八玖九][角分])*"
    r"[整正]?"
)
_CURRENCIES = (
    ("美元", "美元"),
    ("港元", "港元"),
    ("港币", "港元"),
    ("欧元", "欧元"),
    ("日元", "日元"),
    ("元", "元"),
)
_ARABIC_AMOUNT = re.compile(
    r"(?<![0-9.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(亿|万)?(美元|港元|港币|欧元|日元|元)?"
)


def chinese_amount(text: str) -> Decimal | None:
    """Convert an amount in Chinese numerals (大写 or 小写) to a Decimal, or None."""
    total, section, number = Decimal(0), Decimal(0), Decimal(0)
    fraction = Decimal(0)
    seen_digit = False
    integer_done = False
    for ch in text:
        if ch in _CN_NUM:
            number, seen_digit = Decimal(_CN_NUM[ch]), True
        elif ch in _CN_UNIT and not integer_done:
            section += (number or Decimal(1)) * _CN_UNIT[ch]
            number, seen_digit = Decimal(0), True
        elif ch == "亿" and not integer_done:
            total = (total + section + number) * _CN_SECTION[ch]
            section, number = Decimal(0), Decimal(0)
        elif ch == "万" and not integer_done:
            total += (section + number) * _CN_SECTION[ch]
            section, number = Decimal(0), Decimal(0)
        elif ch in "美港欧日":
            continue
        elif ch in "元圆":
            integer_done = True
            total, section, number = total + section + number, Decimal(0), Decimal(0)
        elif ch in _CN_FRACTION:
            fraction += number * _CN_FRACTION[ch]
            number = Decimal(0)
        elif ch in "整正":
            continue
        else:
            return None
    if not seen_digit:
        return None
    return total + section + number + fraction


def _currency(suffix: str) -> str:
    for word, unit in _CURRENCIES:
        if word in suffix:
            return unit
    return "元"


def parse_amount(text: str) -> tuple[Decimal, str] | None:
    """Parse an amount to ``(number, unit)``: the number in whole currency units.

    ``"100万元"`` -> ``(Decimal("1000000"), "元")``; ``"人民币壹佰万元整"`` -> the same;
    ``"1,000,000.00元"`` -> ``(Decimal("1000000.00"), "元")``; ``"50万美元"`` ->
    ``(Decimal("500000"), "美元")``. Arabic digits win over 大写 when both are present.
    """
    s = compact(text).replace("人民币", "").replace("¥", "").replace("￥", "")
    m = _ARABIC_AMOUNT.search(s)
    if m:
        try:
            number = Decimal(m.group(1).replace(",", ""))
        except InvalidOperation:
            return None
        scale = {"万": 10_000, "亿": 100_000_000}.get(m.group(2) or "", 1)
        tail = s[m.end(2) if m.group(2) else m.end(1) :]
        return number * scale, _currency(m.group(3) or tail[:3])
    m = _CN_AMOUNT.search(s)
    if m:
        value = chinese_amount(m.group(0))
        if value is not None:
            return value, _currency(s[m.end() : m.end() + 3] or m.group(0))
    return None


def format_amount(value: Decimal) -> str:
    """A Decimal without exponent and without a useless fraction: ``1000000``, ``12.50``."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return f"{value:f}"


# --- OCR confusion correction ------------------------------------------------------------------

CONFUSION_GROUPS: tuple[str, ...] = ("0ODQ", "1IL", "2Z", "5S", "8B", "6G")
_ALTERNATIVES: dict[str, str] = {
    c: group.replace(c, "") for group in CONFUSION_GROUPS for c in group
}


def correct_code(
    candidate: str,
    validator: Callable[[str], bool],
    *,
    alphabet: str | None = None,
    max_changes: int = 1,
) -> tuple[str | None, bool]:
    """Repair a code misread by OCR, accepting a repair only when exactly one validates.

    Characters outside ``alphabet`` must be replaced by one of their confusion partners
    (0/O/D/Q, 1/I/L, 2/Z, 5/S, 8/B, 6/G); at most ``max_changes`` other characters may be
    swapped with a partner. When exactly one candidate passes ``validator`` it is returned;
    when none or several do, the result is ``(None, False)``: never guess.

    Args:
        candidate: The code as read (spaces are removed, letters upper-cased).
        validator: Returns True for a valid code.
        alphabet: Characters the code may contain; None means any.
        max_changes: Optional substitutions on top of the forced ones.

    Returns:
        ``(code, False)`` when the input is valid, ``(code, True)`` when corrected,
        ``(None, False)`` otherwise.
    """
    s = compact(candidate).upper()
    if validator(s):
        return s, False
    options: list[list[str]] = []
    optional_positions: list[int] = []
    for i, ch in enumerate(s):
        if alphabet is not None and ch not in alphabet:
            forced = [c for c in _ALTERNATIVES.get(ch, "") if c in alphabet]
            if not forced:
                return None, False
            options.append(forced)
        else:
            options.append([ch])
            if _ALTERNATIVES.get(ch):
                optional_positions.append(i)
    valid = {c for c in _candidates(options, optional_positions, max_changes) if validator(c)}
    if len(valid) == 1:
        return valid.pop(), True
    return None, False


def _candidates(
    options: list[list[str]], optional_positions: list[int], max_changes: int
) -> Iterator[str]:
    for base in itertools.product(*options):
        yield "".join(base)
        for n in range(1, max_changes + 1):
            for positions in itertools.combinations(optional_positions, n):
                alternatives = [_ALTERNATIVES[base[p]] for p in positions]
                for replacement in itertools.product(*alternatives):
                    chars = list(base)
                    for p, c in zip(positions, replacement, strict=True):
                        chars[p] = c
                    yield "".join(chars)
