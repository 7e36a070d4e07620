"""A customer's dossier ZIP (issue 17, item 3) on SQLite and PostgreSQL: every archived PDF,
byte for byte, with a manifest; audited; refused for a customer the user may not see."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from sqlmodel import Session, select

from archive.errors import ChecksumMismatchError
from archive.exchange.dossier_zip import write_dossier
from archive.storage import LocalObjectStore
from archive.users import create_user
from config.settings import load_settings
from models.audit import AuditEvent
from models.repo import NotFoundError
from tests.integration.test_integrity import build_clean_archive


def test_dossier_zip_holds_every_archived_pdf(engine, tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    arc = build_clean_archive(engine, store)
    code = arc.customers["ent"].code
    out = tmp_path / "dossier.zip"
    with Session(engine) as session:
        admin = create_user(session, username="ada", password="secret-pw3", role="admin", actor="t")
        sales = create_user(session, username="sam", password="secret-pw4", role="sales", actor="t")
        manifest = write_dossier(session, load_settings(), store, admin, code, out)
        session.commit()
        with pytest.raises(NotFoundError):
            write_dossier(session, load_settings(), store, sales, code, tmp_path / "no.zip")
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "customer.dossier_export")
        ).one()
    assert event.actor == "ada" and event.entity_id == code and event.after["documents"] == 4
    expected = {d.pdf_sha256 for k, d in arc.docs.items() if not k.startswith("ind")}
    with zipfile.ZipFile(out) as z:
        pdfs = [n for n in z.namelist() if n.startswith("资料/")]
        assert {hashlib.sha256(z.read(n)).hexdigest() for n in pdfs} == expected
        listed = json.loads(z.read("manifest.json"))
        table = list(csv.reader(io.StringIO(z.read("清单.csv").decode("utf-8-sig"))))
    assert {d["sha256"] for d in listed["documents"]} == expected == set(manifest_sha(manifest))
    assert table[0][0] == "文件名" and len(table) == 5
    assert "营业执照" in {row[1] for row in table[1:]}
    assert not (tmp_path / "no.zip").exists()


def manifest_sha(manifest):  # type: ignore[no-untyped-def]
    return [d["sha256"] for d in manifest["documents"]]


def test_a_damaged_object_leaves_no_zip(engine, tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    arc = build_clean_archive(engine, store)
    doc = arc.docs["permit"]
    path = next(
        p for p in (tmp_path / "objects").rglob("*") if p.name == doc.pdf_key.rsplit("/", 1)[-1]
    )
    path.write_bytes(path.read_bytes() + b"tampered")
    out = tmp_path / "dossier.zip"
    with Session(engine) as session:
        admin = create_user(session, username="ada", password="secret-pw3", role="admin", actor="t")
        with pytest.raises(ChecksumMismatchError):
            write_dossier(session, load_settings(), store, admin, arc.customers["ent"].code, out)
    assert list(tmp_path.glob("*dossier.zip*")) == []
