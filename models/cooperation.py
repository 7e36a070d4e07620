"""Cooperation records (合作记录) and what follows from them (issue 15, item 3).

A record: contract number, name, signed, effective and expiry dates, amount (元, exact
decimal), payment terms and status (taxonomy ``[options] cooperation_status``). A record with
a signed date counts: the customer's 累计合作金额 is the sum of their amounts, 首次合作时间 and
最近合作日期 the first and latest signed dates - unless those fields were set by hand
(``Customer.manual_fields``). The annual amount (signed in the 365 days up to today) gives the
value tier (价值层级), see :func:`derive_totals`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from config.taxonomy import Taxonomy, load_taxonomy
from models.contact import clean_text
from models.customer_fields import validate_money
from models.db import UTCDateTime, utcnow
from models.validation import ValidationError, validate_date, validate_option


class Cooperation(SQLModel, table=True):
    """One contract or order with a customer."""

    __tablename__ = "customer_cooperation"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    contract_no: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=200)
    signed_date: date | None = None
    effective_date: date | None = None
    expiry_date: date | None = None
    amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(14, 2))
    payment_terms: str | None = Field(default=None, max_length=200)
    status: str | None = Field(default=None, max_length=32)
    created_by: str = Field(max_length=64)
    updated_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


COOPERATION_LABELS = {
    "contract_no": "合同编号",
    "name": "合同名称",
    "signed_date": "签订日期",
    "effective_date": "生效日期",
    "expiry_date": "到期日期",
    "amount": "合同金额",
    "payment_terms": "付款方式",
    "status": "合作状态",
}
COOPERATION_FIELDS = tuple(COOPERATION_LABELS)
_DATES = ("signed_date", "effective_date", "expiry_date")
#: Customer fields that follow from cooperation records unless set by hand.
DERIVED_FIELDS = ("cumulative_amount", "first_cooperation_date", "latest_cooperation_date")


def cooperation_fail(field: str, reason: str, what: str) -> ValidationError:
    """An error naming the cooperation field (Chinese label) and the rule."""
    return ValidationError(
        f"{COOPERATION_LABELS.get(field, field)}：{what}", field=field, reason=reason
    )


def _date(name: str, value: Any) -> date:
    text = value if isinstance(value, date) else unicodedata.normalize("NFKC", str(value)).strip()
    try:
        return validate_date(text, name, earliest=date(1900, 1, 1), latest=date(2100, 12, 31))
    except ValidationError as e:
        rule = "须为1900-01-01到2100-12-31之间的日期（YYYY-MM-DD）"
        raise cooperation_fail(name, e.reason, rule) from e


def validate_cooperation_values(
    values: Mapping[str, Any], *, taxonomy: Taxonomy | None = None, partial: bool = False
) -> dict[str, Any]:
    """Clean and check cooperation values (``partial``: an edit, the name not required).

    Raises:
        ValidationError: Naming the first field that is unknown, missing or wrong.
    """
    taxonomy = taxonomy or load_taxonomy()
    unknown = sorted(set(values) - set(COOPERATION_FIELDS))
    if unknown:
        raise ValidationError(
            f"{unknown[0]}：不是合作记录的字段", field=unknown[0], reason="unknown_field"
        )
    out = {k: clean_text(v) for k, v in values.items()}
    if (not partial or "name" in out) and out.get("name") is None:
        raise cooperation_fail("name", "required", "不能为空")
    for name in _DATES:
        if out.get(name) is not None:
            out[name] = _date(name, out[name])
    if out.get("amount") is not None:
        try:
            out["amount"] = validate_money(out["amount"], "amount")
        except ValidationError as e:
            rule = "须为不小于0的金额（元），最多两位小数"
            raise cooperation_fail("amount", e.reason, rule) from e
    options = taxonomy.options.get("cooperation_status")
    if out.get("status") is not None and options:
        try:
            out["status"] = validate_option("status", out["status"], options)
        except ValidationError as e:
            raise cooperation_fail(
                "status", "option_unknown", f"选项“{out['status']}”无效，可选：{'、'.join(options)}"
            ) from e
    return out


def check_cooperation_order(values: Mapping[str, Any]) -> None:
    """生效日期 not before 签订日期 is allowed; 到期日期 must not be before 生效日期 or 签订日期."""
    expiry = values.get("expiry_date")
    for name in ("effective_date", "signed_date"):
        start = values.get(name)
        if expiry and start and expiry < start:
            label = COOPERATION_LABELS[name]
            raise cooperation_fail("expiry_date", "date_order", f"不能早于{label}")


@dataclass(frozen=True)
class Totals:
    """What a customer's cooperation records add up to."""

    cumulative_amount: Decimal | None
    first_cooperation_date: date | None
    latest_cooperation_date: date | None
    annual_amount: Decimal | None


def derive_totals(records: Iterable[Cooperation], *, today: date) -> Totals:
    """Totals over the records with a signed date; all None when there are none.

    The annual amount sums the records signed in the 365 days up to ``today``.
    """
    signed = [r for r in records if r.signed_date is not None]
    if not signed:
        return Totals(None, None, None, None)
    dates = [r.signed_date for r in signed if r.signed_date is not None]
    since = today - timedelta(days=365)
    return Totals(
        cumulative_amount=sum((r.amount or Decimal(0) for r in signed), Decimal("0.00")),
        first_cooperation_date=min(dates),
        latest_cooperation_date=max(dates),
        annual_amount=sum(
            (r.amount or Decimal(0) for r in signed if since < (r.signed_date or since) <= today),
            Decimal("0.00"),
        ),
    )
