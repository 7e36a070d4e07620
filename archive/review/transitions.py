"""The review transition table: which action may run in which status, and where it leads.

Anything not in :data:`TRANSITIONS` is refused with :class:`InvalidTransitionError` (e.g.
approving a rejected document).
"""

from __future__ import annotations

from archive.errors import InvalidTransitionError
from config.taxonomy import load_taxonomy
from models.document import SOFT_REVIEW_REASONS, DocumentStatus

PENDING = DocumentStatus.PENDING_REVIEW.value
UPDATING = DocumentStatus.UPDATING.value
ARCHIVED = DocumentStatus.ARCHIVED.value
REJECTED = DocumentStatus.REJECTED.value
SUPERSEDED = DocumentStatus.SUPERSEDED.value

#: Statuses that are waiting for a reviewer: ``models.document.QUEUE_STATUSES``.
#: Reasons that do not make a document an anomaly (the stored ``Document.is_anomaly``).
SOFT_REASONS = SOFT_REVIEW_REASONS
#: Reasons that a successful relink resolves.
LINK_REASONS = frozenset({"unlinked", "ambiguous_customer"})

#: The transition table: action -> {from status: to status}. Missing pairs are refused.
TRANSITIONS: dict[str, dict[str, str]] = {
    "approve": {PENDING: ARCHIVED, UPDATING: ARCHIVED},
    "reject": {PENDING: REJECTED, UPDATING: REJECTED},
    "correct": {PENDING: PENDING, UPDATING: UPDATING},
    "relink": {PENDING: PENDING, UPDATING: UPDATING},
    "claim": {PENDING: PENDING, UPDATING: UPDATING},
    "release": {PENDING: PENDING, UPDATING: UPDATING},
}

#: Chinese names of the review actions (error messages, `dossier review show`).
ACTION_LABELS = {
    "approve": "审核通过",
    "reject": "驳回",
    "correct": "更正",
    "relink": "关联客户",
    "claim": "领取",
    "release": "释放",
}


def next_status(action: str, status: str) -> str:
    """The status after ``action`` from ``status``.

    Raises:
        InvalidTransitionError: The pair is not in :data:`TRANSITIONS`.
    """
    target = TRANSITIONS.get(action, {}).get(status)
    if target is None:
        label = load_taxonomy().document_status_label(status)
        raise InvalidTransitionError(
            f"资料状态为“{label}”，不能{ACTION_LABELS.get(action, action)}",
            action=action,
            status=status,
        )
    return target


def allowed_actions(status: str) -> list[str]:
    """Actions the transition table allows from ``status`` (for buttons and hints)."""
    return [action for action, moves in TRANSITIONS.items() if status in moves]
