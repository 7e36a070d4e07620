"""Accuracy benchmark: generated documents through the real pipeline, per OCR engine setting.

``python -m bench.accuracy [--engines tesseract-cli,tesseract,cascade] [--set standard|extra|all]
[--limit N] [--seeds 13] [--out F]``

Each document (bench/samples.py, known ground truth) is written as a PNG and run through
``ingest.pipeline.normalize_file``, as ingestion does; the pseudo-engine ``tesseract-cli`` is
plain tesseract as users run it (``tesseract page.png out -l chi_sim+eng``, default page
segmentation, one thread, text only) on the same PNG files: the seconds-per-page yardstick, with
its character error rate. Reported per engine, per document type
and per degradation: classification accuracy, exact-match rate of the key fields (USCC, ID
number, names, numbers), character error rate of the OCR text against the printed lines
(order-free: each line against its best stretch of the text), seconds per page (the whole
``normalize_file``, and of it ``ocr_s_per_page``: page preparation, OCR and code re-reads, the
part an OCR engine is answerable for); and the number
of documents whose USCC or ID number is invalid or wrong yet would be ``archived`` directly
under ``review_policy = "anomalies"`` (must be 0).

Case sets (``--set``): ``standard`` (default, 112 documents: every type in ``KINDS`` clean and
under each of ``DEGRADATIONS``, seeds 11 and 12, plus watermarked ID photocopies, seeds 21-23);
``extra`` (15 documents: customer forms filled in by hand, seeds 31-33, and seed 31 also with
noise and photographed by a phone; every type in ``KINDS`` photographed by a phone, seeds 31
and 32); ``layouts`` (28 documents, issue 12: the current license with its code under the label
beside a QR block and the ruled form with ``*`` labels, two pairs a row, tick boxes and
handwritten cells, ``LAYOUT_CASES`` x ``LAYOUT_SEEDS``); ``all`` (the three). ``--limit`` picks a
spread from the chosen set.

Besides the key fields, every printed field is compared (``ALL_FIELDS``; outcomes in
``OUTCOMES``: a value holding its neighbour's text without a review reason is ``swallowed``).
``--links SEEDS`` adds the order-independence check and unlinked rate of
:mod:`bench.linkorder`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from archive.filing import decide_status
from bench import flags as flag_table
from bench.samples import generate, write_sample
from config import load_settings
from ingest.extract.confidence import is_flagged
from ingest.fields import compact, format_amount, parse_amount
from ingest.pipeline import NormalizedFile, PipelineParams, normalize_file
from models.validation import id_number_is_valid, uscc_is_valid

#: Document types and the degradations every type gets (None = clean).
KINDS = ("business_license", "id_card", "bank_permit", "customer_form", "contract")
DEGRADATIONS: tuple[tuple[str, ...], ...] = (
    (), ("noise",), ("blur",), ("skew",), ("rotate90",), ("rotate270",), ("lowres",),
    ("jpeg",), ("seal_over_text",), ("fax",),
)
#: ID photocopies under a diagonal watermark, alone and with other damage.
ID_COPY_DEGRADATIONS: tuple[tuple[str, ...], ...] = (
    ("watermark",), ("watermark", "noise"), ("watermark", "blur"), ("watermark", "jpeg"),
)
SEEDS = (11, 12)
ID_COPY_SEEDS = (21, 22, 23)
#: The extra set: hand-filled customer forms, and every type photographed by a phone.
HANDWRITTEN_SEEDS = (31, 32, 33)
HANDWRITTEN_DEGRADATIONS: tuple[tuple[str, ...], ...] = (
    ("handwritten", "noise"), ("handwritten", "phone_photo"),
)
PHONE_PHOTO_SEEDS = (31, 32)
#: The layouts of issue 12 (bench/layouts.py): the current license (code under its label
#: beside a QR block, labels above values, the address followed by a date) and the ruled form
#: (``*`` labels, two pairs a row, tick boxes, values by hand in their cells); seeds 41 and 44
#: give a company's form, 43 and 45 an individual's.
LAYOUT_SEEDS = (41, 43, 44, 45)
LAYOUT_CASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("business_license_qr", ()), ("business_license_qr", ("noise",)),
    ("business_license_qr", ("skew",)), ("customer_form_cells", ()),
    ("customer_form_cells", ("handwritten",)), ("customer_form_cells", ("handwritten", "noise")),
    ("customer_form_cells", ("skew",)),
)
CASE_SETS = ("standard", "extra", "layouts", "all")
EXPECTED_TYPE = {"business_license": "business_license", "id_card": "id_card",
                 "bank_permit": "bank_permit", "customer_form": "customer_form",
                 "contract": "contract", "business_license_qr": "business_license",
                 "customer_form_cells": "customer_form"}
#: Truth key -> extracted field key, per kind: the fields compared exactly.
KEY_FIELDS = {
    "business_license": {"uscc": "uscc", "name": "name",
                         "legal_representative": "legal_representative"},
    "id_card": {"id_number": "id_number", "name": "name", "birth_date": "birth_date"},
    "bank_permit": {"approval_number": "approval_number", "depositor_name": "depositor_name",
                    "account_number": "account_number"},
    "customer_form": {"uscc": "uscc", "name": "customer_name", "phone": "phone"},
    "contract": {"contract_number": "contract_number", "party_a": "party_a",
                 "party_b": "party_b"},
}
KEY_FIELDS["business_license_qr"] = KEY_FIELDS["business_license"]
KEY_FIELDS["customer_form_cells"] = {**KEY_FIELDS["customer_form"], "id_number": "id_number",
                                     "customer_type": "customer_type"}
CODE_FIELDS = ("uscc", "id_number")
TODAY = date(2026, 11, 1)


@dataclass(frozen=True)
class Case:
    kind: str
    seed: int
    degradations: tuple[str, ...]

    @property
    def label(self) -> str:
        return "+".join(self.degradations) or "clean"


@dataclass
class Result:
    engine: str
    kind: str
    degradation: str
    seed: int
    classified: str
    type_ok: bool
    fields: dict[str, bool]
    cer: float
    seconds: float
    pages: int
    bad_code_archived: bool
    reasons: list[str]
    ocr_seconds: float = 0.0  # of ``seconds``: page preparation, OCR and code re-reads
    every_field: dict[str, str] = field(default_factory=dict)  # :func:`field_outcomes`
    # The flag table (bench/flags.py): field -> [right, flagged]; no reading doubt at all.
    flags: dict[str, list[bool]] = field(default_factory=dict)
    doubt_free: bool = False


def cases(
    limit: int | None = None, case_set: str = "standard", seeds: Sequence[int] | None = None
) -> list[Case]:
    """The benchmark set, interleaved so ``limit`` keeps a spread.

    ``case_set``: ``standard`` (>= 100 documents), ``extra`` (hand-filled forms and phone
    photos, :func:`extra_cases`) or ``all`` (both, standard first). ``seeds`` replaces the
    seeds of the standard and layouts sets (held-out documents the rules never saw, e.g. 13
    or 46,47; the watermarked copies and the extra set keep theirs).
    """
    if case_set not in CASE_SETS:
        raise ValueError(f"unknown case set {case_set!r}; choose from {CASE_SETS}")
    out: list[Case] = []
    if case_set in ("standard", "all"):
        out += [Case(k, s, d) for s in seeds or SEEDS for d in DEGRADATIONS for k in KINDS]
        if seeds is None:
            out += [Case("id_card", s, d) for s in ID_COPY_SEEDS for d in ID_COPY_DEGRADATIONS]
    if case_set in ("extra", "all") and seeds is None:
        out += extra_cases()
    if case_set in ("layouts", "all"):
        out += [Case(k, s, d) for s in seeds or LAYOUT_SEEDS for k, d in LAYOUT_CASES]
    if limit is not None and limit < len(out):
        out = [out[i * len(out) // limit] for i in range(limit)]
    return out


def extra_cases() -> list[Case]:
    """Inputs the standard set lacks: hand-filled customer forms and phone photos."""
    out = [Case("customer_form", s, ("handwritten",)) for s in HANDWRITTEN_SEEDS]
    out += [Case("customer_form", HANDWRITTEN_SEEDS[0], d) for d in HANDWRITTEN_DEGRADATIONS]
    out += [Case(k, s, ("phone_photo",)) for s in PHONE_PHOTO_SEEDS for k in KINDS]
    return out


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def line_cer(truth_lines: Iterable[str], text: str) -> float:
    """Character error rate of the printed lines against the OCR text, order-free.

    Each true line (compacted: no spaces, half-width) is aligned to its best-matching stretch
    of the compacted text (edit distance with free start and end in the text); the sum of
    distances over the sum of line lengths.
    """
    target = compact(text)
    errors = total = 0
    for line in truth_lines:
        line = compact(line)
        if not line:
            continue
        errors += _best_stretch_distance(line, target)
        total += len(line)
    return errors / total if total else 0.0


def _best_stretch_distance(pattern: str, text: str) -> int:
    previous = [0] * (len(text) + 1)  # free start anywhere in the text
    for i, p in enumerate(pattern, start=1):
        current = [i] + [0] * len(text)
        for j, t in enumerate(text, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (p != t))
        previous = current
    return min(previous)  # free end


def _norm(value: object) -> str:
    return compact(unicodedata.normalize("NFKC", str(value or ""))).rstrip("。.")


def score(case: Case, truth: dict, normalized: NormalizedFile, *, engine: str) -> Result:
    """Compare one pipeline result with the ground truth."""
    part = max(normalized.parts, key=lambda p: len(p.pages)) if normalized.parts else None
    classified = part.document_type if part else "none"
    fields = part.fields if part else {}
    checks = {
        truth_key: _norm(fields.get(field_key, {}).get("value")) == _norm(
            truth["fields"].get(truth_key))
        for truth_key, field_key in KEY_FIELDS[case.kind].items()
    }
    text = "\n".join(p.text for p in normalized.parts)
    return Result(
        engine=engine, kind=case.kind, degradation=case.label, seed=case.seed,
        classified=classified, type_ok=classified == EXPECTED_TYPE[case.kind], fields=checks,
        cer=round(line_cer(truth["lines"], text), 4), seconds=normalized.seconds,
        ocr_seconds=normalized.ocr_seconds,
        pages=normalized.page_count, bad_code_archived=any(
            _bad_code_archived(p.fields, p.reasons, truth) for p in normalized.parts),
        reasons=sorted({r for p in normalized.parts for r in p.reasons}),
        every_field=field_outcomes(case.kind, truth, fields),
        flags=flag_table.field_flags(case.kind, truth["fields"], fields),
        doubt_free=flag_table.doubt_free(fields),
    )


# ---------------------------------------------------------------------------------------------
# Every field (issue 12): exactness per field, swallowed neighbours, codes missed
# ---------------------------------------------------------------------------------------------

_LICENSE_FIELDS = {
    "uscc": "uscc", "name": "name", "company_type": "company_type",
    "legal_representative": "legal_representative", "registered_capital": "registered_capital",
    "established": "established_date", "term_start": "term_start", "term_end": "term_end",
    "address": "address", "business_scope": "business_scope",
}
_FORM_FIELDS = {
    "name": "customer_name", "customer_type": "customer_type", "uscc": "uscc",
    "legal_representative": "legal_representative", "contact": "contact_person",
    "phone": "phone", "email": "email", "address": "address", "industry": "industry",
    "source": "source_channel", "filled_date": "filled_date",
}
#: Truth key -> extracted field key, per kind: every field a document of the kind prints.
ALL_FIELDS: dict[str, dict[str, str]] = {
    "business_license": _LICENSE_FIELDS,
    "business_license_qr": {**_LICENSE_FIELDS, "issue_date": "issue_date"},
    "id_card": {"name": "name", "gender": "gender", "ethnicity": "ethnicity",
                "birth_date": "birth_date", "address": "address", "id_number": "id_number",
                "issuer": "issuing_authority", "valid_from": "valid_from", "valid_to": "valid_to"},
    "bank_permit": {"approval_number": "approval_number", "serial_number": "serial_number",
                    "depositor_name": "depositor_name",
                    "legal_representative": "legal_representative", "bank": "bank_name",
                    "account_number": "account_number", "issue_date": "issue_date"},
    "customer_form": _FORM_FIELDS,
    "customer_form_cells": {**_FORM_FIELDS, "id_number": "id_number"},
    "contract": {"contract_number": "contract_number", "title": "contract_name",
                 "party_a": "party_a", "party_b": "party_b", "signed_date": "signed_date",
                 "amount": "amount"},
}
#: Outcomes of one field: read exactly; nothing read though printed; a value read where none is
#: printed; the printed value plus its neighbour's text, not flagged; wrong but flagged for
#: review; wrong and not flagged.
OUTCOMES = ("exact", "missed", "extra", "swallowed", "wrong_flagged", "wrong")
_AMOUNT_FIELDS = ("registered_capital", "amount")


def _expected(truth_key: str, value: object) -> str:
    """A printed truth value in the form extraction gives it."""
    if value is None:
        return "长期" if truth_key == "term_end" else ""
    if truth_key in _AMOUNT_FIELDS:
        parsed = parse_amount(str(value))
        return format_amount(parsed[0]) if parsed else _norm(value)
    return _norm(value)


def field_outcomes(kind: str, truth: dict, fields: dict) -> dict[str, str]:
    """Each printed field's outcome (one of ``OUTCOMES``) for one document."""
    out = {}
    for truth_key, field_key in ALL_FIELDS.get(kind, {}).items():
        if truth_key not in truth["fields"]:
            continue
        expected = _expected(truth_key, truth["fields"][truth_key])
        found = fields.get(field_key, {})
        got = _norm(found.get("value"))
        if got == expected:
            out[truth_key] = "exact"
        elif not got:
            out[truth_key] = "missed"
        elif not expected:
            out[truth_key] = "extra"
        elif is_flagged(found):  # a doubt or a low confidence; notes do not count
            out[truth_key] = "wrong_flagged"
        elif expected in got:
            out[truth_key] = "swallowed"
        else:
            out[truth_key] = "wrong"
    return out


