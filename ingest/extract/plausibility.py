"""Plausibility rules per field (placeholder, filled below)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from ingest.fields import Field


def implausible(
    document_type: str, name: str, f: Field, fields: Mapping[str, Field], *, today: date
) -> list[str]:
    return []
