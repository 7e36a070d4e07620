"""Derived customer fields: cooperation totals, value tier (价值层级) and level (issue 15).

- 累计合作金额, 首次合作时间 and 最近合作日期 follow from the records with a signed date
  (``models.cooperation.derive_totals``) unless they were set by hand
  (``Customer.manual_fields``); a field is set by hand when a person enters a value for it, and
  follows the records again when the value is cleared. A customer without signed records keeps
  whatever those fields hold.
- The value tier comes from the annual amount (signed in the last 365 days) with the thresholds
  ``settings.tier_high_min`` / ``tier_mid_min`` (default 500,000 / 100,000 元).
- With ``settings.level_follows_tier`` the level (客户等级) is the tier's level
  (``DEFAULT_TIER_LEVELS``) unless overridden by hand with a reason
  (:func:`archive.customers.edit_customer` with ``level_reason``).
- The annual amount moves with the calendar: :func:`refresh_customer` recomputes one customer
  (a nightly run over all customers keeps tiers current).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from config.clock import china_date
from config.settings import Settings
from models import repo
from models.cooperation import DERIVED_FIELDS, Cooperation, derive_totals
from models.customer import Customer
from models.customer_fields import DEFAULT_TIER_LEVELS, value_tier


def tier_thresholds(settings: Settings) -> tuple[tuple[str, Decimal], ...]:
    """The tiers, highest first, with the lowest annual amount (元) of each."""
    return (
        ("高价值", settings.tier_high_min),
        ("中价值", settings.tier_mid_min),
        ("普通", Decimal(0)),
    )


def tier_level(settings: Settings, tier: str | None) -> str | None:
    """The level a tier gives when the level follows the tier (else None)."""
    if not settings.level_follows_tier or tier is None:
        return None
    level = DEFAULT_TIER_LEVELS.get(tier)
    options = settings.taxonomy.options.get("level")
    return level if level and (not options or level in options) else None


def derived_values(
    session: Session,
    settings: Settings,
    customer: Customer,
    *,
    manual: set[str],
    level_reason: str | None,
    released: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The derived customer fields for ``customer`` given which fields are set by hand.

    ``released``: fields the person just cleared (they become None without signed records).
    """
    records = repo.list_cooperations(session, customer_id=customer.id)  # type: ignore[arg-type]
    return derived_from_records(
        settings, records, manual=manual, level_reason=level_reason, released=released
    )


def derived_from_records(
    settings: Settings,
    records: Iterable[Cooperation],
    *,
    manual: set[str],
    level_reason: str | None,
    released: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """:func:`derived_values` from a customer's records already read (a bulk import reads the
    records of many customers in one query)."""
    totals = derive_totals(records, today=china_date())
    tier = value_tier(totals.annual_amount, tier_thresholds(settings))
    out: dict[str, Any] = {
        "annual_amount": totals.annual_amount,
        "value_tier": tier,
        "manual_fields": sorted(manual),
        "level_reason": level_reason if "level" in manual else None,
    }
    for name in DERIVED_FIELDS:
        if name in manual:
            continue
        if totals.first_cooperation_date is not None:
            out[name] = getattr(totals, name)
        elif name in released:
            out[name] = None
    level = tier_level(settings, tier)
    if "level" not in manual and level is not None:
        out["level"] = level
    return out


def refresh_customer(
    session: Session,
    settings: Settings,
    customer: Customer,
    *,
    actor: str,
    detail: str | None = None,
    bump_version: bool = True,
    records_changed: bool = False,
) -> list[str]:
    """Recompute the derived fields of ``customer`` and write the changed ones (audited).

    ``records_changed``: a record was edited or removed, so totals not set by hand follow the
    records even when no signed record is left (they are cleared, not kept).

    Returns:
        The names of the fields that changed.
    """
    manual = set(customer.manual_fields or ())
    values = derived_values(
        session,
        settings,
        customer,
        manual=manual,
        level_reason=customer.level_reason,
        released=frozenset(DERIVED_FIELDS) - manual if records_changed else frozenset(),
    )
    return repo.set_customer_derived(
        session,
        customer=customer,
        values=values,
        actor=actor,
        detail=detail,
        bump_version=bump_version,
    )


def refresh_tiers(session: Session, settings: Settings, *, actor: str = "system") -> int:
    """Recompute every customer with cooperation records (the annual amount moves with the
    calendar); returns how many changed. Each change is audited and bumps the version."""
    ids = session.exec(select(Cooperation.customer_id).distinct()).all()
    changed = 0
    for customer_id in sorted(ids):
        customer = session.get(Customer, customer_id)
        if customer is not None and refresh_customer(
            session, settings, customer, actor=actor, detail="定期重算价值层级"
        ):
            changed += 1
    return changed
