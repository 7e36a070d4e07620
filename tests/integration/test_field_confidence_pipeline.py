"""Field confidence through the real pipeline (OCR by the default engine): every wrong value of
a generated page is flagged, a page read right carries no doubt, and confidences come from the
engine's scores instead of a flat 0.9."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bench.flags import field_flags
from bench.samples import generate, write_sample
from config import load_settings
from ingest.extract.confidence import AGREED_CONFIDENCE, DOUBT_CAP, is_flagged
from ingest.pipeline import PipelineParams, normalize_file

TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> PipelineParams:
    home = tmp_path_factory.mktemp("home")
    return replace(PipelineParams.from_settings(load_settings(home=home)), today=TODAY)


def _read(tmp_path: Path, params: PipelineParams, kind: str, seed: int, degradation=()):
    sample = generate(kind, seed=seed, degradation=degradation)
    path = write_sample(sample, tmp_path / f"{kind}.png")
    (part,) = normalize_file(path, params=params, work_dir=tmp_path / "out").parts
    return sample, part


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("kind", "seed"), [("business_license", 11), ("customer_form", 31)])
def test_every_wrong_value_is_flagged(
    tmp_path: Path, params: PipelineParams, kind: str, seed: int
) -> None:
    degradation = ("handwritten",) if kind == "customer_form" else ()
    sample, part = _read(tmp_path, params, kind, seed, degradation)
    flags = field_flags(kind, sample.truth["fields"], part.fields)
    missed = [name for name, (right, flagged) in flags.items() if not right and not flagged]
    assert missed == []
    if any(not right for right, _ in flags.values()):
        assert "doubtful_field" in part.reasons or "missing_field" in part.reasons
    # the engine's scores, not one flat number: values differ, and some are neither a whole
    # score nor one of our constants (a clean page reads most fields at 1.0, so no count of
    # distinct values is promised)
    valued = {f["confidence"] for f in part.fields.values() if f.get("value") is not None}
    assert len(valued) > 1, valued
    assert valued - {1.0, 0.9, AGREED_CONFIDENCE, DOUBT_CAP}, valued


@pytest.mark.timeout(300)
def test_a_permit_read_right_carries_no_doubt(tmp_path: Path, params: PipelineParams) -> None:
    sample, part = _read(tmp_path, params, "bank_permit", 11)
    flags = field_flags("bank_permit", sample.truth["fields"], part.fields)
    assert all(right for right, _ in flags.values())
    assert [name for name, f in part.fields.items() if is_flagged(f)] == []
    assert "doubtful_field" not in part.reasons
