"""A customer's dossier: one ZIP of every archived document, with a manifest, for a bank or an
auditor.

Each archived PDF is streamed from the store (verified against its recorded SHA-256) into
``资料/<file name>``; ``清单.csv`` (Chinese columns) and ``manifest.json`` list every file's
name, type, submission date, pages, size and SHA-256. Handing over a dossier is audited like an
export. The ZIP is written next to ``output`` and renamed into place when complete.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from sqlmodel import Session, col, select

from archive.customers import get_visible
from archive.errors import ChecksumMismatchError
from archive.storage import ObjectStore
from config.settings import Settings
from models import repo
from models.document import Document, DocumentStatus
from models.user import User

FOLDER = "资料"
CSV_HEADERS = ("文件名", "资料类型", "提交日期", "页数", "大小（字节）", "SHA-256", "资料编号")


def _archived(session: Session, customer_id: int) -> list[Document]:
    query = (
        select(Document)
        .where(
            col(Document.customer_id) == customer_id,
            col(Document.status) == DocumentStatus.ARCHIVED.value,
            col(Document.pdf_key).is_not(None),
        )
        .order_by(col(Document.document_type), col(Document.submitted_date), col(Document.id))
    )
    return list(session.exec(query).all())


def _unique_name(key: str, used: set[str]) -> str:
    name = PurePosixPath(key).name
    stem, suffix = os.path.splitext(name)
    n = 1
    while name in used:
        n += 1
        name = f"{stem}-{n}{suffix}"
    used.add(name)
    return name


def _add_pdf(zf: zipfile.ZipFile, store: ObjectStore, doc: Document, name: str) -> str:
    """Stream one PDF into the ZIP; returns the SHA-256 of the bytes written."""
    digest = hashlib.sha256()
    with store.open(doc.pdf_key, verify=True) as src, zf.open(f"{FOLDER}/{name}", "w") as dst:  # type: ignore[arg-type]
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    actual = digest.hexdigest()
    if doc.pdf_sha256 and actual != doc.pdf_sha256:
        raise ChecksumMismatchError(f"资料 #{doc.id} 的 PDF 与记录的 SHA-256 不符")
    return actual


def _csv(entries: list[dict[str, Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_HEADERS)
    for e in entries:
        writer.writerow([e["file"], e["type_label"], e["submitted_date"], e["pages"] or "",
                         e["size"], e["sha256"], e["document_id"]])  # fmt: skip
    return text.getvalue().encode("utf-8-sig")


def write_dossier(
    session: Session,
    settings: Settings,
    store: ObjectStore,
    actor: User,
    code: str,
    output: Path,
) -> dict[str, Any]:
    """Write the dossier ZIP of customer ``code`` (as ``actor`` may see it) to ``output``.

    Returns:
        The manifest: customer, files with their type, date, size and SHA-256.

    Raises:
        NotFoundError: No such customer, or one ``actor`` may not see.
        ChecksumMismatchError: A stored PDF differs from its recorded SHA-256 (no ZIP is left).
    """
    customer = get_visible(session, actor, code)
    docs = _archived(session, customer.id)  # type: ignore[arg-type]
    output = Path(output)
    part = output.with_name(f".{output.name}.part")
    entries: list[dict[str, Any]] = []
    used: set[str] = set()
    try:
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as zf:
            for doc in docs:
                name = _unique_name(doc.pdf_key or f"{doc.id}.pdf", used)
                sha256 = _add_pdf(zf, store, doc, name)
                entries.append({
                    "file": f"{FOLDER}/{name}", "document_id": doc.id,
                    "type": doc.document_type,
                    "type_label": settings.taxonomy.document_type(doc.document_type).label,
                    "submitted_date": doc.submitted_date.isoformat(), "pages": doc.page_count,
                    "size": doc.pdf_size, "sha256": sha256,
                })  # fmt: skip
            manifest = {"customer": {"code": customer.code, "name": customer.name},
                        "documents": entries}  # fmt: skip
            zf.writestr("清单.csv", _csv(entries))
            zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        os.replace(part, output)
    finally:
        part.unlink(missing_ok=True)
    repo.add_audit_event(
        session, actor=actor.username, action="customer.dossier_export", entity_type="customer",
        entity_id=customer.code, after={"documents": len(entries), "file": output.name},
        detail=f"导出客户资料包：{len(entries)} 份资料",
    )  # fmt: skip
    return manifest
