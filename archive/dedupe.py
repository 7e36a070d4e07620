"""Near-duplicates: the same paper scanned twice (different bytes, nearly the same OCR text).

Each filed document stores a 256-bit simhash of its OCR text (``Document.text_fingerprint``,
64 hex digits) over character 3-grams weighted by count. Two scans of one paper read mostly
the same n-grams, so their fingerprints differ in few bits; two different papers of the same
type share the template's labels but not the values, and differ in more.

A document is a possible duplicate of an earlier one when all of these hold:

- same customer (or both unlinked) and same document type;
- no key field (USCC, ID number, contract number, account number) disagrees: a field read on
  both must be equal (one scan may have missed a field);
- no detail field (address, representative, term, ...) reads clearly differently: a renewed
  license keeps its USCC but not its address or representative;
- identical normalized PDF bytes, or fingerprints within :func:`max_distance_for` bits.

Thresholds, measured (tesseract ``chi_sim --psm 4`` on ``bench.samples`` pages, seeds 0-5 of
each type, each page read clean, with ``noise`` and with ``jpeg+blur``: 18 same-paper pairs
and 135 different-paper pairs per type; distances out of 256 bits):

=================  ==================  ====================  =========  ================
type               same paper: max     different: min (p5)   threshold  errors
=================  ==================  ====================  =========  ================
business_license   53                  73 (79)               63         0
bank_permit        58                  75 (81)               66         0
id_card            65                  79 (84)               72         0
customer_form      68                  68 (71)               66         2 missed of 18
contract           47                  39 (49)               44         2 missed, 2 false
=================  ==================  ====================  =========  ================

On the first 49 of these pages a 64-bit fingerprint left the two groups overlapping, or one
bit apart, for four of the five types (best single threshold: 6 errors in 219 pairs), hence
256 bits. Contracts
are mostly boilerplate: their contract number (a key field) tells two contracts apart.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher

from sqlmodel import Session, col, select

from models.document import Document

#: Length of the character n-grams hashed into the fingerprint.
NGRAM = 3
#: Bits in a fingerprint (64 bits left same-paper and different-paper distances overlapping).
BITS = 256
#: Texts shorter than this (after normalization) get no fingerprint: too little to compare.
MIN_TEXT_CHARS = 30
#: Largest Hamming distance still taken as the same paper (measured, see module docstring).
MAX_DISTANCE = 60
#: Per document type (measured, see the module docstring); other types use MAX_DISTANCE.
MAX_DISTANCE_BY_TYPE: Mapping[str, int] = {
    "business_license": 63,
    "bank_permit": 66,
    "id_card": 72,
    "customer_form": 66,
    "contract": 44,
}


def max_distance_for(document_type: str) -> int:
    """The near-duplicate threshold for a document type."""
    return MAX_DISTANCE_BY_TYPE.get(document_type, MAX_DISTANCE)


#: Fields that identify one paper: when both documents carry one, it must be equal.
KEY_FIELDS = ("uscc", "id_number", "contract_number", "account_number", "approval_number")
#: Fields a new version of a paper changes (a renewed license's address, representative,
#: capital, term; an ID card's validity): when both documents carry one, the two readings must
#: be similar (OCR noise), not different (another paper). Shorter values are not compared.
DETAIL_FIELDS = (
    "name",
    "customer_name",
    "legal_representative",
    "address",
    "registered_capital",
    "term",
    "term_end",
    "business_scope",
    "validity",
    "valid_to",
    "contract_name",
    "amount",
    "signed_date",
    "expiry_date",
    "party_a",
    "party_b",
)
#: Least similarity (difflib ratio) of two readings of one detail field on the same paper.
MIN_DETAIL_SIMILARITY = 0.7
_MIN_DETAIL_CHARS = 4
#: Statuses of earlier documents that count (a rejected document is not in the archive).
COMPARED_STATUSES = ("pending_review", "updating", "archived", "superseded")


def normalize_text(text: str) -> str:
    """OCR text in comparable form: NFKC (half-width), upper case, no whitespace."""
    folded = unicodedata.normalize("NFKC", text or "").upper()
    return "".join(folded.split())


def _ngram_hash(gram: str) -> int:
    digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=BITS // 8).digest()
    return int.from_bytes(digest, "big")


def text_fingerprint(text: str | None) -> str | None:
    """The simhash of a text's character n-grams, as 16 hex digits (None for too little text).

    Args:
        text: OCR text; spacing, width and case do not matter.

    Returns:
        The fingerprint, or None when the text has fewer than ``MIN_TEXT_CHARS`` characters.
    """
    compact = normalize_text(text or "")
    if len(compact) < MIN_TEXT_CHARS:
        return None
    grams = Counter(compact[i : i + NGRAM] for i in range(len(compact) - NGRAM + 1))
    totals = [0] * BITS
    for gram, weight in grams.items():
        h = _ngram_hash(gram)
        for bit in range(BITS):
            totals[bit] += weight if (h >> bit) & 1 else -weight
    value = sum(1 << bit for bit in range(BITS) if totals[bit] > 0)
    return f"{value:0{BITS // 4}x}"


def hamming_distance(a: str, b: str) -> int:
    """Number of differing bits between two fingerprints (hex strings)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _key_value(fields: Mapping[str, object], name: str) -> str | None:
    raw = fields.get(name)
    if isinstance(raw, Mapping):
        raw = raw.get("value")
    if raw is None:
        return None
    text = normalize_text(str(raw))
    return text or None


