"""Filing on SQLite and PostgreSQL: linking rules, customer fields from licenses, versions and
near-duplicates. Documents are real small PDFs (img2pdf); no OCR: the parts carry their text
and fields as ingest would hand them over. Object stores: a local folder, and both backends
(local and the S3-protocol server) where objects matter (bundles, versions)."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import img2pdf
import pytest
from PIL import Image
from sqlmodel import Session, func, select

from archive import review
from archive.filing import DocumentPart, FiledDocument, FilingRequest, file_document
from archive.storage import LocalObjectStore, ObjectStore
from config.taxonomy import load_taxonomy
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from models.document import Document
from tests.fixtures.db import make_id_number, make_uscc
from tests.fixtures.text import rescan

TAX = load_taxonomy()
SUBMITTED = date(2024, 5, 6)

# --- builders ---------------------------------------------------------------------------------


def write_pdf(path: Path, seed: int) -> tuple[str, int]:
    """A real one-page PDF whose bytes depend on ``seed``; returns its sha256 and size."""
    rng = random.Random(seed)
    image = Image.new("RGB", (48, 32), color=(rng.randrange(256), rng.randrange(256), 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = img2pdf.convert(buffer.getvalue())
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), len(data)


def fv(value: str, *reasons: str) -> dict[str, object]:
    """An extracted field as ingest stores it."""
    return {"value": value, "confidence": 0.9, "page": 1, "reasons": list(reasons)}


class Files:
    """Writes distinct PDFs into one folder and builds parts and requests from them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seed = 0

    def _pdf(self) -> tuple[Path, str, int]:
        self.seed += 1
        path = self.folder / f"doc-{self.seed}.pdf"
        digest, size = write_pdf(path, self.seed)
        return path, digest, size

    def part(
        self, document_type: str, fields: Mapping[str, object], text: str = ""
    ) -> DocumentPart:
        path, digest, size = self._pdf()
        return DocumentPart(
            document_type=document_type,
            pdf_path=path,
            pdf_sha256=digest,
            pdf_size=size,
            page_count=1,
            text=text,
            ocr_confidence=90.0,
            fields=dict(fields),
        )

    def request(self, *parts: DocumentPart) -> FilingRequest:
        path, digest, size = self._pdf()
        return FilingRequest(
            original_path=path,
            original_filename=f"扫描{self.seed}.pdf",
            original_sha256=digest,
            original_size=size,
            submitted_date=SUBMITTED,
            parts=list(parts),
        )


@pytest.fixture
def files(tmp_path: Path) -> Files:
    folder = tmp_path / "in"
    folder.mkdir()
    return Files(folder)


@pytest.fixture
def local(tmp_path: Path) -> ObjectStore:
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    return store


def file_parts(
    session: Session, store: ObjectStore, files: Files, *parts: DocumentPart, policy: str = "all"
) -> list[FiledDocument]:
    return file_document(
        session=session,
        store=store,
        taxonomy=TAX,
        request=files.request(*parts),
        policy=policy,  # type: ignore[arg-type]
    )


def add_company(session: Session, n: int, *, name: str, rep: str = "张三") -> Customer:
    customer = repo.create_customer(
        session,
        actor="test",
        data={
            "name": name,
            "customer_type": "enterprise",
            "uscc": make_uscc(n),
            "legal_representative": rep,
            "established_date": "2015-03-12",
            "address": "北京市海淀区中关村大街27号",
        },
    )
    session.commit()
    return customer


def add_person(session: Session, n: int, *, name: str) -> Customer:
    customer = repo.create_customer(
        session,
        actor="test",
        data={"name": name, "customer_type": "individual", "id_number": make_id_number(n)},
    )
    session.commit()
    return customer


def license_fields(n: int, *, name: str, rep: str = "张三", **extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "uscc": fv(make_uscc(n)),
        "name": fv(name),
        "legal_representative": fv(rep),
        "established_date": fv("2015-03-12"),
        "address": fv("北京市海淀区中关村大街27号"),
    }
    fields.update(extra)
    return fields


def license_text(fields: Mapping[str, object]) -> str:
    def value(name: str) -> str:
        raw = fields.get(name)
        return str(raw.get("value")) if isinstance(raw, Mapping) else ""

    return "\n".join(
        [
            "营业执照",
            f"统一社会信用代码 {value('uscc')}",
            f"名称 {value('name')}",
            "类型 有限责任公司(自然人投资或控股)",
            f"法定代表人 {value('legal_representative')}",
            "注册资本 壹佰万元整",
            f"成立日期 {value('established_date')}",
            "营业期限 长期",
            f"住所 {value('address')}",
            "经营范围 技术开发、技术咨询、技术服务；销售电子产品、计算机软件及辅助设备。",
            "登记机关 国家市场监督管理总局监制",
        ]
    )


