"""File a normalized document: decide its status, name it, store it verified, then commit.

Write order (nothing is lost): upload the original and the PDF, verify both objects' sha256,
then commit the database. The caller removes the intake file only after this returns. A crash
between upload and commit leaves objects no row references; the re-run reuses an object whose
bytes already match (same key, same sha256) instead of writing a ``-2`` copy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Literal

from sqlmodel import Session, select

from archive.dedupe import find_near_duplicate, text_fingerprint
from archive.errors import DuplicateOriginalError
from archive.linking import (
    CUSTOMER_FIELDS_BY_TYPE,
    LinkResult,
    compare_customer_fields,
    find_customer,
    normalize_name,
)
from archive.placement import ObjectNames, free_key, object_names, store_object
from archive.storage.base import ObjectStore
from config.errors import DossierError
from config.taxonomy import Taxonomy
from models import repo
from models.audit import SYSTEM_ACTOR
from models.customer import Customer
from models.document import Document
from models.locks import lock_original

log = logging.getLogger(__name__)

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
    #: Owner of a customer this file creates (a sales uploader's own new customer); None: none.
    new_customer_owner_id: int | None = None
    #: The submitter's customer code (an upload's hint): the customer of a part whose content
    #: links to no existing customer (not of a license naming a company of its own).
    customer_hint: str | None = None


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


#: Filing order inside one file: who the customer is comes from licenses and forms, so they
#: go first and an ID card of the same bundle can be filed with the company found there.
_BUNDLE_PRIORITY = {"business_license": 0, "customer_form": 1, "bank_permit": 2, "id_card": 9}
_DEFAULT_PRIORITY = 5


def filing_order(parts: Sequence[DocumentPart]) -> list[int]:
    """Indexes of ``parts`` in filing order (licenses, forms, permits, others, ID cards)."""
    return sorted(
        range(len(parts)),
        key=lambda i: _BUNDLE_PRIORITY.get(parts[i].document_type, _DEFAULT_PRIORITY),
    )


def _resolve_customer(
    session: Session,
    *,
    part: DocumentPart,
    bundle: Sequence[Customer],
    actor: str,
    owner_id: int | None = None,
    hint: str | None = None,
) -> tuple[Customer | None, LinkResult, bool]:
    link = find_customer(
        session, document_type=part.document_type, fields=part.fields, bundle=bundle
    )
    # The submitter's customer, when the content names no known one; never for a license or
    # form naming a company not known yet: that company is created (a hint cannot fill
    # another customer's fields from it), and the document page shows the differing hint.
    own = link.create is not None and part.document_type in CUSTOMER_FIELDS_BY_TYPE
    usable = hint and link.customer is None and not own
    hinted = repo.get_customer(session, code=hint) if usable else None
    if hinted is not None:
        reasons = tuple(r for r in link.reasons if r not in ("unlinked", "ambiguous_customer"))
        return hinted, replace(link, customer=hinted, matched_by="hint", reasons=reasons), False
    if link.customer is not None or link.create is None:
        return link.customer, link, False
    data = {**link.create, "owner_id": owner_id} if owner_id is not None else dict(link.create)
    customer = repo.create_customer_from_document(session, data=data, actor=actor)
    return customer, link, True


def _sync_customer_fields(
    session: Session, *, customer: Customer, part: DocumentPart, taxonomy: Taxonomy
) -> dict[str, object]:
    """Fill the customer's empty fields from a license; return bookkeeping for the document.

    Differences are never written to the customer: they are returned as ``_differences``
    (the caller adds ``field_mismatch``) for the reviewer to decide.
    """
    comparison = compare_customer_fields(customer, part.fields)
    notes: dict[str, object] = {}
    if comparison.differences:
        notes["_differences"] = comparison.differences
    if not comparison.fills:
        return notes
    try:
        repo.update_customer(
            session,
            code=customer.code,
            changes=comparison.fills,
            actor=SYSTEM_ACTOR,
            taxonomy=taxonomy,
            from_document=True,
        )
    except DossierError as e:
        # E.g. the USCC belongs to another customer: keep the document, tell the reviewer.
        log.info("customer %s not filled from a license: %s", customer.code, e.code)
        notes["_customer_fill_error"] = {"fields": sorted(comparison.fills), "message": e.message}
        return notes
    notes["_customer_filled"] = sorted(comparison.fills)
    return notes


@dataclass
class _FileContext:
    """What the parts of one input file share while they are filed."""

    session: Session
    store: ObjectStore
    taxonomy: Taxonomy
    request: FilingRequest
    policy: ReviewPolicy
    actor: str
    bundle: list[Customer] = field(default_factory=list)
    original_key: str | None = None


def _store_original(ctx: _FileContext, names: ObjectNames) -> str:
    """The one original of the file, named after the first part filed (shared by all parts)."""
    if ctx.original_key is None:
        request = ctx.request
        sha256 = request.original_sha256
        ctx.original_key = free_key(ctx.session, ctx.store, names.original, sha256=sha256)
        store_object(ctx.store, ctx.original_key, request.original_path, sha256=sha256)
    return ctx.original_key


def _object_names(ctx: _FileContext, part: DocumentPart, customer: Customer | None) -> ObjectNames:
    return object_names(
        ctx.taxonomy,
        customer=customer,
        document_type=part.document_type,
        submitted=ctx.request.submitted_date,
        original_filename=ctx.request.original_filename,
        max_key_bytes=ctx.store.max_key_bytes,
    )


def _review(
    ctx: _FileContext, part: DocumentPart, customer: Customer | None, link: LinkResult
) -> tuple[list[str], dict[str, object], Document | None, str | None]:
    """Reasons, bookkeeping fields, the version it replaces, and the text fingerprint."""
    session = ctx.session
    reasons = list(dict.fromkeys([*part.reasons, *link.reasons]))
    notes: dict[str, object] = {}
    if link.candidates:
        notes["_candidates"] = list(link.candidates)
    if link.matched_by == "hint" and customer is not None:
        notes["_linked_by_hint"] = customer.code
    if customer is None and "unlinked" not in reasons and "ambiguous_customer" not in reasons:
        reasons.append("unlinked")
    if customer is not None and part.document_type == "business_license":
        notes.update(
            _sync_customer_fields(session, customer=customer, part=part, taxonomy=ctx.taxonomy)
        )
        if "_differences" in notes:
            reasons.append("field_mismatch")
    previous = (
        repo.current_document_of_type(
            session, customer_id=customer.id, document_type=part.document_type
        )
        if customer is not None
        and customer.id is not None
        and ctx.taxonomy.document_type(part.document_type).versioned
        else None
    )
    if previous is not None:
        reasons.append("new_version")
    fingerprint = text_fingerprint(part.text)
    duplicate = find_near_duplicate(
        session,
        customer_id=customer.id if customer else None,
        document_type=part.document_type,
        fields=part.fields,
        fingerprint=fingerprint,
        pdf_sha256=part.pdf_sha256,
    )
    if duplicate is not None:
        reasons.append("possible_duplicate")
        notes["_duplicate_of"] = duplicate.id
    if ctx.policy == "all":
        reasons.append("second_check")
    return list(dict.fromkeys(reasons)), notes, previous, fingerprint


def _new_in(bundle: Sequence[Customer], customer: Customer) -> bool:
    return all(c.id != customer.id for c in bundle)


def _file_part(ctx: _FileContext, part: DocumentPart) -> FiledDocument:
    customer, link, _created = _resolve_customer(
        ctx.session,
        part=part,
        bundle=ctx.bundle,
        actor=ctx.actor,
        owner_id=ctx.request.new_customer_owner_id,
        hint=ctx.request.customer_hint,
    )
    if customer is not None and part.document_type != "id_card" and _new_in(ctx.bundle, customer):
        ctx.bundle.append(customer)
    reasons, notes, previous, fingerprint = _review(ctx, part, customer, link)
    status = decide_status(reasons, policy=ctx.policy, is_new_version=previous is not None)
    names = _object_names(ctx, part, customer)
    pdf_key = free_key(ctx.session, ctx.store, names.pdf, sha256=part.pdf_sha256)
    store_object(ctx.store, pdf_key, part.pdf_path, sha256=part.pdf_sha256)
    stored_original = _store_original(ctx, names)
    request = ctx.request
    document = repo.create_document(
        ctx.session,
        actor=ctx.actor,
        data=dict(
            customer_id=customer.id if customer else None,
            document_type=part.document_type,
            status=status,
            submitted_date=request.submitted_date,
            original_filename=request.original_filename,
            original_key=stored_original,
            original_sha256=request.original_sha256,
            original_size=request.original_size,
            pdf_key=pdf_key,
            pdf_sha256=part.pdf_sha256,
            pdf_size=part.pdf_size,
            page_count=part.page_count,
            ocr_text=part.text,
            ocr_confidence=part.ocr_confidence,
            text_fingerprint=fingerprint,
            fields={**dict(part.fields), **notes},
            review_reasons=reasons,
            supersedes_id=previous.id if previous is not None else None,
            ingest_run_id=request.ingest_run_id,
            claim_id=request.claim_id,
            submitted_by=request.submitted_by,
        ),
    )
    return FiledDocument(
        document_id=document.id or 0,
        status=status,
        document_type=part.document_type,
        customer_code=customer.code if customer else None,
        pdf_key=pdf_key,
        original_key=stored_original,
        reasons=tuple(reasons),
    )


def _refuse_exact_duplicate(session: Session, *, sha256: str) -> None:
    """Refuse bytes already filed in a live document, atomically (before any upload): the
    lock makes a second worker filing the same bytes wait for the first's commit."""
    lock_original(session, sha256=sha256)
    live = session.exec(
        select(Document.id).where(Document.original_sha256 == sha256, Document.status != "rejected")
    ).first()
    if live is not None:
        raise DuplicateOriginalError(
            f"重复文件：与已归档的资料 #{live} 完全相同", existing_document_id=live
        )


