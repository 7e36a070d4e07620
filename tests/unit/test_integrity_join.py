"""The merge of database references with the store listing (archive.integrity.join_by_key)."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from archive.integrity import ObjectRef, join_by_key
from archive.storage.base import ObjectInfo

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ref(key: str, doc: int = 1) -> ObjectRef:
    return ObjectRef(key, doc, "pdf", None, None)


def info(key: str) -> ObjectInfo:
    return ObjectInfo(key=key, size=1, last_modified=NOW)


def test_matches_missing_and_orphans_are_told_apart() -> None:
    refs = [ref("archive/a.pdf"), ref("archive/b.pdf", 2), ref("archive/b.pdf", 3), ref("z")]
    listing = [info("archive/a.pdf"), info("archive/a2.pdf"), info("archive/b.pdf"), info("y")]
    out = [
        ([r.document_id for r in rs], i and i.key, u and u.key)
        for rs, i, u in join_by_key(refs, listing)
    ]
    assert out == [
        ([1], "archive/a.pdf", None),
        ([], None, "archive/a2.pdf"),  # orphan between two references
        ([2, 3], "archive/b.pdf", None),  # one object shared by two documents
        ([], None, "y"),
        ([1], None, None),  # referenced, not listed: missing
    ]


@given(
    st.sets(st.text("ab中文/", min_size=1, max_size=4), max_size=12),
    st.sets(st.text("ab中文/", min_size=1, max_size=4), max_size=12),
)
def test_every_reference_and_every_listed_object_appears_exactly_once(refd, listed) -> None:
    refs = [ref(k) for k in sorted(refd)]
    listing = [info(k) for k in sorted(listed)]
    seen_refs, seen_listed = [], []
    for rs, i, u in join_by_key(refs, listing):
        seen_refs += [r.key for r in rs]
        seen_listed += [x.key for x in (i, u) if x is not None]
        if i is not None:
            assert all(r.key == i.key for r in rs)
    assert seen_refs == sorted(refd)
    assert sorted(seen_listed) == sorted(listed)
    assert {k for rs, i, _u in join_by_key(refs, listing) if i for k in [i.key]} == refd & listed