def customer_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Customer)).one()


def document(session: Session, filed: FiledDocument) -> Document:
    found = repo.get_document(session, document_id=filed.document_id)
    assert found is not None
    return found


# --- linking ----------------------------------------------------------------------------------


def test_links_by_uscc_even_when_the_name_is_written_differently(
    session: Session, local: ObjectStore, files: Files
) -> None:
    company = add_company(session, 1, name="北京星海（上海）科技有限公司")
    fields = license_fields(1, name="北京星海（上海）科技有限公司")
    fields["name"] = fv("北京星海科技")  # OCR lost half the name: the code decides
    [filed] = file_parts(session, local, files, files.part("business_license", fields))
    assert filed.customer_code == company.code
    assert customer_count(session) == 1


def test_links_by_normalized_name_across_bracket_and_width_variants(
    session: Session, local: ObjectStore, files: Files
) -> None:
    company = add_company(session, 2, name="北京星海（上海）科技有限公司")
    assert company.name_key == "北京星海(上海)科技有限公司"
    permit = files.part("bank_permit", {"depositor_name": fv("北京星海 (上海) 科技有限公司")})
    form = files.part("customer_form", {"customer_name": fv("北京星海(上海)科技有限公司")})
    filed = file_parts(session, local, files, permit)
    filed += file_parts(session, local, files, form)
    assert [f.customer_code for f in filed] == [company.code, company.code]
    assert customer_count(session) == 1


def test_a_renamed_customer_is_found_under_its_new_name(
    session: Session, local: ObjectStore, files: Files
) -> None:
    company = add_company(session, 3, name="北京旧名科技有限公司")
    repo.update_customer(
        session, code=company.code, changes={"name": "北京新名（集团）有限公司"}, actor="test"
    )
    session.commit()
    part = files.part("customer_form", {"customer_name": fv("北京新名(集团)有限公司")})
    [filed] = file_parts(session, local, files, part)
    assert filed.customer_code == company.code


def test_ambiguous_names_link_nobody_and_list_the_candidates(
    session: Session, local: ObjectStore, files: Files
) -> None:
    first = add_company(session, 4, name="深圳同名贸易（集团）有限公司")
    second = add_company(session, 5, name="深圳同名贸易(集团)有限公司")
    part = files.part("customer_form", {"customer_name": fv("深圳同名贸易（集团）有限公司")})
    [filed] = file_parts(session, local, files, part)
    row = document(session, filed)
    assert filed.customer_code is None
    assert "ambiguous_customer" in filed.reasons
    assert row.fields["_candidates"] == sorted([first.code, second.code])
    assert customer_count(session) == 2


def test_untrusted_codes_never_link_and_implausible_names_never_create(
    session: Session, local: ObjectStore, files: Files
) -> None:
    add_company(session, 6, name="杭州真实科技有限公司")
    fields = {"uscc": fv(make_uscc(6), "uscc_check_digit"), "name": fv("OSs")}
    [filed] = file_parts(session, local, files, files.part("business_license", fields))
    assert filed.customer_code is None
    assert "unlinked" in filed.reasons
    card = {"name": fv("0S"), "id_number": fv(make_id_number(6), "id_corrected")}
    [filed] = file_parts(session, local, files, files.part("id_card", card))
    assert filed.customer_code is None
    assert customer_count(session) == 1


def test_legal_representatives_id_card_is_filed_with_the_company(
    session: Session, local: ObjectStore, files: Files
) -> None:
    company = add_company(session, 7, name="南京长江实业有限公司", rep="赵 敏")
    card = {"name": fv("赵敏"), "id_number": fv(make_id_number(7))}
    [filed] = file_parts(session, local, files, files.part("id_card", card))
    assert filed.customer_code == company.code
    assert customer_count(session) == 1


def test_id_card_in_a_bundle_is_filed_with_the_bundles_company(
    session: Session, store: ObjectStore, files: Files
) -> None:
    # The ID card comes first in the file; the license is filed first all the same.
    card = files.part("id_card", {"name": fv("钱多多"), "id_number": fv(make_id_number(8))})
    lic = files.part("business_license", license_fields(8, name="苏州新开户有限公司", rep="孙七"))
    filed = file_parts(session, store, files, card, lic)
    assert [f.document_type for f in filed] == ["id_card", "business_license"]
    company = repo.get_customer(session, code=filed[1].customer_code or "")
    assert company is not None and company.name == "苏州新开户有限公司"
    assert filed[0].customer_code == company.code
    assert filed[0].original_key == filed[1].original_key
    assert store.exists(filed[0].original_key)
    assert customer_count(session) == 1


