"""When a PDF's proven facts stand in for pypdf (archive.integrity.proven_facts, judge_pdf)."""

from archive.integrity import ObjectRef, PdfFacts, judge_pdf, proven_facts

SHA = "a" * 64
OTHER = "b" * 64


def pdf_ref(*, sha256: str | None = SHA, pages: int | None = 2, text: bool = True,
            proven: PdfFacts | None = None) -> ObjectRef:
    return ObjectRef("archive/a.pdf", 7, "pdf", sha256, 100, page_count=pages, expect_text=text,
                     proven=proven)


def test_facts_count_only_for_the_digest_the_record_holds() -> None:
    facts = PdfFacts(SHA, 2, True)
    assert proven_facts(pdf_ref(proven=facts)) == facts
    assert proven_facts(pdf_ref()) is None  # never verified
    assert proven_facts(pdf_ref(proven=PdfFacts(OTHER, 2, True))) is None  # other bytes
    assert proven_facts(pdf_ref(sha256=None, proven=PdfFacts(None, 2, True))) is None


def test_a_text_layer_never_looked_for_needs_pypdf() -> None:
    unknown = PdfFacts(SHA, 2, None)
    assert proven_facts(pdf_ref(text=True, proven=unknown)) is None
    assert proven_facts(pdf_ref(text=False, proven=unknown)) == unknown
    assert proven_facts(pdf_ref(text=False, proven=PdfFacts(SHA, 2, True))) is not None


def test_the_record_is_judged_against_the_facts() -> None:
    assert judge_pdf(pdf_ref(), PdfFacts(SHA, 2, True)) == []
    assert judge_pdf(pdf_ref(pages=None), PdfFacts(SHA, 5, True)) == []
    (pages,) = judge_pdf(pdf_ref(pages=3), PdfFacts(SHA, 2, True))
    assert (pages.kind, pages.detail["expected"], pages.detail["actual"]) == (
        "page_count_mismatch", 3, 2)
    assert [f.kind for f in judge_pdf(pdf_ref(), PdfFacts(SHA, 2, False))] == ["no_text_layer"]
    assert judge_pdf(pdf_ref(text=False), PdfFacts(SHA, 2, None)) == []