def field_rows(results: Sequence[Result]) -> list[dict]:
    """Per engine and field: how often each outcome occurred, exact rate first."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in results:
        for name, outcome in r.every_field.items():
            groups[(r.engine, name)].append(outcome)
    rows = []
    for (engine, name), outcomes in sorted(groups.items()):
        row = {"engine": engine, "field": name,
               "exact": _rate([o == "exact" for o in outcomes])}
        row.update({o: outcomes.count(o) for o in OUTCOMES[1:]})
        rows.append(row)
    return rows


def field_summary(results: Sequence[Result]) -> list[dict]:
    """Per engine: every field exact, codes missed while a valid one was printed, swallowed
    values not flagged (the issue-12 targets: >= 98%, 0, 0)."""
    rows = []
    for engine in sorted({r.engine for r in results if r.every_field}):
        rs = [r for r in results if r.engine == engine]
        every = [o for r in rs for o in r.every_field.values()]
        codes = [o for r in rs for k, o in r.every_field.items() if k in CODE_FIELDS]
        rows.append({
            "engine": engine, "fields": len(every),
            "every_field_exact": _rate([o == "exact" for o in every]),
            "codes_missed": sum(o not in ("exact", "extra") for o in codes),
            "swallowed_unflagged": every.count("swallowed"),
            "wrong_unflagged": every.count("wrong"),
            "extra_values": every.count("extra"),
        })
    return rows


def _bad_code_archived(fields: dict, reasons: Sequence[str], truth: dict) -> bool:
    """A USCC/ID number that is invalid (or differs from the printed one) reaching archived."""
    if decide_status(reasons, policy="anomalies", is_new_version=False) != "archived":
        return False
    for key, valid in (("uscc", uscc_is_valid), ("id_number", id_number_is_valid)):
        value = fields.get(key, {}).get("value")
        if value and (not valid(value) or value != truth["fields"].get(key, value)):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


PLAIN_TESSERACT = "tesseract-cli"


def run_plain_tesseract(selected: Sequence[Case], *, work: Path, log=sys.stderr) -> list[Result]:
    """Plain ``tesseract <png> <out> -l chi_sim+eng`` per case: seconds and CER only."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    results = []
    for n, case in enumerate(selected, start=1):
        sample = generate(case.kind, seed=case.seed, degradation=case.degradations)
        path = write_sample(sample, work / "in" / f"{case.kind}-{case.seed}-{case.label}.png")
        out = work / "out" / PLAIN_TESSERACT / path.stem
        out.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        subprocess.run(["tesseract", str(path), str(out), "-l", "chi_sim+eng", "txt"],
                       check=True, capture_output=True, env=env)
        seconds = time.monotonic() - started
        text = out.with_suffix(".txt").read_text(encoding="utf-8")
        result = Result(engine=PLAIN_TESSERACT, kind=case.kind, degradation=case.label,
                        seed=case.seed, classified="-", type_ok=False, fields={},
                        cer=round(line_cer(sample.truth["lines"], text), 4),
                        seconds=round(seconds, 3), pages=1, bad_code_archived=False, reasons=[],
                        ocr_seconds=round(seconds, 3))
        log.write(f"[{PLAIN_TESSERACT} {n}/{len(selected)}] {case.kind} {case.label} "
                  f"seed={case.seed}: cer={result.cer:.3f} {seconds:.1f}s\n")
        log.flush()
        results.append(result)
    return results


