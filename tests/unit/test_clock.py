"""The China time zone is defined once (config.clock) and every date in China comes from it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from config.clock import CHINA_TZ, china_date

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "models", "ingest", "archive", "app", "cli", "flows", "web")
DEFINITION = re.compile(r'ZoneInfo\(\s*"Asia/Shanghai"|timedelta\(\s*hours\s*=\s*8\s*\)')


def test_china_date_crosses_midnight_eight_hours_ahead_of_utc() -> None:
    assert china_date(datetime(2026, 5, 31, 15, 59, tzinfo=UTC)) == date(2026, 5, 31)
    assert china_date(datetime(2026, 5, 31, 16, 0, tzinfo=UTC)) == date(2026, 6, 1)
    assert datetime(2026, 1, 1, tzinfo=UTC).astimezone(CHINA_TZ).hour == 8


def test_china_date_defaults_to_now() -> None:
    assert china_date() == datetime.now(UTC).astimezone(CHINA_TZ).date()


def test_the_time_zone_is_defined_only_in_config_clock() -> None:
    definitions = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if DEFINITION.search(path.read_text(encoding="utf-8"))
    ]
    assert definitions == ["config/clock.py"]
