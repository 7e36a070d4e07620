"""Typed path parameters: a value the database cannot hold never reaches it.

A path id outside 1..2^31-1 (or not a number) names nothing, so ``web.app`` answers 404 for
any path parameter that fails these checks instead of passing it to SQL (where a too-large
integer raises ``OverflowError`` on SQLite and an out-of-range error on PostgreSQL).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: The largest value of a 32-bit signed INTEGER column (SQLite accepts more; PostgreSQL not).
MAX_ID = 2**31 - 1

#: A database id in a URL path (``/documents/{document_id}``).
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

#: A page number in a URL path, from 1.
PageNumber = Annotated[int, Path(ge=1, le=MAX_ID)]
