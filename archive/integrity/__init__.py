"""Archive integrity checks: prove every document is present, intact, correctly filed and linked.

Built like paperless-ngx's sanity checker: small check functions add :class:`Finding` objects
to a :class:`Findings` collector; only the caller (flow, CLI) turns them into exit codes.

Modes (:class:`Mode`):

- ``full``: stream-hash every referenced object and check every PDF's structure.
- ``incremental``: hash only objects not verified within ``scrub_days`` (a rolling scrub:
  ``object_verification`` remembers when each object last passed every content check); the
  rest get the metadata checks.
- ``metadata``: no content reads at all: the listing and the database.

A PDF's structure (opens, page count, text layer) is checked with pypdf the first time its
bytes are verified; the verification stamp keeps what pypdf found (:class:`PdfFacts`) with the
digest. Later content reads that hash the same digest judge the record against those facts
instead of opening the PDF again (equal digests, equal bytes); new bytes, a record whose
digest changed, or a text layer never looked for open it again, and so does ``deep``.

Two passes. The document pass reads documents in pages (keyset pagination, one short
transaction per page, so SQLite's write lock is never held for long) and runs the database-only
checks; expected keys are cached per naming input. The object pass joins the documents'
references, streamed in key order, with one listing of the archive prefixes (also in key order):
presence and size come from the listing (no request per object), a listed object no reference
matched is an orphan once the database agrees, and only an object the listing did not show is
asked for with ``head``. Content reads run in a bounded thread pool (hashlib releases the GIL;
each thread reads into one reused 1 MiB buffer), except small objects whose bytes the store
already holds in memory (the page cache): those are read in the calling thread, where they
cost less than the hand-over to a worker; reads that would wait for a disk still overlap in
the pool. Memory stays bounded: pages, batches and reads in flight are all capped, whatever
the size of the archive.

A finding's fingerprint (kind, object key, document id, subject) is stable, so
:func:`record_run` can mark findings new or still open and the previous run's others resolved.
:func:`repair` never deletes data: it re-links orphans to records whose object is missing, moves
drifted objects back to their computed key and moves other orphans under ``lost+found/``.

Modules: :mod:`.findings` (kinds, severities, :class:`Finding`, options, report),
:mod:`.rows` (database rows streamed in keyset pages), :mod:`.keys` (expected keys, the
collision-suffix matcher and moving a drifted object back, all through
:mod:`archive.placement`), :mod:`.document_checks` (per-document rules and the document pass),
:mod:`.objects` (one object: hashing, PDF facts), :mod:`.object_pass` (listing join, read
planning, thread pool, stamps, orphans), :mod:`.archive_checks` (archive-wide rules and
:func:`run_checks`), :mod:`.runs` (recording and comparing runs), :mod:`.repairs` (repair).
"""

from archive.integrity.archive_checks import (
    QuarantineItem,
    check_checklists,
    check_duplicates,
    check_quarantine,
    check_set_invariants,
    run_checks,
)
from archive.integrity.document_checks import (
    ACTIVE_STATUSES,
    EXPIRY_FIELDS,
    LONG_TERM_WORDS,
    check_document_row,
    check_documents,
    check_expiry,
    check_key_drift,
    check_review_stale,
    check_row_invariants,
)
from archive.integrity.findings import (
    CONTENT_KINDS,
    KINDS,
    MIB,
    CheckOptions,
    CheckReport,
    Finding,
    Findings,
    Mode,
    RepairAction,
    exit_code_for,
    fingerprint_of,
)
from archive.integrity.keys import KEY_CACHE_SIZE, expected_keys, matches_expected_key
from archive.integrity.object_pass import (
    MAX_MEMORY_BACKOFF,
    archive_prefixes,
    check_objects,
    join_by_key,
    listing_prefixes,
    stamp_verified,
)
from archive.integrity.objects import (
    READ_BUFFER_BYTES,
    ObjectOutcome,
    check_in_memory,
    check_object,
    hash_into_buffer,
    judge_pdf,
    proven_facts,
    read_pdf_facts,
)
from archive.integrity.repairs import LOST_AND_FOUND_PREFIX, repair
from archive.integrity.rows import (
    DocRow,
    ObjectRef,
    PdfFacts,
    iter_document_pages,
    iter_object_refs,
)
from archive.integrity.runs import (
    compare_with_previous,
    finding_record,
    record_run,
    repair_record,
)

__all__ = [
    "ACTIVE_STATUSES",
    "CONTENT_KINDS",
    "EXPIRY_FIELDS",
    "KEY_CACHE_SIZE",
    "KINDS",
    "LONG_TERM_WORDS",
    "LOST_AND_FOUND_PREFIX",
    "MAX_MEMORY_BACKOFF",
    "MIB",
    "READ_BUFFER_BYTES",
    "CheckOptions",
    "CheckReport",
    "DocRow",
    "Finding",
    "Findings",
    "Mode",
    "ObjectOutcome",
    "ObjectRef",
    "PdfFacts",
    "QuarantineItem",
    "RepairAction",
    "archive_prefixes",
    "check_checklists",
    "check_document_row",
    "check_documents",
    "check_duplicates",
    "check_expiry",
    "check_in_memory",
    "check_key_drift",
    "check_object",
    "check_objects",
    "check_quarantine",
    "check_review_stale",
    "check_row_invariants",
    "check_set_invariants",
    "compare_with_previous",
    "exit_code_for",
    "expected_keys",
    "finding_record",
    "fingerprint_of",
    "hash_into_buffer",
    "iter_document_pages",
    "iter_object_refs",
    "join_by_key",
    "judge_pdf",
    "listing_prefixes",
    "matches_expected_key",
    "proven_facts",
    "read_pdf_facts",
    "record_run",
    "repair",
    "repair_record",
    "run_checks",
    "stamp_verified",
]
