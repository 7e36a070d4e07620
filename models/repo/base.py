"""What every repository module shares: one savepoint per call, and audit snapshots."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.validation import mask_id_number


@contextmanager
def atomic(session: Session) -> Iterator[None]:
    """Run writes in a savepoint: on any error they are undone, earlier work is kept."""
    savepoint = session.begin_nested()
    try:
        yield
        session.flush()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    else:
        savepoint.commit()


def dialect(session: Session | Connection) -> str:
    """The SQL dialect's name of the session's connection (``sqlite``, ``postgresql``)."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    return bind.dialect.name


#: What :func:`by_index` sets for its statements (PostgreSQL, ``SET LOCAL``).
_BY_INDEX = {"enable_bitmapscan": "off", "enable_seqscan": "off",
             "plan_cache_mode": "force_custom_plan"}  # fmt: skip
_READ_SETTINGS = sa.text("SELECT " + ", ".join(f"current_setting('{n}')" for n in _BY_INDEX))
_SET_SETTINGS = sa.text("SELECT " + ", ".join(f"set_config('{n}', :{n}, true)" for n in _BY_INDEX))


@contextmanager
def by_index(session: Session | Connection) -> Iterator[None]:
    """Plan the look-ups inside for their own values and through B-tree indexes: batch
    look-ups by a uniquely indexed column or a foreign key (``column IN (500 values)``) in a
    transaction that may be filling the table (an import). PostgreSQL only (elsewhere nothing
    changes); the settings are ``SET LOCAL`` and put back afterwards, also when the block
    raises (a statement that fails inside leaves them to the rollback that follows).

    Why (issue 17, docs/benchmarks.md "Customer import"), as ``auto_explain`` showed inside an
    import: the trigram GIN indexes of migration 0016 also serve ``=`` (pg_trgm 1.6) and, with
    the GIN statistics of the table before the import, the planner took ``ix_customer_trgm_code``
    for ``code IN (500 codes)``; every code shares most trigrams, so that read 179,000 buffers,
    9.4 s, among 10,000 customers (a GIN index is only read by bitmap scans). psycopg prepares
    a statement run five times, and PostgreSQL's generic plan, made while the table was small,
    scanned every customer against 500 parameters (0.2-0.5 s at 7,000-9,500, growing with
    the table: the import was quadratic); a custom plan sees the values and the table's size. And
    a table without statistics (``customer_gram`` filled by the import) gets a default
    selectivity of 0.5% per value, so 500 customer ids looked "all rows": a sequential scan.
    """
    if dialect(session) != "postgresql":
        yield
        return
    before = dict(zip(_BY_INDEX, session.execute(_READ_SETTINGS).one(), strict=True))
    session.execute(_SET_SETTINGS, _BY_INDEX)
    aborted = False
    try:
        yield
    except sa.exc.DBAPIError:
        aborted = True  # the transaction (or savepoint) is rolled back, and SET LOCAL with it
        raise
    finally:
        if not aborted:  # also when the block raises an error of its own (a conflict found)
            session.execute(_SET_SETTINGS, before)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):  # money (元): exact, as text
        return str(value)
    return value


def _audit_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "id_number":
        return mask_id_number(str(value))
    if name == "ocr_text":
        return f"<{len(str(value))} characters>"
    if name == "fields" and isinstance(value, Mapping):
        return {"keys": sorted(value)}
    return _json_value(value)


def _field_plain(name: str, raw: Any) -> Any:
    value = raw.get("value") if isinstance(raw, Mapping) else raw
    if value is not None and (name == "id_number" or name.endswith("_id_number")):
        return mask_id_number(str(value))
    return _json_value(value)


def field_changes(old: Any, new: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The extracted fields whose value changed, as ``(before, after)`` audit values.

    ``{"name": value}`` on each side (a field absent on one side is None there), ID numbers
    masked as everywhere in the trail; bookkeeping keys (``_...``) are left out. None when no
    value changed (only doubts or confidences did): the trail then keeps the field names.
    """
    olds = old if isinstance(old, Mapping) else {}
    news = new if isinstance(new, Mapping) else {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in dict.fromkeys([*olds, *news]):
        if str(name).startswith("_"):
            continue
        was, now = _field_plain(name, olds.get(name)), _field_plain(name, news.get(name))
        if was != now:
            before[name], after[name] = was, now
    return (before, after) if after else None


def snapshot(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    """The named attributes of ``obj`` as audit values: ID numbers masked, OCR text summarized."""
    return {name: _audit_value(name, getattr(obj, name)) for name in names}


def lock_row(session: Session, model: Any, row_id: int) -> Any:
    """Lock one row for the rest of the transaction and return it fresh (``FOR UPDATE``).

    On PostgreSQL concurrent writers of the same row queue here; SQLite serializes writers
    already (``BEGIN IMMEDIATE``, see ``models.db``), where this is a plain refresh.
    """
    from sqlmodel import select

    query = select(model).where(model.id == row_id).with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).one()
