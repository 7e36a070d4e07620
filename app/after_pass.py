"""What follows an intake pass that filed documents (``app.intake_pass.run_pass``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from archive.document_customer import sync_documents
from archive.relink import relink_pending
from config.errors import DossierError

if TYPE_CHECKING:
    from app.intake_pass import IngestServices, Outcome

log = logging.getLogger("dossier.ingest")


def after_pass(services: IngestServices, outcomes: Sequence[Outcome]) -> dict[str, object] | None:
    """After a pass that filed documents: fill customer fields from them (forms, licenses),
    then link what is now unambiguous (:mod:`archive.relink`). Both are idempotent; a failure
    here leaves the documents filed as they are, for the scheduled relink to finish."""
    filed = [d.document_id for o in outcomes for d in o.documents if o.kind != "recovered"]
    if not filed:
        return None
    taxonomy = services.settings.taxonomy
    try:
        with Session(services.engine) as session:
            sync_documents(session, document_ids=filed, taxonomy=taxonomy)
            return relink_pending(session, services.store, taxonomy=taxonomy).as_dict()
    except (DossierError, SQLAlchemyError) as e:
        log.warning("relink after pass %s failed: %s", services.run_id, e)
        return {"error": str(e)}
