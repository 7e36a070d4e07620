"""Repository functions: the only code that writes customers, documents, users, runs,
web sessions and API tokens.

Call them through the package (``from models import repo; repo.create_customer(...)``); the
modules are split by what they write: ``audit``, ``users``, ``customers``, ``contacts``,
``followups``, ``cooperations`` (and derived customer fields), ``tags``, ``documents``, ``runs``,
``sessions``, ``tokens`` (API tokens and uploads), ``integrity_runs`` (reads), with the
shared savepoint and snapshot helpers in ``base``.

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
from models.repo.contacts import (
    add_contact,
    delete_contact,
    get_contact,
    list_contacts,
    update_contact,
)
from models.repo.cooperations import (
    add_cooperation,
    delete_cooperation,
    get_cooperation,
    list_cooperations,
    set_customer_derived,
    update_cooperation,
)
from models.repo.customers import (
    CUSTOMER_AUDIT_FIELDS,
    CUSTOMER_CODE_PREFIX,
    create_customer,
    create_customer_from_document,
    find_customers,
    get_customer,
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
from models.repo.followups import add_follow_up, list_follow_ups
from models.repo.intake_pulls import (
    adopt_intake_pull,
    advance_intake_pull,
    claim_intake_pull,
    pulled_intake_pulls_of,
    release_intake_pull,
    renew_intake_pulls,
    stale_intake_pulls,
)
from models.repo.integrity_runs import (
    get_integrity_run,
    list_integrity_findings,
    list_integrity_runs,
)
from models.repo.notification_settings import (
    get_notification_setting,
    save_notification_setting,
)
from models.repo.notifications import (
    list_notifications,
    notification_sent,
    notification_subjects,
    record_notification,
)
from models.repo.options import (
    add_option,
    count_holders,
    held_values,
    option_items,
    options_in_effect,
    rename_option,
    set_option_retired,
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
from models.repo.tags import (
    create_tag,
    customer_tags,
    customers_with_all_tags,
    get_tag,
    list_tags,
    merge_tags,
    rename_tag,
    require_tag,
    set_tag_retired,
    tag_customer,
    tag_names_by_customer,
    untag_customer,
)
from models.repo.tokens import (
    add_api_upload,
    create_api_token,
    delete_api_upload,
    find_api_token,
    find_api_upload,
    get_api_token,
    get_api_upload,
    list_api_tokens,
    mark_api_upload_dropped,
    revoke_api_token,
    token_is_live,
    touch_api_token,
)
from models.repo.users import ensure_user, get_user

__all__ = [
    "CHINA_TZ",
    "CURRENT_STATUSES",
    "CUSTOMER_AUDIT_FIELDS",
    "CUSTOMER_CODE_PREFIX",
    "ConflictError",
    "DOCUMENT_AUDIT_FIELDS",
    "NotFoundError",
    "ValidationError",
    "add_api_upload",
    "add_audit_event",
    "add_contact",
    "add_cooperation",
    "add_follow_up",
    "count_live_web_sessions",
    "create_api_token",
    "create_customer",
    "create_customer_from_document",
    "create_document",
    "create_tag",
    "create_web_session",
    "current_document_of_type",
    "customer_tags",
    "customers_with_all_tags",
    "delete_api_upload",
    "delete_contact",
    "delete_old_web_sessions",
    "document_versions",
    "ensure_user",
    "find_api_token",
    "find_api_upload",
    "find_customers",
    "find_documents_by_sha256",
    "find_live_web_session",
    "finish_ingest_run",
    "get_api_token",
    "get_api_upload",
    "get_contact",
    "get_cooperation",
    "get_customer",
    "get_document",
    "get_integrity_run",
    "get_tag",
    "get_user",
    "list_api_tokens",
    "notification_sent",
    "record_notification",
    "list_notifications",
    "get_notification_setting",
    "save_notification_setting",
    "notification_subjects",
    "list_audit_events",
    "list_contacts",
    "list_cooperations",
    "list_customers",
    "list_documents",
    "list_follow_ups",
    "list_integrity_findings",
    "list_integrity_runs",
    "list_tags",
    "mark_api_upload_dropped",
    "merge_tags",
    "next_customer_code",
    "rename_tag",
    "require_tag",
    "revoke_api_token",
    "revoke_user_web_sessions",
    "revoke_web_session",
    "set_customer_derived",
    "set_tag_retired",
    "start_ingest_run",
    "tag_customer",
    "tag_names_by_customer",
    "token_digest",
    "token_is_live",
    "touch_api_token",
    "touch_web_session",
    "untag_customer",
    "update_contact",
    "update_cooperation",
    "update_customer",
    "update_document",
    # Appended (issue 15: cooperation records removed, option lists edited by admins).
    "delete_cooperation",
    "add_option",
    "count_holders",
    "held_values",
    "option_items",
    "options_in_effect",
    "rename_option",
    "set_option_retired",
    # the shared S3 intake
    "adopt_intake_pull",
    "advance_intake_pull",
    "claim_intake_pull",
    "pulled_intake_pulls_of",
    "release_intake_pull",
    "renew_intake_pulls",
    "stale_intake_pulls",
]

# Bulk import (issue 17): appended to ease merging.
from models.repo.audit import add_audit_events  # noqa: E402
from models.repo.customers import create_customers, customers_by_identifiers  # noqa: E402

__all__ += ["add_audit_events", "create_customers", "customers_by_identifiers"]

# Batched edits of the import (issue 17).
from models.repo.cooperations import cooperations_by_customer  # noqa: E402
from models.repo.customer_edits import edited_values, update_customers  # noqa: E402

__all__ += ["cooperations_by_customer", "edited_values", "update_customers"]
