"""How a claimed, normalized file becomes a :class:`archive.filing.FilingRequest`: its
submission date (提交日期 = the day it was handed in, China time), its claim's stable token, the
owner of a customer it creates, and the processing facts kept in each document's ``_meta``.

The submitter's hints (web and API uploads: a customer code and a document type, kept in the
drop sidecar) are honoured here, the one place for every channel: the type is taken for pages
no classification rule recognised (:func:`hinted_params`, fields then extracted for that type,
``_meta.type_from_hint``), and the customer for a document whose content links to no existing
customer (``FilingRequest.customer_hint``; filing notes ``_linked_by_hint``; a license naming a
company not known yet still creates it). What the content says wins over a hint; the document
page shows a hint that disagrees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session

from archive.filing import DocumentPart, FilingRequest
from config.clock import china_date
from config.taxonomy import Taxonomy
from ingest import intake
from ingest.pipeline import NormalizedFile, PipelineParams
from models import repo
from models.user import Role

#: ``submitted_by`` of a file nobody is known to have handed in (copied into the intake folder).
SYSTEM_SUBMITTER = "system"


def submitted_date_of(claim: intake.Claim) -> date:
    """提交日期: the day the file was handed in (claim time, China time)."""
    try:
        return china_date(datetime.fromisoformat(claim.claimed_at))
    except ValueError:
        return china_date()


def claim_token(claim: intake.Claim) -> str:
    """Stable identity of a claim across crash recovery (its folder name survives adoption)."""
    return claim.claim_dir.name[:64]


def new_customer_owner(session: Session, submitted_by: str | None) -> int | None:
    """A sales user's upload: that user owns the customers it creates (and so sees them)."""
    user = repo.get_user(session, username=submitted_by) if submitted_by else None
    return user.id if user is not None and user.role == Role.SALES else None


def hinted_params(
    params: PipelineParams, claim: intake.Claim, taxonomy: Taxonomy
) -> PipelineParams:
    """The pipeline's parameters for this claim: with its document type hint, when a known one."""
    kind = (claim.hints or {}).get("document_type")
    if not kind or kind not in {t.code for t in taxonomy.document_types}:
        return params
    return replace(params, type_hint=kind)


def filing_request(
    claim: intake.Claim, normalized: NormalizedFile, *, run_id: str, owner_id: int | None
) -> FilingRequest:
    return FilingRequest(
        original_path=claim.path,
        original_filename=Path(claim.display_path).name,
        original_sha256=claim.sha256 or "",
        original_size=claim.size,
        submitted_date=submitted_date_of(claim),
        parts=[
            DocumentPart(
                document_type=p.document_type,
                pdf_path=p.pdf_path,
                pdf_sha256=p.pdf_sha256,
                pdf_size=p.pdf_size,
                page_count=len(p.pages),
                text=p.text,
                ocr_confidence=p.ocr_confidence,
                fields={
                    **p.fields,
                    "_meta": {
                        **filing_meta(normalized, p.pages, p.type_confidence, claim.hints),
                        **({"type_from_hint": True} if p.type_from_hint else {}),
                    },
                },
                reasons=p.reasons,
                pages=p.pages,
            )
            for p in normalized.parts
        ],
        ingest_run_id=run_id,
        claim_id=claim_token(claim),
        submitted_by=claim.submitted_by or SYSTEM_SUBMITTER,
        new_customer_owner_id=owner_id,
        customer_hint=(claim.hints or {}).get("customer_code") or None,
    )


def filing_meta(
    normalized: NormalizedFile,
    pages: Iterable[int],
    type_confidence: float,
    hints: Mapping[str, str] | None = None,
) -> dict:
    pages = list(pages)
    extra = {"upload_hints": dict(hints)} if hints else {}
    return {
        **extra,
        "source_format": normalized.source_format,
        "source_pages": [i + 1 for i in pages],
        "type_confidence": type_confidence,
        "blank_pages_removed": [i + 1 for i in normalized.blank_pages if i not in pages],
        "rotated_pages": [i + 1 for i in normalized.rotated_pages if i in pages],
        "id_card_pages": [
            p.index + 1 for p in normalized.page_results if p.cards and p.index in pages
        ],
        "photo_pages": [
            p.index + 1 for p in normalized.page_results if p.photo and p.index in pages
        ],
    }