def test_individual_id_card_is_filed_with_the_person(
    session: Session, local: ObjectStore, files: Files
) -> None:
    person = add_person(session, 9, name="周 杰")
    add_company(session, 10, name="周氏贸易有限公司", rep="吴一")
    by_number = {"name": fv("周杰"), "id_number": fv(make_id_number(9))}
    by_name = {"name": fv("周杰"), "id_number": fv(make_id_number(99), "id_check_digit")}
    filed = file_parts(session, local, files, files.part("id_card", by_number))
    filed += file_parts(session, local, files, files.part("id_card", by_name))
    assert [f.customer_code for f in filed] == [person.code, person.code]
    assert customer_count(session) == 2


def test_a_new_persons_id_card_creates_an_individual_prospect(
    session: Session, local: ObjectStore, files: Files
) -> None:
    card = {"name": fv("郑小龙"), "id_number": fv(make_id_number(11))}
    [filed] = file_parts(session, local, files, files.part("id_card", card))
    person = repo.get_customer(session, code=filed.customer_code or "")
    assert person is not None
    assert (person.customer_type, person.id_number) == ("individual", make_id_number(11))


# --- customer fields from a license -----------------------------------------------------------


def test_license_fills_empty_customer_fields_with_an_audit_event(
    session: Session, local: ObjectStore, files: Files
) -> None:
    form = files.part("customer_form", {"customer_name": fv("成都填空科技有限公司")})
    [first] = file_parts(session, local, files, form)
    code = first.customer_code or ""
    customer = repo.get_customer(session, code=code)
    assert customer is not None and customer.uscc is None
    fields = license_fields(12, name="成都填空科技有限公司", rep="冯十")
    [filed] = file_parts(session, local, files, files.part("business_license", fields))
    assert filed.customer_code == code
    session.refresh(customer)
    assert customer.uscc == make_uscc(12)
    assert customer.legal_representative == "冯十"
    assert customer.established_date == date(2015, 3, 12)
    assert customer.address == "北京市海淀区中关村大街27号"
    assert "field_mismatch" not in filed.reasons
    assert document(session, filed).fields["_customer_filled"] == [
        "address",
        "established_date",
        "legal_representative",
        "uscc",
    ]
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "customer.update", AuditEvent.entity_id == code
        )
    ).all()
    assert [e.actor for e in events] == ["system"]


def test_license_differences_are_flagged_never_overwritten(
    session: Session, local: ObjectStore, files: Files
) -> None:
    company = add_company(session, 13, name="武汉差异科技有限公司", rep="张三")
    fields = license_fields(
        13, name="武汉差异科技（有限）公司", rep="李四", address=fv("湖北省武汉市江汉路1号")
    )
    [filed] = file_parts(session, local, files, files.part("business_license", fields))
    assert filed.customer_code == company.code
    assert "field_mismatch" in filed.reasons
    differences = document(session, filed).fields["_differences"]
    assert {d["field"] for d in differences} == {"name", "legal_representative", "address"}
    assert {"field": "legal_representative", "record": "张三", "document": "李四"} in differences
    session.refresh(company)
    assert (company.name, company.legal_representative) == ("武汉差异科技有限公司", "张三")
    assert company.address == "北京市海淀区中关村大街27号"


# --- versions ---------------------------------------------------------------------------------


def test_renewed_license_is_updating_and_supersedes_only_on_approval(
    session: Session, store: ObjectStore, files: Files
) -> None:
    reviewer = repo.ensure_user(session, username="审核员", role="reviewer", actor="test")
    session.commit()
    old_fields = license_fields(14, name="重庆换证有限公司", rep="陈一")
    [old] = file_parts(session, store, files, files.part("business_license", old_fields, "旧执照"))
    review.approve(session, store, document_id=old.document_id, user=reviewer, taxonomy=TAX)
    new_fields = license_fields(14, name="重庆换证有限公司", rep="陈一", term_end=fv("2044-05-01"))
    [new] = file_parts(session, store, files, files.part("business_license", new_fields, "新"))
    assert new.status == "updating"
    assert "new_version" in new.reasons
    assert document(session, new).supersedes_id == old.document_id
    assert document(session, old).status == "archived"  # not before approval

    review.approve(session, store, document_id=new.document_id, user=reviewer, taxonomy=TAX)
    session.expire_all()
    previous = document(session, old)
    assert previous.status == "superseded"
    assert store.verify(previous.pdf_key or "", expected_sha256=previous.pdf_sha256)
    chain = repo.document_versions(session, document_id=old.document_id)
    assert [d.id for d in chain] == [new.document_id, old.document_id]


