"""The review service: the queue, claims and every reviewer decision, as plain functions.

- :mod:`.queue`: the read model (:class:`QueueItem`, :class:`QueuePage`, :func:`review_queue`,
  :func:`next_in_queue`).
- :mod:`.transitions`: the transition table (:data:`TRANSITIONS`, :func:`next_status`);
  anything not in it is refused with :class:`InvalidTransitionError`.
- :mod:`.claims`: :func:`claim` / :func:`release`, and :func:`decision`, the one transaction
  (checks, commit, roll back on error) every decision runs in.
- :mod:`.decisions`: :func:`correct`, :func:`relink`, :func:`approve`, :func:`reject`,
  :func:`refile`. They COMMIT the session they are given; objects whose key changes are moved
  by :mod:`archive.placement` (copy -> verify -> commit -> delete the old key).

Claims: a claimed document is being worked on by one reviewer until ``claim_expires_at``;
decisions by anybody else are refused (:class:`ClaimConflictError`) while the claim is live;
an expired claim may be taken over.
"""

from archive.errors import ClaimConflictError, InvalidTransitionError
from archive.placement import ObjectMove, plan_moves
from archive.review.claims import DEFAULT_CLAIM_TTL_MINUTES, claim, decision, release
from archive.review.decisions import approve, correct, refile, reject, relink
from archive.review.queue import QueueItem, QueuePage, next_in_queue, review_queue
from archive.review.transitions import (
    ACTION_LABELS,
    LINK_REASONS,
    SOFT_REASONS,
    TRANSITIONS,
    allowed_actions,
    next_status,
)
from models.document import QUEUE_STATUSES

__all__ = [
    "ACTION_LABELS",
    "DEFAULT_CLAIM_TTL_MINUTES",
    "LINK_REASONS",
    "QUEUE_STATUSES",
    "SOFT_REASONS",
    "TRANSITIONS",
    "ClaimConflictError",
    "InvalidTransitionError",
    "ObjectMove",
    "QueueItem",
    "QueuePage",
    "allowed_actions",
    "approve",
    "claim",
    "correct",
    "decision",
    "next_in_queue",
    "next_status",
    "plan_moves",
    "refile",
    "reject",
    "release",
    "relink",
    "review_queue",
]