def file_document(
    *,
    session: Session,
    store: ObjectStore,
    taxonomy: Taxonomy,
    request: FilingRequest,
    policy: ReviewPolicy = "all",
    actor: str = "system",
) -> list[FiledDocument]:
    """Store and record every part of one input file; commit once, after all objects verify.

    Parts are filed licenses and forms first (:func:`filing_order`), so an ID card of the same
    bundle is filed with the company found there; the result keeps the order of
    ``request.parts``. All parts share one stored original.

    Args:
        session: Open session; committed once at the end.
        store: Where the PDFs and the original go (verified by sha256).
        taxonomy: Types, labels and naming templates.
        request: The input file and its parts.
        policy: ``all`` (every document reviewed) or ``anomalies``.
        actor: Who files (audit events); customer fields filled from a license are
            attributed to ``system``.

    Returns:
        One :class:`FiledDocument` per part, in the order of ``request.parts``.
    """
    _refuse_exact_duplicate(session, sha256=request.original_sha256)
    ctx = _FileContext(
        session=session,
        store=store,
        taxonomy=taxonomy,
        request=request,
        policy=policy,
        actor=actor,
    )
    filed = {i: _file_part(ctx, request.parts[i]) for i in filing_order(request.parts)}
    session.commit()
    return [filed[i] for i in range(len(request.parts))]


__all__ = [
    "DocumentPart",
    "FiledDocument",
    "FilingRequest",
    "decide_status",
    "file_document",
    "filing_order",
    "normalize_name",
]