def run(engine: str, selected: Sequence[Case], *, work: Path, log=sys.stderr) -> list[Result]:
    """Run every case through ``normalize_file`` with ``ocr_engine = engine``."""
    if engine == PLAIN_TESSERACT:
        return run_plain_tesseract(selected, work=work, log=log)
    base = PipelineParams.from_settings(load_settings(home=work / "home"))
    params = PipelineParams(limits=base.limits, ocr=base.ocr, target_dpi=base.target_dpi,
                            min_confidence=base.min_confidence, today=TODAY, ocr_engine=engine)
    results = []
    for n, case in enumerate(selected, start=1):
        sample = generate(case.kind, seed=case.seed, degradation=case.degradations)
        path = write_sample(sample, work / "in" / f"{case.kind}-{case.seed}-{case.label}.png")
        started = time.monotonic()
        normalized = normalize_file(path, params=params, work_dir=work / "out" / engine / path.stem)
        result = score(case, sample.truth, normalized, engine=engine)
        log.write(f"[{engine} {n}/{len(selected)}] {case.kind} {case.label} seed={case.seed}: "
                  f"{result.classified} fields={sum(result.fields.values())}/{len(result.fields)}"
                  f" missed={[k for k, ok in result.fields.items() if not ok]}"
                  f" cer={result.cer:.3f} {time.monotonic() - started:.1f}s\n")
        log.flush()
        results.append(result)
    return results


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def _rate(values: Sequence[bool]) -> str:
    if not values:
        return "—"
    return f"{sum(values)}/{len(values)} ({100 * sum(values) / len(values):.0f}%)"


