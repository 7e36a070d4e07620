"""Searchable PDF output: image pages + tesseract's text layer, merged with pypdf."""

import io
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from bench.samples import generate
from ingest.errors import CorruptFileError, IngestError, OcrError
from ingest.ocr.base import OcrParams, normalize_ocr_text
from ingest.ocr.tesseract import TesseractEngine
from ingest.pdfout import KeptPage, PagePdf, build_searchable_pdf, encode_page_image
from ingest.preprocess import prepare_page

A4_POINTS = (595.4, 841.9)


def _size(page) -> tuple[float, float]:
    return (float(page.mediabox.width), float(page.mediabox.height))


def _text(page) -> str:
    return normalize_ocr_text(page.extract_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list, list[PagePdf]]:
    """A three-page scan (rotated, skewed licence; blank back; faxed contract) made searchable."""
    engine = TesseractEngine()
    samples = [generate("business_license", seed=5, degradation=("rotate270", "skew")),
               generate("blank", seed=5, degradation="show_through"),
               generate("contract", seed=5, degradation="fax")]
    pages = []
    for sample in samples:
        prepared = prepare_page(sample.image, engine=engine)
        layer = None if prepared.is_blank else engine.recognize(
            prepared.image, params=OcrParams()).text_pdf
        pages.append(PagePdf(image=prepared.image, text_pdf=layer))
    out = build_searchable_pdf(pages, tmp_path_factory.mktemp("pdf") / "客户资料.pdf")
    return out, samples, pages


def test_output_opens_with_right_pages_sizes_and_text(built) -> None:
    out, samples, _ = built
    reader = PdfReader(out)
    assert len(reader.pages) == 3
    license_page, blank_page, contract_page = reader.pages
    assert sorted(_size(license_page)) == pytest.approx(sorted(A4_POINTS), abs=2)
    assert _size(license_page)[0] > _size(license_page)[1]  # upright licence is landscape
    assert _size(contract_page) == pytest.approx(A4_POINTS, abs=2)
    assert samples[0].truth["fields"]["uscc"] in _text(license_page)
    assert "营业执照" in _text(license_page)
    assert _text(blank_page) == ""
    assert samples[2].truth["fields"]["contract_number"] in _text(contract_page)


def test_file_size_is_sane(built) -> None:
    out, _, _ = built
    assert out.stat().st_size < 1_200_000  # three 300-dpi pages, not tens of megabytes
    assert not list(out.parent.glob(".*.part"))


def test_mixed_pdf_keeps_text_pages_in_order(built, tmp_path: Path) -> None:
    source, samples, pages = built
    mixed = build_searchable_pdf(
        [KeptPage(source=source, page_index=2), pages[0], KeptPage(source=source, page_index=1)],
        tmp_path / "mixed.pdf")
    reader = PdfReader(mixed)
    assert len(reader.pages) == 3
    assert samples[2].truth["fields"]["contract_number"] in _text(reader.pages[0])
    assert samples[0].truth["fields"]["uscc"] in _text(reader.pages[1])
    assert _text(reader.pages[2]) == ""


def test_image_only_page_size_follows_dpi(tmp_path: Path) -> None:
    low = generate("customer_form", seed=1, degradation="lowres").image
    reader = PdfReader(build_searchable_pdf([PagePdf(image=low)], tmp_path / "low.pdf"))
    assert _size(reader.pages[0]) == pytest.approx(A4_POINTS, abs=2)
    assert _text(reader.pages[0]) == ""


def test_page_images_are_compressed_by_kind() -> None:
    fax = generate("contract", seed=1, degradation="fax").image
    assert encode_page_image(fax)[:4] in (b"II*\x00", b"MM\x00*")  # CCITT G4 TIFF
    assert len(encode_page_image(fax)) < 100_000
    form = generate("customer_form", seed=1).image
    with Image.open(io.BytesIO(encode_page_image(form))) as im:
        assert (im.format, im.mode) == ("JPEG", "L")  # black on white: stored grey
    with Image.open(io.BytesIO(encode_page_image(generate("bank_permit", seed=1).image))) as im:
        assert (im.format, im.mode) == ("JPEG", "RGB")  # the red seal stays red


def test_kept_page_from_a_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not a pdf")
    with pytest.raises(CorruptFileError):
        build_searchable_pdf([KeptPage(source=broken, page_index=0)], tmp_path / "o.pdf")
    assert not (tmp_path / "o.pdf").exists()


def test_unreadable_text_layer_and_no_pages_are_refused(tmp_path: Path) -> None:
    image = generate("blank", seed=1, dpi=100).image
    with pytest.raises(OcrError):
        build_searchable_pdf([PagePdf(image=image, text_pdf=b"garbage")], tmp_path / "o.pdf")
    with pytest.raises(IngestError):
        build_searchable_pdf([], tmp_path / "o.pdf")
