"""Keys built by the naming rules round-trip exactly through both storage backends."""

from __future__ import annotations

import hashlib
import io
from datetime import date

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.naming import archive_key, first_free_key, original_key
from archive.storage import ObjectStore
from config.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
TEMPLATES = TAXONOMY.templates

names = st.one_of(
    st.none(),
    st.text(max_size=120),
    st.sampled_from(["北京某某科技有限公司", "../..", "CON", "e\u0301 .", "长" * 300, "a/b\\c"]),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    customer_name=names,
    customer_type=st.sampled_from([ct.label for ct in TAXONOMY.customer_types] + ["VIP/客户"]),
    document_type=st.sampled_from([dt.label for dt in TAXONOMY.document_types]),
    submitted=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
)
@example(
    customer_name="北京某某科技有限公司",
    customer_type="企业客户",
    document_type="营业执照",
    submitted=date(2024, 8, 1),
)
def test_naming_keys_round_trip(
    store: ObjectStore,
    customer_name: str | None,
    customer_type: str,
    document_type: str,
    submitted: date,
) -> None:
    fields = dict(
        templates=TEMPLATES,
        customer_type_label=customer_type,
        customer_name=customer_name,
        document_type_label=document_type,
        submitted=submitted,
        max_key_bytes=store.max_key_bytes,
    )
    for key in (archive_key(**fields), original_key(**fields, original_ext=".jpg")):
        data = key.encode("utf-8")
        info = store.put(key, io.BytesIO(data), content_type="application/pdf")
        assert info.key == key
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert store.head(key).key == key
        with store.open(key) as fh:
            assert fh.read() == data
        folder = key.rsplit("/", 1)[0] + "/"
        assert key in [o.key for o in store.iter_objects(folder)]
        taken = first_free_key(key, taken=store.exists)
        assert taken != key and taken.startswith(key.rsplit(".", 1)[0])
        store.put(taken, io.BytesIO(b"second"))
        assert store.head(taken).key == taken
        store.delete(taken)
        store.delete(key)
        assert not store.exists(key)