def summarize(results: Sequence[Result], *, by: str | None = None) -> list[dict]:
    """Rows of aggregate figures, per engine and (optionally) per ``kind`` or ``degradation``."""
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.engine, getattr(r, by) if by else "all")].append(r)
    rows = []
    for (engine, key), rs in sorted(groups.items()):
        codes = [ok for r in rs for f, ok in r.fields.items() if f in CODE_FIELDS]
        uscc = [ok for r in rs for f, ok in r.fields.items() if f == "uscc"]
        ids = [ok for r in rs for f, ok in r.fields.items() if f == "id_number"]
        every = [ok for r in rs for ok in r.fields.values()]
        rows.append({
            "engine": engine, "group": key, "documents": len(rs),
            "classification": _rate([r.type_ok for r in rs if r.classified != "-"]),
            "uscc": _rate(uscc), "id_number": _rate(ids), "codes": _rate(codes),
            "key_fields": _rate(every),
            "cer": f"{sum(r.cer for r in rs) / len(rs):.3f}",
            "s_per_page": f"{sum(r.seconds for r in rs) / max(1, sum(r.pages for r in rs)):.2f}",
            "ocr_s_per_page":
                f"{sum(r.ocr_seconds for r in rs) / max(1, sum(r.pages for r in rs)):.2f}",
            "bad_code_archived": sum(r.bad_code_archived for r in rs),
        })
    return rows


