"""Links that do not depend on processing order, and the unlinked rate (issue 12, measures).

``python -m bench.linkorder [--seeds 61,62] [--engine cascade]`` (also ``python -m
bench.accuracy --links``).

Per seed, one customer file set of scans (bench/samples.py, bench/layouts.py):

* the legal representative's ID card, sent alone, and her company's license (current layout,
  naming her as 法定代表人);
* an individual's ID card and her customer form (ruled layout, 个人客户 ticked, her ID number);
* a bundle (one PDF) of another company's license and a contract between two companies that
  are neither: the contract must not be filed under the bundle's company.

The set goes through the real intake (``run_pass``: isolated workers, the pipeline, filing, the
relink pass) on a fresh SQLite database and local store, once ID cards first (two passes) and
once licenses and forms first. Reported: each order's links (file/page -> customer name), whether
they agree, how many match the expected customer, and the unlinked rate (documents without a
customer, of those that should have one).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.samples import generate, write_sample

ORDERS = ("id_first", "license_first")


@dataclass(frozen=True)
class FileSet:
    """The files of one seed, who each document belongs to, and the pass order per run."""

    files: dict[str, list]  # file name -> samples (pages)
    expected: dict[tuple[str, str], str | None]  # (file, document type) -> customer name
    id_cards: tuple[str, ...]
    others: tuple[str, ...]


def file_set(seed: int, *, dpi: int = 200) -> FileSet:
    """The scans of one seed (see the module docstring)."""
    rep_card = generate("id_card", seed=seed, dpi=dpi)
    rep = rep_card.truth["fields"]["name"]
    license_ = generate(
        "business_license_qr", seed=seed, dpi=dpi, identity={"legal_representative": rep}
    )
    company = license_.truth["fields"]["name"]
    person_card = generate("id_card", seed=seed + 500, dpi=dpi)
    person = person_card.truth["fields"]
    form = generate(
        "customer_form_cells",
        seed=seed,
        dpi=dpi,
        identity={"name": person["name"], "id_number": person["id_number"]},
    )
    other = generate("business_license", seed=seed + 700, dpi=dpi)
    contract = generate("contract", seed=seed + 700, dpi=dpi)
    names = {
        "rep": f"{seed}-身份证-法定代表人.png",
        "license": f"{seed}-营业执照.png",
        "person": f"{seed}-身份证-个人.png",
        "form": f"{seed}-客户资料登记表.png",
        "bundle": f"{seed}-执照与合同.pdf",
    }
    files = {
        names["rep"]: [rep_card],
        names["license"]: [license_],
        names["person"]: [person_card],
        names["form"]: [form],
        names["bundle"]: [other, contract],
    }
    expected = {
        (names["rep"], "id_card"): company,
        (names["license"], "business_license"): company,
        (names["person"], "id_card"): person["name"],
        (names["form"], "customer_form"): person["name"],
        (names["bundle"], "business_license"): other.truth["fields"]["name"],
        (names["bundle"], "contract"): None,  # its parties are neither company
    }
    return FileSet(
        files,
        expected,
        (names["rep"], names["person"]),
        (names["license"], names["form"], names["bundle"]),
    )


def run_order(
    fs: FileSet, order: str, *, home: Path, engine_name: str, workers: int = 1
) -> dict[tuple[str, str], str | None]:
    """Ingest the set in one order on a fresh archive; the links it ends with."""
    from app.intake_pass import IngestServices, run_pass  # noqa: PLC0415 - heavy imports
    from archive.storage import LocalObjectStore  # noqa: PLC0415
    from config import load_settings  # noqa: PLC0415
    from ingest.isolation import IsolatedPool  # noqa: PLC0415
    from models.db import make_engine, upgrade_to_head  # noqa: PLC0415

    settings = load_settings(
        home=home, workers=workers, settle_seconds=0.0, target_dpi=200, ocr_engine=engine_name
    )
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    store = LocalObjectStore(home / "objects")
    store.ensure_ready()
    passes = [fs.id_cards, fs.others] if order == "id_first" else [fs.others, fs.id_cards]
    with IsolatedPool(
        workers,
        timeout_seconds=settings.file_timeout_seconds,
        memory_limit_mb=settings.memory_limit_mb,
    ) as pool:
        for names in passes:
            for name in names:
                write_sample(fs.files[name], Path(settings.intake_dir) / name)
            run_pass(
                IngestServices(settings=settings, engine=engine, store=store, pool=pool),
                settle=False,
            )
    links = _links(engine)
    engine.dispose()
    return links


def _links(engine) -> dict[tuple[str, str], str | None]:  # noqa: ANN001 - an SQLAlchemy Engine
    from sqlmodel import Session, select  # noqa: PLC0415

    from models.customer import Customer  # noqa: PLC0415
    from models.document import Document  # noqa: PLC0415

    with Session(engine) as session:
        out: dict[tuple[str, str], str | None] = {}
        for d in session.exec(select(Document)).all():
            customer = session.get(Customer, d.customer_id) if d.customer_id else None
            out[(d.original_filename, d.document_type)] = customer.name if customer else None
    return out


def check(seeds: Sequence[int], *, engine_name: str = "cascade", log=sys.stderr) -> dict:
    """Both orders per seed: agreement, expected links, unlinked rate."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="dossier-linkorder-") as tmp:
        for seed in seeds:
            fs = file_set(seed)
            links = {
                order: run_order(
                    fs, order, home=Path(tmp) / f"{seed}-{order}", engine_name=engine_name
                )
                for order in ORDERS
            }
            for order, found in links.items():
                right = sum(found.get(k, "?") == v for k, v in fs.expected.items())
                should = [k for k, v in fs.expected.items() if v is not None]
                unlinked = sum(found.get(k) is None for k in should)
                rows.append(
                    {
                        "seed": seed,
                        "order": order,
                        "documents": len(found),
                        "as_expected": f"{right}/{len(fs.expected)}",
                        "unlinked": f"{unlinked}/{len(should)}",
                        "same_as_other_order": links[ORDERS[0]] == links[ORDERS[1]],
                        "links": {f"{f} [{t}]": c for (f, t), c in sorted(found.items())},
                    }
                )
                log.write(
                    f"[links seed={seed} {order}] as expected {right}/{len(fs.expected)}, "
                    f"unlinked {unlinked}/{len(should)}\n"
                )
    agree = all(r["same_as_other_order"] for r in rows)
    unlinked = sum(int(r["unlinked"].split("/")[0]) for r in rows)
    should = sum(int(r["unlinked"].split("/")[1]) for r in rows)
    return {
        "engine": engine_name,
        "orders_agree": agree,
        "unlinked_rate": f"{unlinked}/{should}",
        "rows": rows,
    }


def markdown(result: dict) -> str:
    """The check as a Markdown table (links listed per row)."""
    lines = [
        f"orders agree: {'yes' if result['orders_agree'] else 'NO'}; unlinked "
        f"{result['unlinked_rate']} (documents that should have a customer)",
        "",
        "| seed | order | documents | as expected | unlinked | same as other order |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['seed']} | {r['order']} | {r['documents']} | {r['as_expected']} | "
        f"{r['unlinked']} | {r['same_as_other_order']} |"
        for r in result["rows"]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.linkorder", description=__doc__)
    parser.add_argument("--seeds", default="61,62")
    parser.add_argument("--engine", default="cascade")
    parser.add_argument("--out", type=Path, default=None, help="also write the result as JSON")
    args = parser.parse_args(argv)
    result = check([int(s) for s in args.seeds.split(",")], engine_name=args.engine)
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(markdown(result))
    return 0 if result["orders_agree"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
