"""File a normalized document: decide its status, name it, store it verified, then commit.

Write order (nothing is lost): upload the original and the PDF, verify both objects' sha256,
then commit the database. The caller removes the intake file only after this returns. A crash
between upload and commit leaves objects no row references; the re-run reuses an object whose
bytes already match (same key, same sha256) instead of writing a ``-2`` copy.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from sqlmodel import Session, select

from archive.linking import LinkResult, find_customer, normalize_name
from archive.naming import archive_key, first_free_key, original_key
from archive.storage.base import ObjectInfo, ObjectStore
from config.taxonomy import Taxonomy
from models import repo
from models.customer import Customer
from models.document import Document

ReviewPolicy = Literal["all", "anomalies"]

#: Reasons that are informational: with policy "anomalies" they do not hold a document back.
SOFT_REASONS = frozenset({"second_check"})


@dataclass(frozen=True)
class DocumentPart:
    """One document found in an input file (a bundle PDF may hold several)."""

    document_type: str
    pdf_path: Path
    pdf_sha256: str
    pdf_size: int
    page_count: int
    text: str
    ocr_confidence: float | None
    fields: Mapping[str, object]
    reasons: Sequence[str] = ()
    pages: Sequence[int] = ()


@dataclass(frozen=True)
class FilingRequest:
    """Everything filing needs about one input file, as plain data."""

    original_path: Path
    original_filename: str
    original_sha256: str
    original_size: int
    submitted_date: date
    parts: Sequence[DocumentPart]
    ingest_run_id: str | None = None
    claim_id: str | None = None
    submitted_by: str = "system"


@dataclass(frozen=True)
class FiledDocument:
    document_id: int
    status: str
    document_type: str
    customer_code: str | None
    pdf_key: str
    original_key: str
    reasons: tuple[str, ...] = field(default_factory=tuple)


def decide_status(reasons: Sequence[str], *, policy: ReviewPolicy, is_new_version: bool) -> str:
    """Status of a freshly filed document under the review policy.

    ``all`` (default, the standard's 二次核验): every document waits for a second person.
    ``anomalies``: a document without reasons is archived directly.
    """
    if is_new_version:
        return "updating"
    hard = [r for r in reasons if r not in SOFT_REASONS]
    if policy == "anomalies" and not hard:
        return "archived"
    return "pending_review"


def _content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _key_taken_by(session: Session, store: ObjectStore, sha256: str) -> Callable[[str], bool]:
    """A key is free when no row uses it and the store has nothing there, or the same bytes."""

    def taken(key: str) -> bool:
        used = session.exec(
            select(Document.id).where((Document.pdf_key == key) | (Document.original_key == key))
        ).first()
        if used is not None:
            return True
        if not store.exists(key):
            return False
        return store.head(key).sha256 != sha256

    return taken


def _put_verified(
    store: ObjectStore, key: str, path: Path, sha256: str, doc_meta: dict
) -> ObjectInfo:
    if store.exists(key) and store.head(key).sha256 == sha256:
        # Left by a run that crashed before its commit: the bytes are already there.
        return store.head(key)
    return store.put(key, path, content_type=_content_type(path), metadata=doc_meta, sha256=sha256)


def _resolve_customer(
    session: Session, *, part: DocumentPart, actor: str
) -> tuple[Customer | None, LinkResult, bool]:
    link = find_customer(session, document_type=part.document_type, fields=part.fields)
    if link.customer is not None or link.create is None:
        return link.customer, link, False
    customer = repo.create_customer_from_document(session, data=dict(link.create), actor=actor)
    return customer, link, True


def file_document(
    *,
    session: Session,
    store: ObjectStore,
    taxonomy: Taxonomy,
    request: FilingRequest,
    policy: ReviewPolicy = "all",
    actor: str = "system",
) -> list[FiledDocument]:
    """Store and record every part of one input file; commit once, after all objects verify."""
    templates = taxonomy.templates
    filed: list[FiledDocument] = []
    original_object_key: str | None = None
    for part in request.parts:
        customer, link, _created = _resolve_customer(session, part=part, actor=actor)
        reasons = list(dict.fromkeys([*part.reasons, *link.reasons]))
        previous = (
            repo.current_document_of_type(
                session, customer_id=customer.id, document_type=part.document_type
            )
            if customer is not None
            else None
        )
        if customer is None and "unlinked" not in reasons and "ambiguous_customer" not in reasons:
            reasons.append("unlinked")
        if previous is not None:
            reasons.append("new_version")
        if policy == "all":
            reasons.append("second_check")
        status = decide_status(reasons, policy=policy, is_new_version=previous is not None)

        ctype = taxonomy.customer_type(customer.customer_type).label if customer else None
        names = dict(
            templates=templates,
            customer_type_label=ctype,
            customer_name=customer.name if customer else None,
            document_type_label=taxonomy.document_type(part.document_type).label,
            submitted=request.submitted_date,
        )
        pdf_key = first_free_key(
            archive_key(**names), taken=_key_taken_by(session, store, part.pdf_sha256)
        )
        meta = {"sha256": part.pdf_sha256}
        _put_verified(store, pdf_key, part.pdf_path, part.pdf_sha256, meta)
        if original_object_key is None:
            ext = request.original_path.suffix.lower() or ""
            original_object_key = first_free_key(
                original_key(**names, original_ext=ext),
                taken=_key_taken_by(session, store, request.original_sha256),
            )
            _put_verified(
                store,
                original_object_key,
                request.original_path,
                request.original_sha256,
                {"sha256": request.original_sha256},
            )
        document = repo.create_document(
            session,
            actor=actor,
            data=dict(
                customer_id=customer.id if customer else None,
                document_type=part.document_type,
                status=status,
                submitted_date=request.submitted_date,
                original_filename=request.original_filename,
                original_key=original_object_key,
                original_sha256=request.original_sha256,
                original_size=request.original_size,
                pdf_key=pdf_key,
                pdf_sha256=part.pdf_sha256,
                pdf_size=part.pdf_size,
                page_count=part.page_count,
                ocr_text=part.text,
                ocr_confidence=part.ocr_confidence,
                fields={
                    **dict(part.fields),
                    **({"_candidates": list(link.candidates)} if link.candidates else {}),
                },
                review_reasons=reasons,
                supersedes_id=previous.id if previous is not None else None,
                ingest_run_id=request.ingest_run_id,
                claim_id=request.claim_id,
                submitted_by=request.submitted_by,
            ),
        )
        filed.append(
            FiledDocument(
                document_id=document.id,
                status=status,
                document_type=part.document_type,
                customer_code=customer.code if customer else None,
                pdf_key=pdf_key,
                original_key=original_object_key,
                reasons=tuple(reasons),
            )
        )
    session.commit()
    return filed


__all__ = [
    "DocumentPart",
    "FiledDocument",
    "FilingRequest",
    "decide_status",
    "file_document",
    "normalize_name",
]