def key_fields_agree(a: Mapping[str, object], b: Mapping[str, object]) -> bool:
    """True when no key field read on both documents has different values."""
    for name in KEY_FIELDS:
        left, right = _key_value(a, name), _key_value(b, name)
        if left and right and left != right:
            return False
    return True


def details_agree(a: Mapping[str, object], b: Mapping[str, object]) -> bool:
    """True when every detail field read on both documents reads about the same."""
    for name in DETAIL_FIELDS:
        left, right = _key_value(a, name), _key_value(b, name)
        if not left or not right or min(len(left), len(right)) < _MIN_DETAIL_CHARS:
            continue
        if SequenceMatcher(None, left, right).ratio() < MIN_DETAIL_SIMILARITY:
            return False
    return True


def is_near_duplicate(
    *,
    fingerprint: str | None,
    fields: Mapping[str, object],
    pdf_sha256: str | None,
    earlier: Document,
    max_distance: int = MAX_DISTANCE,
) -> bool:
    """Whether a new document looks like another scan of ``earlier`` (same customer and type).

    Args:
        fingerprint: The new document's :func:`text_fingerprint`.
        fields: The new document's extracted fields.
        pdf_sha256: The new document's normalized PDF digest.
        earlier: An earlier document of the same customer and type.
        max_distance: Largest Hamming distance taken as the same paper.
    """
    earlier_fields = earlier.fields or {}
    if not key_fields_agree(fields, earlier_fields) or not details_agree(fields, earlier_fields):
        return False
    if pdf_sha256 and pdf_sha256 == earlier.pdf_sha256:
        return True
    if fingerprint is None or not earlier.text_fingerprint:
        return False
    return hamming_distance(fingerprint, earlier.text_fingerprint) <= max_distance


def find_near_duplicate(
    session: Session,
    *,
    customer_id: int | None,
    document_type: str,
    fields: Mapping[str, object],
    fingerprint: str | None,
    pdf_sha256: str | None,
    statuses: Sequence[str] = COMPARED_STATUSES,
    max_distance: int | None = None,
) -> Document | None:
    """The earliest document the new one is probably another scan of, or None.

    Only documents of the same customer (unlinked ones among themselves) and type are read,
    through the ``customer_id`` and ``document_type`` indexes. ``max_distance`` defaults to
    :func:`max_distance_for` the type.
    """
    limit = max_distance_for(document_type) if max_distance is None else max_distance
    owner = (
        col(Document.customer_id).is_(None)
        if customer_id is None
        else col(Document.customer_id) == customer_id
    )
    query = (
        select(Document)
        .where(owner, Document.document_type == document_type)
        .where(col(Document.status).in_(list(statuses)))
        .order_by(col(Document.id))
    )
    for earlier in session.exec(query):
        if is_near_duplicate(
            fingerprint=fingerprint,
            fields=fields,
            pdf_sha256=pdf_sha256,
            earlier=earlier,
            max_distance=limit,
        ):
            return earlier
    return None


__all__ = [
    "KEY_FIELDS",
    "MAX_DISTANCE",
    "details_agree",
    "find_near_duplicate",
    "hamming_distance",
    "is_near_duplicate",
    "key_fields_agree",
    "max_distance_for",
    "normalize_text",
    "text_fingerprint",
]