# --- near-duplicates --------------------------------------------------------------------------


def test_same_paper_scanned_twice_is_a_possible_duplicate(
    session: Session, local: ObjectStore, files: Files
) -> None:
    fields = license_fields(15, name="西安重扫科技有限公司", rep="韩梅")
    text = license_text(fields)
    [first] = file_parts(session, local, files, files.part("business_license", fields, text))
    again = files.part("business_license", fields, rescan(text, seed=1))
    assert again.pdf_sha256 != document(session, first).pdf_sha256
    [second] = file_parts(session, local, files, again)
    assert "possible_duplicate" in second.reasons
    assert document(session, second).fields["_duplicate_of"] == first.document_id
    assert document(session, second).text_fingerprint


def test_a_different_paper_is_not_a_duplicate(
    session: Session, local: ObjectStore, files: Files
) -> None:
    fields = license_fields(16, name="兰州换证科技有限公司", rep="刘一")
    [first] = file_parts(
        session, local, files, files.part("business_license", fields, license_text(fields))
    )
    # The renewed license: same company and code, new representative and address.
    renewed = license_fields(
        16, name="兰州换证科技有限公司", rep="高峰", address=fv("甘肃省兰州市城关区东岗西路88号")
    )
    part = files.part("business_license", renewed, rescan(license_text(renewed), seed=2))
    # Another company's license of the same template.
    other = license_fields(17, name="兰州别家贸易有限公司", rep="马丽")
    other_part = files.part("business_license", other, license_text(other))
    filed = file_parts(session, local, files, part) + file_parts(session, local, files, other_part)
    assert [("possible_duplicate" in f.reasons) for f in filed] == [False, False]
    assert filed[0].customer_code == first.customer_code


@pytest.mark.parametrize("number", ["HT-2024-001", "HT-2024-002"])
def test_contracts_with_another_number_are_not_duplicates(
    session: Session, local: ObjectStore, files: Files, number: str
) -> None:
    add_company(session, 18, name="天津合同科技有限公司")
    text = "合同编号 HT-2024-001\n甲方 天津合同科技有限公司\n乙方 本公司\n合同金额 壹拾万元整\n" * 2
    base = {"party_a": fv("天津合同科技有限公司"), "contract_number": fv("HT-2024-001")}
    [first] = file_parts(session, local, files, files.part("contract", base, text))
    fields = {**base, "contract_number": fv(number)}
    [second] = file_parts(session, local, files, files.part("contract", fields, text))
    flagged = "possible_duplicate" in second.reasons
    assert flagged == (number == "HT-2024-001")
    assert second.customer_code == first.customer_code


def test_a_partial_license_fills_what_it_can_on_a_prospect(
    session: Session, local: ObjectStore, files: Files
) -> None:
    """A prospect created from a form gets the license's trusted values even when the license
    does not supply every field a full enterprise record needs (the address is unreadable)."""
    form = files.part("customer_form", {"customer_name": fv("成都部分科技有限公司")})
    [first] = file_parts(session, local, files, form)
    fields = license_fields(21, name="成都部分科技有限公司", rep="褚十一")
    fields["address"] = fv("", "missing")
    [filed] = file_parts(session, local, files, files.part("business_license", fields))
    customer = repo.get_customer(session, code=first.customer_code or "")
    assert customer is not None
    session.refresh(customer)
    assert customer.uscc == make_uscc(21)
    assert customer.legal_representative == "褚十一"
    assert customer.address is None
    assert "_customer_fill_error" not in document(session, filed).fields


def test_contracts_accumulate_instead_of_replacing_each_other(
    session: Session, local: ObjectStore, files: Files
) -> None:
    add_company(session, 22, name="天津多合同科技有限公司")
    fields = {"party_a": fv("天津多合同科技有限公司"), "contract_number": fv("HT-2024-101")}
    [first] = file_parts(session, local, files, files.part("contract", fields))
    repo.update_document(
        session, document_id=first.document_id, changes={"status": "archived"}, actor="test"
    )
    session.commit()
    other = {**fields, "contract_number": fv("HT-2024-102")}
    [second] = file_parts(session, local, files, files.part("contract", other))
    assert second.status == "pending_review"
    assert "new_version" not in second.reasons
    assert document(session, second).supersedes_id is None
