"""Repository functions: the only code that writes customers, documents, users, runs
and web sessions.

Call them through the package (``from models import repo; repo.create_customer(...)``); the
modules are split by what they write: ``audit``, ``users``, ``customers``, ``documents``,
``runs``, ``sessions``, with the shared savepoint and snapshot helpers in ``base``.

Conventions:

- Keyword-only arguments; the caller owns the transaction (these functions flush, never
  commit). Use ``models.db.session_scope`` or commit yourself.
- Every mutating function appends an :class:`AuditEvent` in the same transaction (web
  sessions excepted: operational state, audited by the callers; see ``sessions``).
- Values are validated before anything is written; the writes of one call run inside a
  savepoint, so a refused call (``ValidationError``, ``ConflictError``) leaves nothing behind
  and the caller's earlier work in the transaction intact.
- Audit snapshots never hold a full ID number (masked) and summarize OCR text and fields.
"""

from config.clock import CHINA_TZ  # re-exported: archive.integrity reads repo.CHINA_TZ
from models.errors import ConflictError, NotFoundError, ValidationError
from models.repo.audit import add_audit_event, list_audit_events
from models.repo.customers import (
    CUSTOMER_AUDIT_FIELDS,
    CUSTOMER_CODE_PREFIX,
    add_contact,
    create_customer,
    create_customer_from_document,
    find_customers,
    get_customer,
    list_contacts,
    list_customers,
    next_customer_code,
    update_customer,
)
from models.repo.documents import (
    CURRENT_STATUSES,
    DOCUMENT_AUDIT_FIELDS,
    create_document,
    current_document_of_type,
    document_versions,
    find_documents_by_sha256,
    get_document,
    list_documents,
    update_document,
)
from models.repo.runs import finish_ingest_run, start_ingest_run
from models.repo.sessions import (
    count_live_web_sessions,
    create_web_session,
    delete_old_web_sessions,
    find_live_web_session,
    revoke_user_web_sessions,
    revoke_web_session,
    token_digest,
    touch_web_session,
)
from models.repo.users import ensure_user, get_user

__all__ = [
    "CHINA_TZ",
    "CURRENT_STATUSES",
    "CUSTOMER_AUDIT_FIELDS",
    "CUSTOMER_CODE_PREFIX",
    "DOCUMENT_AUDIT_FIELDS",
    "ConflictError",
    "NotFoundError",
    "ValidationError",
    "add_audit_event",
    "add_contact",
    "create_customer",
    "create_customer_from_document",
    "count_live_web_sessions",
    "create_document",
    "create_web_session",
    "current_document_of_type",
    "delete_old_web_sessions",
    "document_versions",
    "ensure_user",
    "find_customers",
    "find_documents_by_sha256",
    "find_live_web_session",
    "finish_ingest_run",
    "get_customer",
    "get_document",
    "get_user",
    "list_audit_events",
    "list_contacts",
    "list_customers",
    "list_documents",
    "next_customer_code",
    "revoke_user_web_sessions",
    "revoke_web_session",
    "start_ingest_run",
    "token_digest",
    "touch_web_session",
    "update_customer",
    "update_document",
]
