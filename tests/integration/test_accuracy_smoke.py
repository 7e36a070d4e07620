"""A small fixed set through the real pipeline with the default engine: a regression in OCR,
layout ordering, classification or extraction shows here as a wrong type or key field."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bench.accuracy import PLAIN_TESSERACT, Case, line_cer, run_plain_tesseract, summarize
from bench.samples import generate, write_sample
from config import load_settings
from ingest.pipeline import PipelineParams, normalize_file

TODAY = date(2026, 11, 1)

#: (kind, seed, degradations, expected type, truth key -> field key)
CASES = [
    ("business_license", 51, ("noise",), "business_license",
     {"uscc": "uscc", "name": "name", "legal_representative": "legal_representative"}),
    ("id_card", 52, ("watermark", "noise"), "id_card",
     {"id_number": "id_number", "name": "name"}),
    ("bank_permit", 53, ("skew",), "bank_permit",
     {"depositor_name": "depositor_name", "approval_number": "approval_number"}),
    ("customer_form", 54, ("seal_over_text",), "customer_form",
     {"uscc": "uscc", "name": "customer_name"}),
    ("contract", 55, ("jpeg",), "contract", {"contract_number": "contract_number"}),
    ("business_license", 56, ("rotate270", "blur"), "business_license",
     {"uscc": "uscc", "name": "name"}),
    ("customer_form", 57, ("handwritten",), "customer_form",
     {"uscc": "uscc", "name": "customer_name", "phone": "phone"}),
    ("business_license", 58, ("phone_photo",), "business_license",
     {"uscc": "uscc", "name": "name", "legal_representative": "legal_representative"}),
    # a seal stamped over the name line hid it from the detector until seal ink was lifted
    ("business_license", 59, ("seal_over_text",), "business_license",
     {"uscc": "uscc", "name": "name", "legal_representative": "legal_representative"}),
    ("contract", 60, ("seal_over_text",), "contract",
     {"contract_number": "contract_number", "party_a": "party_a", "party_b": "party_b"}),
]


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> PipelineParams:
    home = tmp_path_factory.mktemp("home")
    return replace(PipelineParams.from_settings(load_settings(home=home)), today=TODAY)


@pytest.mark.parametrize(("kind", "seed", "degradations", "expected", "keys"), CASES,
                         ids=[f"{c[0]}-{'+'.join(c[2])}" for c in CASES])
def test_default_engine_reads_the_key_fields(
    tmp_path: Path, params: PipelineParams, kind: str, seed: int,
    degradations: tuple[str, ...], expected: str, keys: dict[str, str],
) -> None:
    sample = generate(kind, seed=seed, degradation=degradations)
    path = write_sample(sample, tmp_path / f"{kind}.png")
    result = normalize_file(path, params=params, work_dir=tmp_path / "out")
    (part,) = result.parts
    assert part.document_type == expected
    read = {truth_key: part.fields[field_key]["value"] for truth_key, field_key in keys.items()}
    assert read == {k: sample.truth["fields"][k] for k in keys}
    assert not {"invalid_check_digit", "unknown_type"} & set(part.reasons)
    assert line_cer(sample.truth["lines"], part.text) < 0.15


def test_line_cer_counts_errors_order_free() -> None:
    assert line_cer(["统一社会信用代码 91", "名称 某某"], "名称某某\n统一社会信用代码91") == 0
    assert line_cer(["ABCD"], "xxABXDyy") == pytest.approx(0.25)
    assert line_cer(["ABCD"], "") == 1.0


def test_plain_tesseract_yardstick_reads_the_page(tmp_path: Path) -> None:
    (result,) = run_plain_tesseract([Case("business_license", 11, ())], work=tmp_path)
    assert result.engine == PLAIN_TESSERACT and result.pages == 1 and result.seconds > 0
    assert result.cer < 0.3
    (row,) = summarize([result])
    assert row["classification"] == "—"  # plain tesseract does not classify
