"""The one China time zone: customer codes, archive dates and the web's times use it.

China keeps UTC+8 all year (no daylight saving time since 1991), so a fixed offset is exact for
every date the archive holds and needs no time-zone database on the machine.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_date(moment: datetime | None = None) -> date:
    """The calendar date in China at ``moment`` (an aware datetime; now when None)."""
    return (moment or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ).date()


def local_time(value: datetime | str | None) -> str:
    """A timestamp as people here read it: China time, ``YYYY-MM-DD HH:MM`` (naive is UTC)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def quiet_window(spec: str) -> tuple[time, time]:
    """``"HH:MM-HH:MM"`` as its start and end times (the window may span midnight).

    Raises:
        ValueError: Not two times joined by ``-``, or both the same.
    """
    try:
        start_text, end_text = spec.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError as e:
        raise ValueError("免打扰时段格式应为 HH:MM-HH:MM，如 22:00-08:00") from e
    if start == end:
        raise ValueError("免打扰时段的开始与结束不能相同")
    return start, end


def in_quiet_hours(spec: str | None, moment: datetime | None = None) -> bool:
    """Whether ``moment`` (now when None) falls in the quiet window ``spec``, in China time."""
    if not spec:
        return False
    start, end = quiet_window(spec)
    now = (moment or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ).time()
    if start < end:
        return start <= now < end
    return now >= start or now < end
