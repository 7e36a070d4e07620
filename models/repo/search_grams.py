"""Upkeep of ``customer_gram`` (``models.search_gram``): the one function that writes it.

Every repository function that writes a customer's name, contact person or a contact's name
(create, bulk create, update, contact add/change/remove, merge) calls
:func:`refresh_search_grams` for the customers it touched; migration 0018 and the benchmark's
seed fill it with :func:`fill_search_grams`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.repo.base import by_index, dialect
from models.search_gram import CustomerGram, search_grams

#: Customers per statement (keeps ``IN`` lists and inserts bounded).
CHUNK = 2000

_GRAM = CustomerGram.__table__  # type: ignore[attr-defined]
_CUSTOMER = sa.table("customer", sa.column("id"), sa.column("name_key"),
                     sa.column("contact_person"))  # fmt: skip
_CONTACT = sa.table("customer_contact", sa.column("customer_id"), sa.column("name"))
_INSERT_ARRAYS = sa.text(
    "INSERT INTO customer_gram (gram, customer_id) "
    "SELECT * FROM unnest(CAST(:grams AS VARCHAR[]), CAST(:ids AS INTEGER[]))"
)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _rows(connection: Connection | Session, ids: list[int]) -> list[dict[str, Any]]:
    """The gram rows of these customers from their current columns and contacts."""
    texts: dict[int, list[str | None]] = defaultdict(list)
    own = sa.select(_CUSTOMER.c.id, _CUSTOMER.c.name_key, _CUSTOMER.c.contact_person)
    for cid, name_key, person in connection.execute(own.where(_CUSTOMER.c.id.in_(ids))):
        texts[cid] += [name_key, person]
    contacts = sa.select(_CONTACT.c.customer_id, _CONTACT.c.name)
    for cid, name in connection.execute(contacts.where(_CONTACT.c.customer_id.in_(ids))):
        if cid in texts:
            texts[cid].append(name)
    return [
        {"gram": gram, "customer_id": cid}
        for cid, values in texts.items()
        for gram in sorted(search_grams(values))
    ]


def _insert(session: Session | Connection, rows: list[dict[str, Any]]) -> None:
    """Insert gram rows: on PostgreSQL as one statement over two arrays (a bulk import writes
    about twenty rows a customer; one INSERT a row, as ``executemany`` sends them, took twice
    as long: 17.7 s against 8.0 s in this function for 10,000 new customers, docs/benchmarks.md),
    elsewhere as ``executemany``."""
    if not rows:
        return
    if dialect(session) == "postgresql":
        columns = {"grams": [r["gram"] for r in rows], "ids": [r["customer_id"] for r in rows]}
        session.execute(_INSERT_ARRAYS, columns)
    else:
        session.execute(sa.insert(_GRAM), rows)


def refresh_search_grams(session: Session | Connection, customer_ids: Collection[int]) -> None:
    """Rewrite the grams of these customers from what is stored now (flush first: the ORM's
    pending changes are read back). A customer that no longer exists keeps none."""
    if isinstance(session, Session):
        session.flush()
    ids = sorted({int(i) for i in customer_ids if i is not None})
    with by_index(session):  # by customer id, also while an import grows the tables
        for chunk in _chunks(ids):
            session.execute(sa.delete(_GRAM).where(_GRAM.c.customer_id.in_(chunk)))
            _insert(session, _rows(session, chunk))


def fill_search_grams(connection: Connection) -> int:
    """Fill the grams of every customer (migration 0018, the benchmark's seed); returns the
    number of customers."""
    ids = [int(i) for i in connection.execute(sa.select(_CUSTOMER.c.id).order_by(_CUSTOMER.c.id))
           .scalars()]  # fmt: skip
    refresh_search_grams(connection, ids)
    return len(ids)
