"""Expiry events for notifications: a license, ID or contract ending within a notice threshold.

The expiry rule is the integrity check's (:func:`archive.customer_documents.expiry_items`: the
same fields, statuses and China calendar day). Each document produces at most one event at a
time: for the smallest threshold (30, 7, 0 days by default) its days left have reached. The
event key names the document, its end date and that threshold, so each threshold is announced
once, and a renewed document (another end date) starts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from archive.customer_documents import expiry_items
from archive.integrity import ACTIVE_STATUSES, EXPIRY_FIELDS
from config.clock import CHINA_TZ
from models.customer import Customer
from models.db import utcnow
from models.document import Document


@dataclass(frozen=True)
class ExpiryEvent:
    """One document reaching one notice threshold."""

    key: str
    document_id: int
    document_type: str
    valid_until: str
    days_left: int  # negative: expired that many days ago
    threshold: int
    customer_code: str | None
    customer_name: str | None

    def as_dict(self) -> dict[str, object]:
        return {"event": "document_expiry", **self.__dict__}


def expiry_events(
    session: Session, *, thresholds: list[int], now: datetime | None = None
) -> list[ExpiryEvent]:
    """The current expiry events, soonest first."""
    if not thresholds:
        return []
    now = now or utcnow()
    today = now.astimezone(CHINA_TZ).date()
    documents = session.exec(
        select(Document).where(
            col(Document.document_type).in_(list(EXPIRY_FIELDS)),
            col(Document.status).in_(list(ACTIVE_STATUSES)),
        )
    ).all()
    events = []
    for item in expiry_items(documents, warning_days=max(thresholds), now=now):
        days_left = (date.fromisoformat(item.valid_until) - today).days
        reached = [t for t in sorted(thresholds) if days_left <= t]
        if not reached:
            continue
        doc = item.document
        customer = session.get(Customer, doc.customer_id) if doc.customer_id else None
        events.append(
            ExpiryEvent(
                key=f"expiry:{doc.id}:{item.valid_until}:{reached[0]}",
                document_id=doc.id or 0,
                document_type=doc.document_type,
                valid_until=item.valid_until,
                days_left=days_left,
                threshold=reached[0],
                customer_code=customer.code if customer else None,
                customer_name=customer.name if customer else None,
            )
        )
    return events


__all__ = ["ExpiryEvent", "expiry_events"]