def markdown_table(rows: Sequence[dict]) -> str:
    """A Markdown table of :func:`summarize` rows."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def report(results: Sequence[Result]) -> str:
    """All tables: overall, per type, per degradation, every field."""
    return "\n\n".join([
        "### Overall\n\n" + markdown_table(summarize(results)),
        "### Per document type\n\n" + markdown_table(summarize(results, by="kind")),
        "### Per degradation\n\n" + markdown_table(summarize(results, by="degradation")),
        "### Every field\n\n" + markdown_table(field_summary(results)),
        "### Per field\n\n" + markdown_table(field_rows(results)),
        *flag_report(results),
    ])


def flag_report(results: Sequence[Result]) -> list[str]:
    """The flag table (bench/flags.py): overall, per type, and the fields behind it."""
    if not any(r.flags for r in results):
        return []
    return [
        "### Flags: wrong values found by doubts\n\n"
        + markdown_table(flag_table.flag_rows(results)),
        "### Flags per document type\n\n"
        + markdown_table(flag_table.flag_rows(results, by="kind")),
        "### Flags per field (fields wrong or flagged at least once)\n\n"
        + markdown_table(flag_table.per_field_rows(results)),
    ]


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__)
    parser.add_argument("--engines", default=f"{PLAIN_TESSERACT},tesseract,cascade")
    parser.add_argument("--set", dest="case_set", choices=CASE_SETS, default="standard",
                        help="standard (default), extra (hand-filled forms, phone photos) or all")
    parser.add_argument("--limit", type=int, default=None, help="run only N documents")
    parser.add_argument("--seeds", default=None,
                        help="held-out seeds for the standard and layouts sets, e.g. 13 or 46,47")
    parser.add_argument("--only", default=None,
                        help="only cases with these degradation labels, e.g. rotate90,rotate270")
    parser.add_argument("--out", type=Path, default=None, help="also write results as JSON")
    parser.add_argument("--links", default=None, metavar="SEEDS",
                        help="also the order-independence check (bench.linkorder) on these "
                             "seeds, e.g. 61,62, with the last engine given")
    parser.add_argument("--report", type=Path, nargs="*", default=None,
                        help="only print the tables for earlier --out JSON files")
    args = parser.parse_args(argv)
    if args.report:
        loaded = [Result(**r) for f in args.report for r in json.loads(f.read_text("utf-8"))]
        print(report(loaded))
        return 0
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else None
    selected = cases(args.limit, args.case_set, seeds)
    if args.only:
        selected = [c for c in selected if c.label in args.only.split(",")]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="dossier-accuracy-") as tmp:
        # Engines take turns document by document, so a shared machine's changing load
        # weighs on each engine's seconds alike.
        for n, case in enumerate(selected, start=1):
            sys.stderr.write(f"document {n}/{len(selected)}\n")
            for engine in engines:
                results += run(engine, [case], work=Path(tmp))
    if args.out:
        args.out.write_text(json.dumps([asdict(r) for r in results], ensure_ascii=False,
                                       indent=1), encoding="utf-8")
    print(report(results))
    if args.links:
        print("\n### Links in either order\n\n" + link_report(args.links, engines[-1]))
    return 0


def link_report(seeds: str, engine: str) -> str:
    """The order-independence check and unlinked rate (:mod:`bench.linkorder`)."""
    from bench import linkorder  # noqa: PLC0415 - only with --links

    return linkorder.markdown(linkorder.check([int(s) for s in seeds.split(",")],
                                              engine_name=engine))


if __name__ == "__main__":
    raise SystemExit(main())
