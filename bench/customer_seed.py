"""Seed data for the customer list benchmark (``bench.customers``): users, customers (names,
USCCs or ID numbers, phones, statuses, tiers, owners), their tags, contacts and documents,
bulk-inserted with portable SQL inserts (the search grams are filled afterwards by
``bench.customers`` with migration 0018's function)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

PASSWORD = "bench-password-1"
SALES_USERS = 20
BATCH = 5000
FILTERED = ("won", "lost", "interested")

CITIES = "北京 上海 广州 深圳 杭州 南京 苏州 成都 重庆 武汉 西安 天津 长沙 郑州 青岛 宁波".split()
SYLLABLES = list("华星辰宏远恒通达瑞博鑫泰安康盛嘉信诚润智汇丰隆昌明德新海天宇中金云峰凯越蓝")
TRADES = "科技 智能 机械 电子 贸易 物流 医药 建材 食品 纺织 化工 软件 网络 咨询 环保 能源".split()
SUFFIXES = ["有限公司", "股份有限公司", "集团有限公司", "有限责任公司"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰")
INDUSTRIES = [
    "制造业",
    "互联网",
    "金融",
    "零售",
    "IT服务",
    "教育",
    "医疗",
    "房地产",
    "物流",
    "其他",
]
REGIONS = ["华东", "华南", "华北", "华中", "西南", "西北", "东北"]
SOURCES = ["展会推广", "线上广告", "客户转介绍", "销售陌拜", "其他"]
TAGS = [*INDUSTRIES[:6], "高价值", "重点客户", "战略合作", "续约关注", "新客户", "老客户",
        "政府关系", "上市公司", "外资企业", "需回访", "价格敏感", "成交客户", "潜在客户",
        "意向客户", "流失风险", "VIP", "年度框架", "区域代理", "集采客户", "海外业务"]  # fmt: skip
DOC_TYPES = ["business_license", "bank_permit", "id_card", "customer_form", "contract", "other"]
EXPIRY = {"business_license": "term_end", "id_card": "valid_to", "contract": "expiry_date"}


def _uscc(n: int) -> str:
    from models.validation import uscc_check_char

    body = f"91330100{(n * 7919 + 104729) % 10**9:09d}"  # unique, digits spread like real ones
    return body + uscc_check_char(body)


def _id_number(n: int) -> str:
    from models.validation import id_check_digit

    born = date(1960, 1, 1) + timedelta(days=n // 900)
    body = f"330106{born:%Y%m%d}{n % 900 + 100:03d}"
    return body + id_check_digit(body)


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))


def _tier(amount: Decimal | None) -> str | None:
    if amount is None:
        return None
    return "高价值" if amount >= 500_000 else "中价值" if amount >= 100_000 else "普通"


def _customer(n: int, rng: random.Random, owners: list[int], now: datetime) -> dict[str, Any]:
    enterprise = rng.random() < 0.85
    name = (
        rng.choice(CITIES) + "".join(rng.sample(SYLLABLES, 2)) + rng.choice(TRADES)
        + rng.choice(SUFFIXES)
        if enterprise else _person(rng)
    )  # fmt: skip
    status = rng.choices(["prospect", "interested", "won", "lost"], [30, 25, 35, 10])[0]
    amount = None
    if status in ("won", "lost"):
        amount = Decimal(int(rng.paretovariate(1.2) * 40_000)).quantize(Decimal("0.01"))
    return {
        "code": f"CUS2026{n:06d}", "name": name, "name_key": name,
        "customer_type": "enterprise" if enterprise else "individual",
        "uscc": _uscc(n) if enterprise else None,
        "id_number": None if enterprise else _id_number(n),
        "legal_representative": _person(rng) if enterprise else None,
        "contact_person": _person(rng), "phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
        "industry": rng.choice(INDUSTRIES), "region": rng.choice(REGIONS),
        "source_channel": rng.choice(SOURCES), "status": status,
        "level": rng.choice(["A类大客户", "B类中小客户", "C类小客户"]),
        "owner_id": rng.choice(owners), "cumulative_amount": amount,
        "annual_amount": amount, "value_tier": _tier(amount),
        "decision_roles": [], "campaigns": [], "manual_fields": [], "version": 1,
        "created_by": "bench", "updated_by": "bench",
        "created_at": now - timedelta(days=rng.randrange(1000)),
        "updated_at": now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60)),
    }  # fmt: skip


def _document(i: int, customer_id: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    doc_type = rng.choice(DOC_TYPES)
    fields: dict[str, Any] = {}
    if doc_type in EXPIRY:
        end = date(2025, 1, 1) + timedelta(days=rng.randrange(6 * 365))
        fields[EXPIRY[doc_type]] = {"value": end.isoformat(), "confidence": 0.9}
    sha = f"{i:064x}"
    return {
        "customer_id": customer_id, "document_type": doc_type,
        "status": rng.choices(["archived", "pending_review", "superseded"], [85, 5, 10])[0],
        "submitted_date": date(2026, 1, 1), "original_filename": f"scan-{i}.pdf",
        "original_key": f"originals/{i}.pdf", "original_sha256": sha, "original_size": 1000,
        "pdf_key": f"archive/{i}.pdf", "pdf_sha256": sha, "pdf_size": 1000, "page_count": 1,
        "fields": fields, "review_reasons": [], "is_anomaly": False,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(engine: Engine, *, customers: int, documents: int, seed_value: int = 15) -> None:
    """Bulk-insert users, customers, tags, contacts and documents (portable SQL inserts)."""
    from archive import users as user_service
    from models.contact import Contact
    from models.customer import Customer
    from models.document import Document
    from models.tag import CustomerTag, Tag

    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    with Session(engine) as session:
        user_service.create_user(session, username="bench", password=PASSWORD, role="admin",
                                 actor="bench")  # fmt: skip
        owners = [
            user_service.create_user(session, username=f"sales{n}", password=PASSWORD,
                                     role="sales", actor="bench").id
            for n in range(SALES_USERS)
        ]  # fmt: skip
        session.add_all(Tag(name=t, created_by="bench", updated_by="bench") for t in TAGS)
        session.commit()
        tag_ids = list(range(1, len(TAGS) + 1))
        insert = {t: t.__table__.insert() for t in (Customer, Contact, Document, CustomerTag)}  # type: ignore[attr-defined]
        rows = (_customer(n, rng, owners, now) for n in range(1, customers + 1))  # type: ignore[arg-type]
        for batch in _batches(rows):
            session.execute(insert[Customer], batch)
        links = (
            {"customer_id": c, "tag_id": t, "created_by": "bench", "created_at": now}
            for c in range(1, customers + 1)
            for t in rng.sample(tag_ids, rng.choice((0, 1, 2, 2, 3, 3, 4, 5)))
        )
        for batch in _batches(links):
            session.execute(insert[CustomerTag], batch)
        contacts = (
            {"customer_id": c, "name": _person(rng), "mobile": f"139{rng.randrange(10**8):08d}",
             "phones": [], "is_primary": k == 0, "is_decision_maker": False,
             "created_by": "bench", "updated_by": "bench", "created_at": now, "updated_at": now}
            for c in range(1, customers + 1) for k in range(rng.choice((0, 1, 1, 2)))
        )  # fmt: skip
        for batch in _batches(contacts):
            session.execute(insert[Contact], batch)
        docs = (_document(i, rng.randint(1, customers), rng, now) for i in range(documents))
        for batch in _batches(docs):
            session.execute(insert[Document], batch)
        session.commit()
