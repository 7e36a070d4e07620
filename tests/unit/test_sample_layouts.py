"""The layouts added for issue 12 (bench/layouts.py), the link-order file set, and the accuracy
bench's per-field outcomes. Rendering only; OCR runs in tests/integration/test_layouts_ocr.py."""

from __future__ import annotations

import pytest

from bench.accuracy import ALL_FIELDS, KEY_FIELDS, Case, cases, field_outcomes, field_summary
from bench.linkorder import file_set
from bench.samples import generate, uscc_check_char
from models.validation import id_number_is_valid, validate_phone


def test_license_prints_the_code_under_its_label_and_a_date_after_the_address() -> None:
    sample = generate("business_license_qr", seed=41, dpi=100)
    lines, fields = sample.truth["lines"], sample.truth["fields"]
    assert lines[:2] == ["统一社会信用代码", fields["uscc"]]
    assert uscc_check_char(fields["uscc"][:17]) == fields["uscc"][17]
    assert sample.image.width > sample.image.height  # landscape, as the old license
    address_line = next(line for line in lines if line.startswith(fields["address"]))
    assert address_line != fields["address"]  # the registration date follows it directly
    assert fields["issue_date"][:4] in address_line
    # labels on their own line, the value under them (right column)
    assert lines[lines.index("注册资本") + 1] == fields["registered_capital"]


def test_forms_come_as_companies_and_individuals_with_tick_boxes() -> None:
    forms = [generate("customer_form_cells", seed=s, dpi=60).truth for s in range(41, 49)]
    kinds = {t["fields"]["customer_type"] for t in forms}
    assert kinds == {"企业客户", "个人客户"}
    for truth in forms:
        f = truth["fields"]
        assert validate_phone(f["phone"]) == f["phone"]
        type_line = next(line for line in truth["lines"] if line.startswith("*客户类型"))
        assert f"☑ {f['customer_type']}" in type_line and "□ " in type_line
        if f["customer_type"] == "个人客户":
            assert f["uscc"] is None and id_number_is_valid(f["id_number"])
            assert f["contact"] == f["name"]
        else:
            assert f["id_number"] is None and f["uscc"]
    assert any(line.startswith("*联系人") or " *联系人 " in line for line in forms[0]["lines"])


def test_handwritten_cells_differ_from_print_with_the_same_truth() -> None:
    printed = generate("customer_form_cells", seed=42, dpi=60)
    hand = generate("customer_form_cells", seed=42, degradation="handwritten", dpi=60)
    assert hand.truth["fields"] == printed.truth["fields"]
    assert hand.image.tobytes() != printed.image.tobytes()
    with pytest.raises(ValueError, match="customer_form"):
        generate("business_license_qr", seed=1, degradation="handwritten")


def test_identity_makes_one_customers_documents_agree() -> None:
    fs = file_set(61, dpi=60)
    rep_card, license_, person_card, form, bundle = fs.files.values()
    rep = rep_card[0].truth["fields"]["name"]
    assert license_[0].truth["fields"]["legal_representative"] == rep
    person = person_card[0].truth["fields"]
    assert form[0].truth["fields"]["name"] == person["name"]
    assert form[0].truth["fields"]["id_number"] == person["id_number"]
    other, contract = (s.truth["fields"] for s in bundle)
    assert other["name"] not in (contract["party_a"], contract["party_b"])
    assert sorted(fs.id_cards + fs.others) == sorted(fs.files)
    # without identity the same seed draws the same card as before
    assert generate("id_card", seed=61, dpi=60).truth == rep_card[0].truth


def test_the_layouts_set_is_in_all_and_every_kind_has_its_fields() -> None:
    layouts = cases(case_set="layouts")
    assert {c.kind for c in layouts} == {"business_license_qr", "customer_form_cells"}
    assert len(cases(case_set="all")) == len(cases()) + len(cases(case_set="extra")) + len(layouts)
    assert set(KEY_FIELDS) <= set(ALL_FIELDS)


def test_field_outcomes_tell_swallowed_from_flagged_and_empty_cells() -> None:
    truth = {
        "fields": {
            "name": "张丽",
            "address": "杭州市文三路94号",
            "uscc": None,
            "phone": "13176186762",
            "contact": "田斌",
            "email": "a@example.com",
        }
    }
    fields = {
        "customer_name": {"value": "张丽", "reasons": []},
        "address": {"value": "杭州市文三路94号2020年02月07日", "reasons": []},
        "uscc": {"value": "1", "reasons": []},
        "contact_person": {"value": "田斌131", "reasons": ["trimmed_label"]},
        "email": {"value": None, "reasons": []},
        "phone": {"value": "13176186763", "reasons": ["engines_agree"]},  # a note: no flag
    }
    outcomes = field_outcomes("customer_form", truth, fields)
    assert outcomes == {
        "name": "exact",
        "address": "swallowed",
        "uscc": "extra",
        "phone": "wrong",
        "contact": "wrong_flagged",
        "email": "missed",
    }
    result = type("R", (), {"engine": "e", "every_field": outcomes})()
    (row,) = field_summary([result])
    assert row["swallowed_unflagged"] == 1 and row["extra_values"] == 1
    assert row["codes_missed"] == 0  # no code was printed: the stray one is an extra value
    assert row["every_field_exact"].startswith("1/6")
    assert Case("customer_form", 1, ()).label == "clean"
