"""The logical dump: every row as JSON lines, for a PostgreSQL server without ``pg_dump``.

Rows are read in one REPEATABLE READ transaction (one consistent state), table by table in
foreign-key order and primary-key order, into a gzip file; dates, times, amounts and bytes are
tagged so they come back as the same Python values. Loading needs the schema at the dump's
revision (``dossier init`` of the same version) and empty tables; serial counters are moved past
the loaded ids.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SKIP = ("alembic_version",)
TAG = "__dossier__"
BATCH = 1000


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, bytes | memoryview):
        return {TAG: "bytes", "v": base64.b64encode(bytes(value)).decode()}
    return value


_DECODERS = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "decimal": Decimal,
    "bytes": base64.b64decode,
}


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and value.keys() == {TAG, "v"}:
        return _DECODERS[value[TAG]](value["v"])
    return value


def _tables(connection: Connection) -> list[sa.Table]:
    meta = sa.MetaData()
    meta.reflect(bind=connection)
    return [t for t in meta.sorted_tables if t.name not in SKIP]


def dump(connection: Connection, target: Path) -> None:
    """Write every row the ``connection``'s transaction sees to ``target`` (gzip JSON lines)."""
    with gzip.open(target, "wt", encoding="utf-8") as out:
        for table in _tables(connection):
            order = list(table.primary_key.columns) or list(table.columns)
            result = connection.execution_options(yield_per=BATCH).execute(
                sa.select(table).order_by(*order)
            )
            for row in result.mappings():
                line = {"t": table.name, "r": {k: _encode(v) for k, v in row.items()}}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _flush(connection: Connection, tables: dict[str, sa.Table], name: str, rows: list) -> None:  # type: ignore[type-arg]
    if rows:
        connection.execute(sa.insert(tables[name]), rows)
        rows.clear()


def _reset_serials(connection: Connection, tables: dict[str, sa.Table]) -> None:
    if connection.dialect.name != "postgresql":
        return
    for name, table in tables.items():
        if "id" not in table.c or not isinstance(table.c.id.type, sa.Integer):
            continue
        connection.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence(:t, 'id'), COALESCE(MAX(id), 0) + 1, false) "
                f"FROM {connection.dialect.identifier_preparer.quote(name)} "
                "WHERE pg_get_serial_sequence(:t, 'id') IS NOT NULL"
            ),
            {"t": name},
        )


def load(engine: Engine, source: Path) -> None:
    """Insert the rows of a :func:`dump` into the (migrated, empty) database, in one transaction."""
    with engine.begin() as connection:
        tables = {t.name: t for t in _tables(connection)}
        current, batch = None, []
        with gzip.open(source, "rt", encoding="utf-8") as lines:
            for line in lines:
                item = json.loads(line)
                if item["t"] != current or len(batch) >= BATCH:
                    _flush(connection, tables, current, batch)  # type: ignore[arg-type]
                    current = item["t"]
                batch.append({k: _decode(v) for k, v in item["r"].items()})
        if current is not None:
            _flush(connection, tables, current, batch)
        _reset_serials(connection, tables)
