"""The Prefect flow ``relink-pending``: a thin wrapper over :func:`archive.relink.relink_pending`.

Run on a schedule (and after every intake pass, by ``app.intake_pass``): documents left
unlinked or provisionally linked are linked once the customer they belong to is known.
"""

from __future__ import annotations

from prefect import flow

from app.context import app_context
from archive.relink import relink_pending


@flow(name="relink-pending", description="Link documents whose customer is now known.")
def relink_pending_flow() -> dict[str, object]:
    ctx = app_context()
    with ctx.session() as session:
        return relink_pending(session, ctx.store, taxonomy=ctx.taxonomy).as_dict()
