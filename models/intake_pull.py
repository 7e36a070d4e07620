"""The shared S3 intake (issue 14, item 4): one row per object taken from the intake prefix.

Several workers, each with its own local intake folder, list one S3 prefix. The unique pair
(``object_key``, ``version``) makes the first insert the claim: whoever inserts the row pulls
that object, nobody else. ``lease`` changes on every claim and adoption; a worker writes the row
only while it holds the lease, so a worker that was presumed dead and comes back cannot undo the
adopter's work. ``heartbeat_at`` older than the claim timeout lets another worker adopt the row.

The holder renews ``heartbeat_at`` while it works on the row (``app.s3_leases``).

States: ``claimed`` (being downloaded) → ``pulled`` (the bytes are in a local intake, verified,
``local_path``; the object still in S3 until the file is filed) → ``done`` (filed or
quarantined, the object deleted from S3); or ``refused`` (left in S3 with ``reason``: too
large, a name the store refuses) or ``vanished`` (gone between the listing and the download).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow

PULL_STATES = ("claimed", "pulled", "done", "refused", "vanished")
#: States a dead worker can leave behind; another worker adopts them after the timeout.
OPEN_PULL_STATES = ("claimed", "pulled")


class IntakePull(SQLModel, table=True):
    """One object of the S3 intake prefix, claimed by one worker."""

    __tablename__ = "intake_pull"
    __table_args__ = (
        sa.UniqueConstraint("object_key", "version", name="uq_intake_pull_object"),
        sa.CheckConstraint(
            "state IN ('claimed', 'pulled', 'done', 'refused', 'vanished')", name="state"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    object_key: str = Field(max_length=1024)  # relative to the intake prefix
    version: str = Field(max_length=200)  # size, last-modified time and ETag as listed
    size: int = Field(sa_type=sa.BigInteger)
    state: str = Field(default="claimed", max_length=16, index=True)
    worker: str = Field(max_length=200)  # host:pid:run of the current holder
    lease: str = Field(max_length=32)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    adopted_from: str | None = Field(default=None, max_length=200)
    sha256: str | None = Field(default=None, max_length=64)
    local_path: str | None = Field(default=None, max_length=1024)
    reason: str | None = Field(default=None, max_length=500)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
