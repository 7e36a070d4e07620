"""Two byte-identical copies in one batch, two workers at once: exactly one is filed, the
other is refused as a duplicate (the exact-duplicate refusal is atomic at filing time)."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from app.intake_pass import run_pass
from models.db import make_engine, upgrade_to_head
from tests.fixtures.ingest import all_documents, drop_sample, intake_files, stored_objects

pytest_plugins = ["tests.fixtures.ingest"]


@pytest.fixture
def migrated(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.mark.timeout(600)
def test_two_identical_copies_with_two_workers_file_once(
    migrated: Engine, make_settings, local_store, ingest_services
) -> None:
    settings = make_settings(workers=2)
    first = drop_sample(Path(settings.intake_dir), "a.png", "business_license", seed=81)
    shutil.copyfile(first, first.with_name("b.png"))

    services = ingest_services(engine=migrated, store=local_store, settings=settings, workers=2)
    report = run_pass(services, settle=False)

    kinds = Counter(o.kind for o in report.outcomes)
    assert kinds["duplicate"] == 1, kinds
    assert kinds["archived"] + kinds["needs_review"] == 1, kinds
    documents = all_documents(migrated)
    assert len(documents) == 1
    assert set(stored_objects(local_store)) == {documents[0].pdf_key, documents[0].original_key}
    assert intake_files(settings) == []
