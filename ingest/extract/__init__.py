"""Extract the fields of a classified document from its OCR text (pure functions).

Labels, patterns and field kinds are data (config/understanding.toml, loaded by
:mod:`ingest.extraction_rules`). The text is normalized line by line (half-width, no spaces),
split at the printed labels into label/value segments (:mod:`.segments`), each value is cut at
what it swallowed from its neighbours (:mod:`.bounds`) and converted by its kind
(:mod:`.convert`). Codes with check digits (USCC, ID number) are checked and repaired only if
exactly one OCR-confusion candidate validates, and looked for by validity anywhere on the page
(:mod:`.codes`). Doubts are review reasons on the field, never exceptions.
"""

from ingest.extract.core import cross_check_id, extract_fields

__all__ = ["cross_check_id", "extract_fields"]
