# ruff: noqa: F811  (the fixtures files and local come from test_filing)
"""The relink pass (archive/relink.py), contract parties and customer fields from forms, on
SQLite and PostgreSQL. Documents are real small PDFs filed through archive.filing (as
test_filing does); objects are checked in the store after every move."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from sqlmodel import Session, select

from archive.document_customer import sync_documents
from archive.relink import pending_document_ids, relink_pending
from archive.storage import ObjectStore
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from models.document import Document
from tests.fixtures.db import make_id_number, make_uscc
from tests.integration.test_filing import (  # noqa: F401  (fixtures)
    TAX,
    Files,
    add_company,
    customer_count,
    document,
    file_parts,
    files,
    fv,
    license_fields,
    local,
)


def id_card(name: str, n: int) -> dict[str, object]:
    return {"name": fv(name), "id_number": fv(make_id_number(n)), "gender": fv("男")}


def contract(party_a: str, party_b: str, **extra: object) -> dict[str, object]:
    return {"party_a": fv(party_a), "party_b": fv(party_b), "contract_number": fv("HT-1"), **extra}


def relink(session: Session, store: ObjectStore) -> dict[str, object]:
    return relink_pending(session, store, taxonomy=TAX).as_dict()


def links(session: Session) -> dict[str, str | None]:
    """document type + first field value -> customer name, for every document."""
    out: dict[str, str | None] = {}
    for d in session.exec(select(Document).order_by(Document.id)).all():
        customer = session.get(Customer, d.customer_id) if d.customer_id else None
        key = f"{d.document_type}:{_first_value(d.fields)}"
        out[key] = customer.name if customer else None
    return out


def _first_value(fields: Mapping[str, object]) -> object:
    for value in fields.values():
        if isinstance(value, Mapping) and value.get("value"):
            return value["value"]
    return None


def assert_objects_follow_customer(session: Session, store: ObjectStore) -> None:
    for d in session.exec(select(Document)).all():
        customer = session.get(Customer, d.customer_id) if d.customer_id else None
        if customer is not None:
            assert f"/{customer.name}/" in (d.pdf_key or ""), (d.pdf_key, customer.name)
        assert store.verify(d.pdf_key or "", expected_sha256=d.pdf_sha256)


# --- ID card before its company's license ---------------------------------------------------


@pytest.mark.parametrize("order", ["id_first", "license_first"])
def test_a_representatives_id_card_ends_with_the_company_in_either_order(
    session: Session, local: ObjectStore, files: Files, order: str
) -> None:
    card = files.part("id_card", id_card("韩立", 301))
    lic = files.part(
        "business_license", license_fields(301, name="北京韩立科技有限公司", rep="韩立")
    )
    for part in [card, lic] if order == "id_first" else [lic, card]:
        file_parts(session, local, files, part)
    report = relink(session, local)
    assert links(session) == {
        "id_card:韩立": "北京韩立科技有限公司",
        f"business_license:{make_uscc(301)}": "北京韩立科技有限公司",
    }
    assert customer_count(session) == 1  # the provisional person was folded into the company
    assert_objects_follow_customer(session, local)
    card_doc = session.exec(select(Document).where(Document.document_type == "id_card")).one()
    if order == "id_first":
        (change,) = report["linked"]  # type: ignore[misc]
        assert change["matched_by"] == "legal_representative"
        assert change["folded"] is True
        assert "auto_relinked" in card_doc.review_reasons
        assert card_doc.fields["_relinked"]["previous"] == change["previous_code"]
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "document.auto_relink")
        ).all()
        assert [e.entity_id for e in events] == [str(card_doc.id)]
        assert session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "customer.merge",
                AuditEvent.entity_id == change["previous_code"],
            )
        ).first()
    else:
        assert report["linked"] == []
    assert relink(session, local)["linked"] == []  # a second pass changes nothing


def test_a_person_with_something_on_record_is_not_provisional(
    session: Session, local: ObjectStore, files: Files
) -> None:
    """Someone typed in a phone number by hand: the person is a customer, not a placeholder."""
    [card] = file_parts(session, local, files, files.part("id_card", id_card("韩立", 302)))
    repo.update_customer(
        session, code=card.customer_code or "", changes={"phone": "13800138000"}, actor="alice"
    )
    session.commit()
    lic = license_fields(302, name="北京韩立二号科技有限公司", rep="韩立")
    file_parts(session, local, files, files.part("business_license", lic))
    assert relink(session, local)["linked"] == []
    assert customer_count(session) == 2


def test_an_unlinked_document_is_linked_once_its_customer_is_known(
    session: Session, local: ObjectStore, files: Files
) -> None:
    permit = {"depositor_name": fv("OSs"), "uscc": fv(make_uscc(303))}
    [filed] = file_parts(session, local, files, files.part("bank_permit", permit))
    assert filed.customer_code is None and "unlinked" in filed.reasons
    assert pending_document_ids(session) == [filed.document_id]
    add_company(session, 303, name="杭州后到科技有限公司")
    report = relink(session, local)
    assert [c["document_id"] for c in report["linked"]] == [filed.document_id]  # type: ignore[index]
    row = document(session, filed)
    session.refresh(row)
    assert "unlinked" not in row.review_reasons
    assert row.fields["_relinked"]["matched_by"] == "uscc"
    assert_objects_follow_customer(session, local)


# --- contracts ----------------------------------------------------------------------------------


def test_a_bundled_contract_is_not_borrowed_by_the_bundles_company(
    session: Session, local: ObjectStore, files: Files
) -> None:
    lic = files.part("business_license", license_fields(311, name="南京执照科技有限公司"))
    deal = files.part(
        "contract",
        contract("苏州甲方实业有限公司", "无锡乙方贸易有限公司", party_a_uscc=fv(make_uscc(312))),
    )
    filed = file_parts(session, local, files, lic, deal)
    assert filed[1].customer_code is None
    assert {"unlinked", "contract_party_unknown"} <= set(filed[1].reasons)
    assert customer_count(session) == 1  # no customer made from a contract party
    # Party A's license arrives later under another spelling: the USCC decides.
    later = license_fields(312, name="苏州甲方实业（集团）有限公司")
    file_parts(session, local, files, files.part("business_license", later))
    report = relink(session, local)
    (change,) = report["linked"]  # type: ignore[misc]
    assert (change["document_id"], change["matched_by"]) == (filed[1].document_id, "party")
    assert links(session)["contract:苏州甲方实业有限公司"] == "苏州甲方实业（集团）有限公司"
    assert_objects_follow_customer(session, local)


def test_a_contract_is_linked_to_the_party_that_is_a_customer(
    session: Session, local: ObjectStore, files: Files
) -> None:
    add_company(session, 313, name="合肥乙方科技有限公司")
    deal = files.part("contract", contract("本公司", "合肥乙方科技有限公司"))
    [filed] = file_parts(session, local, files, deal)
    customer = repo.get_customer(session, code=filed.customer_code or "")
    assert customer is not None and customer.name == "合肥乙方科技有限公司"


def test_a_contract_between_two_customers_is_ambiguous(
    session: Session, local: ObjectStore, files: Files
) -> None:
    add_company(session, 314, name="厦门甲方科技有限公司")
    add_company(session, 315, name="厦门乙方科技有限公司")
    deal = files.part("contract", contract("厦门甲方科技有限公司", "厦门乙方科技有限公司"))
    [filed] = file_parts(session, local, files, deal)
    assert filed.customer_code is None and "ambiguous_customer" in filed.reasons
    assert relink(session, local)["linked"] == []


# --- customer fields from forms ---------------------------------------------------------------


def test_a_form_fills_empty_contact_fields_and_flags_a_different_one(
    session: Session, local: ObjectStore, files: Files
) -> None:
    company = add_company(session, 321, name="青岛表单科技有限公司")
    form = {
        "customer_name": fv("青岛表单科技有限公司"),
        "contact_person": fv("田斌"),
        "phone": fv("13176186762"),
        "email": fv("tb@example.com"),
        "address": fv("山东省青岛市市南区香港中路1号"),
    }
    [filed] = file_parts(session, local, files, files.part("customer_form", form))
    [result] = sync_documents(session, document_ids=[filed.document_id], taxonomy=TAX)
    assert result.filled == ["contact_person", "email", "phone"]
    session.refresh(company)
    assert (company.contact_person, company.phone, company.email) == (
        "田斌",
        "13176186762",
        "tb@example.com",
    )
    assert company.address == "北京市海淀区中关村大街27号"  # never overwritten
    row = document(session, filed)
    session.refresh(row)
    assert "field_mismatch" in row.review_reasons
    assert row.fields["_differences"] == [
        {
            "field": "address",
            "record": "北京市海淀区中关村大街27号",
            "document": "山东省青岛市市南区香港中路1号",
        }
    ]
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "customer.update", AuditEvent.entity_id == company.code
        )
    ).all()
    assert len(events) == 1 and set(events[0].after or {}) >= {"contact_person", "phone"}
    # Idempotent: a second sync fills nothing and adds no event.
    [again] = sync_documents(session, document_ids=[filed.document_id], taxonomy=TAX)
    assert again.filled == []
    assert (
        len(session.exec(select(AuditEvent).where(AuditEvent.action == "customer.update")).all())
        == 1
    )


def test_a_relinked_document_becomes_the_new_version_as_filing_would_make_it(
    session: Session, local: ObjectStore, files: Files
) -> None:
    company = add_company(session, 331, name="郑州版本科技有限公司")
    old = {"depositor_name": fv("郑州版本科技有限公司"), "uscc": fv(make_uscc(331))}
    [first] = file_parts(session, local, files, files.part("bank_permit", old))
    repo.update_document(
        session, document_id=first.document_id, changes={"status": "archived"}, actor="test"
    )
    session.commit()
    # A renewed permit whose code is misread and whose name is unreadable: unlinked.
    new = {"depositor_name": fv("OSs"), "uscc": fv(make_uscc(332))}
    [second] = file_parts(session, local, files, files.part("bank_permit", new))
    assert second.customer_code is None
    # The reviewer corrects the code on the document; the next pass links it as a new version.
    row = document(session, second)
    repo.update_document(
        session,
        document_id=second.document_id,
        changes={"fields": {**row.fields, "uscc": fv(make_uscc(331))}},
        actor="alice",
    )
    session.commit()
    (change,) = relink(session, local)["linked"]  # type: ignore[misc]
    assert change["customer_code"] == company.code
    session.refresh(row)
    assert (row.status, row.supersedes_id) == ("updating", first.document_id)
    assert "new_version" in row.review_reasons


@pytest.mark.parametrize("order", ["card_first", "form_first"])
def test_an_individuals_form_without_id_number_joins_her_id_card(
    session: Session, local: ObjectStore, files: Files, order: str
) -> None:
    """The form ticks 个人客户: it is a person's form even without an ID number on it."""
    form = files.part(
        "customer_form",
        {
            "customer_name": fv("欧阳娜娜"),
            "customer_type": fv("个人客户"),
            "phone": fv("13800138000"),
        },
    )
    card = files.part("id_card", id_card("欧阳娜娜", 341))
    filed = {}
    for name, part in [("card", card), ("form", form)][:: 1 if order == "card_first" else -1]:
        [filed[name]] = file_parts(session, local, files, part)
    relink(session, local)
    sync_documents(session, document_ids=[f.document_id for f in filed.values()], taxonomy=TAX)
    assert set(links(session).values()) == {"欧阳娜娜"}
    (person,) = session.exec(select(Customer)).all()
    assert (person.customer_type, person.phone) == ("individual", "13800138000")
    assert_objects_follow_customer(session, local)


def test_a_form_ticking_individual_creates_a_person(
    session: Session, local: ObjectStore, files: Files
) -> None:
    form = {"customer_name": fv("欧阳娜娜"), "customer_type": fv("个人客户")}
    [filed] = file_parts(session, local, files, files.part("customer_form", form))
    customer = repo.get_customer(session, code=filed.customer_code or "")
    assert customer is not None and customer.customer_type == "individual"
