"""How the web shows money, dates and times: the one home of the Jinja filters.

``money`` (``500,000.00 元``), ``ymd`` (``YYYY-MM-DD``) and ``local_time`` (China time,
``YYYY-MM-DD HH:MM``) are registered on the template environment by :func:`install_filters`;
Python code that formats the same values (rows built in routes) calls the same functions.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import Environment

from config.clock import CHINA_TZ, local_time

DEFAULT_CURRENCY = "元"
_MONEY_TEXT = re.compile(r"^\s*(?P<number>-?[\d,]+(?:\.\d+)?)\s*(?P<unit>[^\d\s,.]*)\s*$")


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    match = _MONEY_TEXT.match(str(value))
    if not match:
        return None
    try:
        return Decimal(match.group("number").replace(",", ""))
    except InvalidOperation:
        return None


def money(value: Any, unit: str | None = None) -> str:
    """An amount with thousands separators, two decimals and its currency: ``500,000.00 元``.

    A value that is not a number (an unreadable OCR amount) is shown as it is.
    """
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    if unit is None and not isinstance(value, int | float | Decimal):
        unit = _MONEY_TEXT.match(str(value)).group("unit") or None  # type: ignore[union-attr]
    return f"{number:,.2f} {unit or DEFAULT_CURRENCY}"


def unmoney(text: str) -> str:
    """The inverse of :func:`money` for a typed amount: ``"600,000.00 元"`` -> ``"600000.00"``.

    Text that is not an amount is returned unchanged (validation happens elsewhere).
    """
    number = _decimal(text)
    return text if number is None else f"{number:f}"


def ymd(value: Any) -> str:
    """A date as ``YYYY-MM-DD`` (a datetime in China time); other text as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(CHINA_TZ).strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    text = str(value)
    try:
        return ymd(datetime.fromisoformat(text)) if "T" in text else ymd(date.fromisoformat(text))
    except ValueError:
        return text


FILTERS = {"money": money, "ymd": ymd, "local_time": local_time}


def install_filters(env: Environment) -> None:
    """Register the filters on a template environment (idempotent)."""
    if env.filters.get("money") is not money:
        env.filters.update(FILTERS)
