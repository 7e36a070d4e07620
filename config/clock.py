"""The one China time zone: customer codes, archive dates and the web's times use it.

China keeps UTC+8 all year (no daylight saving time since 1991), so a fixed offset is exact for
every date the archive holds and needs no time-zone database on the machine.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_date(moment: datetime | None = None) -> date:
    """The calendar date in China at ``moment`` (an aware datetime; now when None)."""
    return (moment or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ).date()
