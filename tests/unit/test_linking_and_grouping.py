"""Pure rules of linking, filing status and bundle grouping."""

import pytest

from archive.filing import decide_status
from archive.linking import field_value, infer_customer_type, normalize_name, plausible_name
from ingest.classify import Classification
from ingest.pipeline import group_documents


def test_names_match_across_full_and_half_width_brackets_and_spaces():
    assert normalize_name("北京某某（上海）科技 有限公司") == normalize_name(
        "北京某某(上海)科技有限公司"
    )
    assert normalize_name("ＡＢＣ公司") == "ABC公司"


@pytest.mark.parametrize(
    ("name", "ctype", "ok"),
    [
        ("张三", "individual", True),
        ("阿依古丽·买买提", "individual", True),
        ("OSs", "individual", False),
        ("王", "individual", False),
        ("北京某某科技有限公司", "enterprise", True),
        ("fA公司", "enterprise", False),
    ],
)
def test_only_plausible_names_create_customers(name, ctype, ok):
    assert plausible_name(name, ctype) is ok


def test_field_value_reads_plain_and_structured_fields():
    fields = {"a": {"value": " x "}, "b": "y", "c": {"value": None}, "d": ""}
    assert [field_value(fields, k) for k in "abcde"] == ["x", "y", None, None, None]


def test_customer_type_is_inferred_from_the_document():
    assert infer_customer_type("id_card", {}) == "individual"
    assert infer_customer_type("business_license", {"uscc": {"value": "X"}}) == "enterprise"
    assert infer_customer_type("contract", {"id_number": {"value": "1"}}) == "individual"


def test_status_under_each_review_policy():
    assert decide_status(["second_check"], policy="all", is_new_version=False) == "pending_review"
    assert decide_status(["second_check"], policy="anomalies", is_new_version=False) == "archived"
    assert decide_status([], policy="anomalies", is_new_version=False) == "archived"
    assert decide_status(["expired"], policy="anomalies", is_new_version=False) == "pending_review"
    assert decide_status([], policy="anomalies", is_new_version=True) == "updating"


def _c(t, side=None, conf=0.9):
    return Classification(t, conf if t != "other" else 0.0, side, [])


def test_a_file_with_one_known_type_stays_one_document():
    groups = group_documents([_c("contract"), _c("other"), _c("other")], content_pages=[0, 1, 2])
    assert groups == [("contract", 0.9, None, [0, 1, 2])]


def test_a_file_of_unknown_pages_is_one_other_document():
    groups = group_documents([_c("other"), _c("other")], content_pages=[0, 2])
    assert [(g[0], g[3]) for g in groups] == [("other", [0, 2])]


def test_a_bundle_is_split_per_type_and_unknown_pages_stay_with_their_neighbour():
    cls = [
        _c("other"),
        _c("customer_form"),
        _c("business_license"),
        _c("id_card", "front"),
        _c("id_card", "back"),
        _c("other"),
    ]
    groups = group_documents(cls, content_pages=[0, 1, 2, 4, 5, 6])
    assert [(g[0], g[3]) for g in groups] == [
        ("customer_form", [0, 1]),
        ("business_license", [2]),
        ("id_card", [4, 5, 6]),
    ]
