"""Tables and validated input models: JSON and time round-trips, the append-only audit trail,
and validation errors that name the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, delete, select, update

from models import repo
from models.audit import AuditEvent
from models.customer import ContactCreate, CustomerCreate
from models.document import Document, DocumentCreate
from models.errors import AuditImmutableError, ValidationError
from tests.fixtures.db import make_id_number, make_uscc

SHA = "ab" * 32


def enterprise(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "北京某某科技有限公司",
        "customer_type": "enterprise",
        "uscc": make_uscc(1),
        "legal_representative": "张三",
        "established_date": "2015-03-12",
        "address": "北京市海淀区中关村大街1号",
    }
    values.update(overrides)
    return values


def document(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "document_type": "business_license",
        "submitted_date": "2024-05-06",
        "original_filename": "营业执照扫描件.jpg",
        "original_sha256": SHA,
        "original_size": 1234,
    }
    values.update(overrides)
    return values


# --- JSON and time round-trips ----------------------------------------------------------------


def test_document_json_fields_round_trip_with_chinese_text(engine: Engine) -> None:
    fields = {
        "name": {"value": "北京某某科技有限公司", "confidence": 0.93, "page": 1, "reason": None},
        "uscc": {"value": make_uscc(2), "confidence": 0.61, "page": 1, "reason": "低置信度"},
        "_candidates": ["CUS202405001", "CUS202405002"],
    }
    with Session(engine) as s:
        doc = repo.create_document(
            s,
            data=document(
                fields=fields,
                review_reasons=["low_ocr_confidence", "second_check"],
                ocr_text="营业执照\n统一社会信用代码",
            ),
            actor="张经理",
        )
        s.commit()
        doc_id = doc.id
    with Session(engine) as s:
        loaded = s.get(Document, doc_id)
        assert loaded is not None
        assert loaded.fields == fields
        assert loaded.review_reasons == ["low_ocr_confidence", "second_check"]
        assert loaded.ocr_text == "营业执照\n统一社会信用代码"
        assert loaded.original_filename == "营业执照扫描件.jpg"
        assert loaded.submitted_date == date(2024, 5, 6)
        event = s.exec(select(AuditEvent).where(AuditEvent.entity_type == "document")).one()
        assert event.actor == "张经理"


def test_datetimes_come_back_timezone_aware_in_utc(engine: Engine) -> None:
    beijing = timezone(timedelta(hours=8))
    claimed = datetime(2024, 5, 6, 9, 30, tzinfo=beijing)
    with Session(engine) as s:
        doc = repo.create_document(s, data=document(), actor="system")
        repo.update_document(s, document_id=doc.id, changes={"claimed_at": claimed}, actor="r")
        s.commit()
        doc_id = doc.id
    with Session(engine) as s:
        loaded = s.get(Document, doc_id)
        assert loaded is not None and loaded.claimed_at is not None
        assert loaded.claimed_at.utcoffset() == timedelta(0)
        assert loaded.claimed_at == claimed
        assert loaded.claimed_at.hour == 1
        assert loaded.created_at.tzinfo is not None


def test_naive_datetime_is_refused(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(
            AuditEvent(
                actor="x", action="a", entity_type="t", entity_id="1", at=datetime(2024, 1, 1)
            )
        )
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            s.flush()


# --- the audit trail is append-only -----------------------------------------------------------


@pytest.fixture
def audit_event_id(engine: Engine) -> int:
    with Session(engine) as s:
        event = repo.add_audit_event(
            s,
            actor="system",
            action="test.event",
            entity_type="customer",
            entity_id="CUS1",
            after={"名称": "某某"},
        )
        s.commit()
        assert event.id is not None
        return event.id


def test_orm_update_of_an_audit_event_is_refused(engine: Engine, audit_event_id: int) -> None:
    with Session(engine) as s:
        event = s.get(AuditEvent, audit_event_id)
        assert event is not None
        event.actor = "mallory"
        s.add(event)
        with pytest.raises(AuditImmutableError):
            s.flush()


def test_orm_delete_of_an_audit_event_is_refused(engine: Engine, audit_event_id: int) -> None:
    with Session(engine) as s:
        event = s.get(AuditEvent, audit_event_id)
        s.delete(event)
        with pytest.raises(AuditImmutableError):
            s.flush()


def test_bulk_update_and_delete_of_audit_events_are_refused(
    engine: Engine, audit_event_id: int
) -> None:
    with Session(engine) as s:
        with pytest.raises(AuditImmutableError):
            s.exec(update(AuditEvent).values(actor="mallory"))  # type: ignore[call-overload]
        with pytest.raises(AuditImmutableError):
            s.exec(delete(AuditEvent))  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event"],
)
def test_database_trigger_refuses_raw_sql_changes(
    engine: Engine, audit_event_id: int, statement: str
) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    with Session(engine) as s:
        event = s.get(AuditEvent, audit_event_id)
        assert event is not None and event.actor == "system"


# --- validation names the field ---------------------------------------------------------------


def _error(make, values: dict[str, object]) -> ValidationError:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as info:
        make(values)
    return info.value


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        (
            {"uscc": make_uscc(1)[:-1] + ("0" if make_uscc(1)[-1] != "0" else "1")},
            "uscc",
            "uscc_check_digit",
        ),
        ({"uscc": "123"}, "uscc", "uscc_format"),
        ({"legal_representative": "  "}, "legal_representative", "required"),
        ({"established_date": "2015/03/12"}, "established_date", "date_format"),
        ({"phone": "12345"}, "phone", "phone_format"),
        ({"email": "not-an-email"}, "email", "email_format"),
        ({"industry": "采矿业"}, "industry", "option_unknown"),
        ({"customer_type": "vip"}, "customer_type", "option_unknown"),
        ({"status": "won"}, "contact_person", "required"),
        ({"id_number": make_id_number(1)}, "id_number", "not_applicable"),
        ({"favourite_colour": "红"}, "favourite_colour", "unknown_field"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_customer_create_errors_name_the_field(
    overrides: dict[str, object], field: str, reason: str
) -> None:
    error = _error(CustomerCreate.model_validate, enterprise(**overrides))
    assert (error.field, error.reason) == (field, reason)
    assert error.message  # Chinese text for people
    assert error.to_dict()["code"] == "validation"


def test_customer_create_normalizes_values_and_accepts_labels() -> None:
    data = CustomerCreate.model_validate(
        enterprise(
            customer_type="企业客户",
            status="意向客户",
            uscc=make_uscc(1).lower(),
            contact_person="李四",
            phone="138 0013 8000",
            industry="制造业",
            level="A类大客户",
            owner_id=1,
            email="Li@Example.COM",
        )
    )
    assert data.customer_type == "enterprise"
    assert data.status == "interested"
    assert data.uscc == make_uscc(1)
    assert data.phone == "13800138000"
    assert data.email == "Li@example.com"
    assert data.established_date == date(2015, 3, 12)


def test_individual_needs_an_id_number_not_a_uscc() -> None:
    person = {"name": "王五", "customer_type": "individual"}
    assert _error(CustomerCreate.model_validate, person).field == "id_number"
    ok = CustomerCreate.model_validate({**person, "id_number": make_id_number(7).lower()})
    assert ok.id_number == make_id_number(7)
    bad = _error(CustomerCreate.model_validate, {**person, "id_number": "110105199001010070"})
    assert bad.field == "id_number"
    assert "110105199001010070" not in bad.message


def test_contact_and_document_validation_name_the_field() -> None:
    assert _error(ContactCreate.model_validate, {"name": "李四", "phones": ["123"]}).field == (
        "phones"
    )
    assert _error(ContactCreate.model_validate, {"name": " "}).field == "name"
    assert _error(DocumentCreate.model_validate, document(original_sha256="xyz")).field == (
        "original_sha256"
    )
    assert _error(DocumentCreate.model_validate, document(document_type="护照")).field == (
        "document_type"
    )
    assert _error(DocumentCreate.model_validate, document(status="lost")).field == "status"
    assert _error(DocumentCreate.model_validate, document(original_size=-1)).field == (
        "original_size"
    )
    label = DocumentCreate.model_validate(document(document_type="营业执照"))
    assert label.document_type == "business_license"


def test_datetime_helper_is_utc() -> None:
    from models.db import utcnow

    assert utcnow().tzinfo == UTC
