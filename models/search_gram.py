"""Search grams (检索字组) of customers: the fast path of a one- or two-character search.

The customer list's search (``archive.customer_query.text_condition``) is a substring match
(``LIKE '%…%'``) on the name key, code, USCC, contact person, phone and contacts' names. On
PostgreSQL the trigram indexes of migration 0016 serve a term of three characters or more; a
shorter term has no trigram and would scan every customer and contact. ``customer_gram`` holds,
per customer, every character and every pair of adjacent characters (unigrams and bigrams) of
its name key, contact person and contacts' names that contain a non-ASCII character (Chinese
names), so such a term becomes an index look-up (migration 0018, both databases).

The rule that keeps results equal to the plain ``LIKE`` (:func:`lookup_grams`):

- A term whose compared forms (the stripped text, its name key, their upper case) each hold a
  non-ASCII character cannot match the code, USCC or phone: those hold ASCII only (generated
  ``CUS…`` codes, ``validate_uscc``, ``validate_phone``). Any other term (``13``, ``AB``) takes
  the plain path.
- Every value containing the term contains every gram of it; the look-up uses one gram per
  compared form (the form itself if it is one or two characters, else its first window holding
  a non-ASCII character), so the customers found by grams are a superset of the matches, and
  the query re-checks the plain ``LIKE`` on them.
- Grams are folded to ASCII lower case (SQLite's ``LIKE`` ignores ASCII case, PostgreSQL's
  does not: folding keeps the superset on both).

The rows are written by ``models.repo.search_grams.refresh_search_grams`` only.
"""

from __future__ import annotations

import string
from collections.abc import Iterable

from sqlmodel import Field, SQLModel

#: Longest term (in characters of the stripped text) that takes the gram path; longer terms
#: have trigrams (migration 0016).
SHORT_TERM = 2
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class CustomerGram(SQLModel, table=True):
    """One gram (one or two characters) of a customer's searchable names (migration 0018)."""

    __tablename__ = "customer_gram"

    gram: str = Field(max_length=2, primary_key=True)
    customer_id: int = Field(
        foreign_key="customer.id", primary_key=True, index=True, ondelete="CASCADE"
    )


def fold(text: str) -> str:
    """``text`` with ASCII letters in lower case (nothing else changes; the length stays)."""
    return text.translate(_ASCII_LOWER)


def search_grams(texts: Iterable[str | None]) -> set[str]:
    """The grams stored for these values: each character and each pair of adjacent characters
    of the folded value that holds a non-ASCII character."""
    out: set[str] = set()
    for text in texts:
        if not text:
            continue
        folded = fold(text)
        out.update(c for c in folded if not c.isascii())
        out.update(
            pair for i in range(len(folded) - 1) if not (pair := folded[i : i + 2]).isascii()
        )
    return out


def _form_gram(form: str) -> str:
    """The gram looked up for one compared form (holding a non-ASCII character)."""
    folded = fold(form)
    if len(folded) <= SHORT_TERM:
        return folded
    return next(pair for i in range(len(folded) - 1) if not (pair := folded[i : i + 2]).isascii())


def lookup_grams(text: str, key: str) -> set[str] | None:
    """The grams whose customers include every customer ``text`` matches, or None: the term is
    longer than :data:`SHORT_TERM` or could match an ASCII column (plain path).

    Args:
        text: The stripped search term (compared with the contact person, contacts' names and,
            upper case, the code).
        key: Its name key (``normalize_customer_name``; compared with the name key, the phone
            and, upper case, the USCC).
    """
    if len(text) > SHORT_TERM:
        return None
    if any(form.isascii() for form in (text, key, text.upper(), key.upper())):
        return None
    return {_form_gram(key), _form_gram(text)}
