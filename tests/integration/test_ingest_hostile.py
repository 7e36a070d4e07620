"""The hostile corpus through the WHOLE ingestion path, in one pass.

Every file of tests/resources/hostile/ is copied into an intake and one pass runs (no settle
time) with a per-file time limit and a memory bound. Each file must end up exactly once either
filed (its original in the store, byte for byte) or in quarantine with a SPECIFIC reason (never
``internal``) and a ``.error.json`` whose sha256 is the manifest's. The expected outcome of
every file is listed below, so a regression shows by name.

The 117-page book (pdfsamples__GeoTopo-komprimiert.pdf) carries a text layer on every page: it
is kept as a text PDF without OCR, so it is filed within the default page limit and costs a few
seconds, not minutes. Image pages are processed at 200 DPI here to keep the pass short.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from app.intake_pass import run_pass
from archive.storage import ObjectStore
from tests.fixtures.corpus import corpus_dir
from tests.fixtures.ingest import (
    all_documents,
    error_record,
    intake_files,
    quarantined_files,
    sha256_path,
    stored_objects,
    work_claims,
)

pytest_plugins = ["tests.fixtures.ingest"]

INGESTED = "ingested"

# file -> INGESTED or the quarantine reason code
EXPECTED: dict[str, str] = {
    "derived__zero-bytes.pdf": "empty",
    "pdfsamples__GeoTopo-komprimiert.pdf": INGESTED,  # 117 text pages, kept without OCR
    "pdfsamples__cmyk-image.pdf": INGESTED,
    "pdfsamples__google-doc-document.pdf": INGESTED,
    "pdfsamples__imagemagick-CCITTFaxDecode.pdf": INGESTED,
    "pdfsamples__libreoffice-writer-password.pdf": "encrypted",
    "pdfsamples__mistitled_outlines_example.pdf": INGESTED,
    "pdfsamples__unreadablemetadata.pdf": "corrupt",
    "pdfsamples__with-attachment.pdf": INGESTED,
    "pillow__16bit.MM.deflate.tif": INGESTED,
    "pillow__broken.png": "corrupt",
    "pillow__broken_data_stream.png": "corrupt",
    "pillow__crash-0da013a13571cc8eb457a39fee8db18f8a3c7127.tif": INGESTED,
    "pillow__crash-2020-10-test.tif": "corrupt",
    "pillow__decompression_bomb.gif": "too_large",
    "pillow__decompression_bomb_extents.gif": INGESTED,  # first frame only
    "pillow__exif-dpi-zerodivision.jpg": INGESTED,
    "pillow__g4-multi.tiff": INGESTED,
    "pillow__hopper_bad_exif.jpg": INGESTED,
    "pillow__hopper_orientation_6.jpg": INGESTED,
    "pillow__iss634.webp": INGESTED,
    "pillow__junk_jpeg_header.jpg": INGESTED,
    "pillow__not_enough_data.jp2": "corrupt",
    "pillow__old-style-jpeg-compression.tif": INGESTED,
    "pillow__oom-225817ca0f8c663be7ab4b9e717b02c661e66834.tif": "corrupt",
    "pillow__orientation_rectangle.jpg": INGESTED,
    "pillow__p_trns_single.png": INGESTED,
    "pillow__pil_sample_cmyk.jpg": INGESTED,
    "pillow__pport_g4.tif": INGESTED,
    "pillow__seek_too_large.tif": "corrupt",
    "pillow__test-card-lossy-tiled.jp2": INGESTED,
    "pillow__timeout-6646305047838720": "corrupt",
    "pillow__timeout-c60a3d7314213624607bfb3e38d551a8b24a7435.dds": "unsupported",
    "pillow__truncated_image.png": "corrupt",
    "pillow__truncated_jpeg.jpg": "corrupt",
    "pypdf__SF424_page2.pdf": INGESTED,
    "pypdf__Seige_of_Vicksburg_Sample_OCR.pdf": INGESTED,
    "pypdf__encrypted_doc_no_id.pdf": INGESTED,
    "pypdf__indirect-rotation.pdf": INGESTED,
    "pypdf__indirect-rotation.truncated-63939B.pdf": "corrupt",
    "pypdf__issue-297.pdf": INGESTED,
    "pypdf__issue-3850-1bit-indexed-flate.pdf": INGESTED,
    "pypdf__issue-914-xmp-data.pdf": INGESTED,
    "pypdf__multilang.pdf": INGESTED,
    "pypdf__r2-user-password.pdf": "encrypted",
    "pypdf__r4-aes-v2-no-key-length.pdf": INGESTED,
    "pypdf__r4-owner-password.pdf": INGESTED,
    "pypdf__r6-both-passwords.pdf": "encrypted",
    "pypdf__r6-empty-password.pdf": INGESTED,
    "pypdf__test Orient.pdf": INGESTED,
}



def manifest_sha256() -> dict[str, str]:
    path = corpus_dir() / "MANIFEST.tsv"
    assert path.is_file(), f"hostile corpus missing: {path}"
    with open(path, encoding="utf-8", newline="") as f:
        return {row["file"]: row["sha256"] for row in csv.DictReader(f, delimiter="\t")}


def test_the_table_covers_exactly_the_corpus() -> None:
    on_disk = {p.name for p in corpus_dir().iterdir() if p.name != "MANIFEST.tsv"}
    assert set(manifest_sha256()) == on_disk
    assert set(EXPECTED) == on_disk
    assert "internal" not in EXPECTED.values()


@pytest.mark.timeout(1800)
def test_the_hostile_corpus_runs_through_the_whole_path(
    make_settings, sqlite_engine: Engine, local_store: ObjectStore, ingest_services
) -> None:
    # The per-file limit is the product's (a hang ends as "timeout"), not a speed goal: the
    # 13 x 16 inch G4 fax page (pillow__pport_g4.tif) passed 120 s once on a machine at load 5.
    settings = make_settings(file_timeout_seconds=600, memory_limit_mb=2048)
    manifest = manifest_sha256()
    for name in manifest:
        shutil.copyfile(corpus_dir() / name, Path(settings.intake_dir) / name)

    services = ingest_services(engine=sqlite_engine, store=local_store, settings=settings)
    report = run_pass(services, settle=False)

    outcomes = {o.source: o for o in report.outcomes}
    assert len(report.outcomes) == len(manifest), "a file was reported twice or not at all"
    assert set(outcomes) == set(manifest)
    documents = all_documents(sqlite_engine)
    objects = stored_objects(local_store)
    quarantined = quarantined_files(settings)
    actual = {
        name: INGESTED if o.kind in ("archived", "needs_review") else str(o.reason)
        for name, o in outcomes.items()
    }
    wrong = {
        n: (actual[n], EXPECTED[n], outcomes[n].message) for n in actual if actual[n] != EXPECTED[n]
    }
    assert not wrong, f"unexpected outcomes (actual, expected, message): {wrong}"

    for name, sha in manifest.items():
        docs = [d for d in documents if d.original_sha256 == sha]
        if EXPECTED[name] == INGESTED:
            assert docs, name
            assert name not in quarantined, f"{name} both filed and quarantined"
            for doc in docs:
                assert objects[doc.original_key] == sha, name
                assert objects[doc.pdf_key] == doc.pdf_sha256, name
        else:
            assert not docs, f"{name} both quarantined and filed"
            path = quarantined[name]
            assert path.parent.parent.name == EXPECTED[name]
            assert sha256_path(path) == sha, f"{name}: quarantined bytes differ"
            record = error_record(path)
            assert record["sha256"] == sha and record["reason"] == EXPECTED[name]
            assert record["message"], name
    assert len(quarantined) == sum(1 for v in EXPECTED.values() if v != INGESTED)
    assert intake_files(settings) == []
    assert work_claims(settings) == []
    assert report.counts.get("retry", 0) == 0
