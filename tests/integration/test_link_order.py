"""Links do not depend on processing order (issue 12, item 5), through the whole intake pass.

The same five files - a legal representative's ID card sent alone, her company's license, a
contract whose party A is that company (by USCC), an individual's ID card and her customer
form - are ingested ID-first (two passes), license-first (two passes), and all at once with 1
and 2 workers, on SQLite and PostgreSQL. Every order must end with the same links, the same
customers, and every object under its customer's name. Files are text-layer PDFs (LibreOffice),
so no OCR is needed and the pipeline is the real one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.intake_pass import run_pass
from archive.storage import ObjectStore
from config import Settings
from models.customer import Customer
from models.document import Document
from tests.fixtures.db import make_id_number, make_uscc
from tests.fixtures.ingest import write_office_file

pytest_plugins = ["tests.fixtures.ingest"]

USCC = make_uscc(401)
PERSON_ID = make_id_number(402)
TEXTS = {
    "身份证-韩梅.pdf": (
        "居民身份证\n姓名 韩梅\n性别 女 民族 汉\n出生 1990年1月1日\n"
        f"住址 北京市海淀区中关村大街27号\n公民身份号码 {make_id_number(401)}\n"
    ),
    "营业执照.pdf": (
        f"营业执照\n统一社会信用代码 {USCC}\n名称 北京韩梅科技有限公司\n"
        "类型 有限责任公司(自然人投资或控股)\n法定代表人 韩梅\n注册资本 壹佰万元整\n"
        "成立日期 2015年03月12日\n营业期限 长期\n住所 北京市海淀区中关村大街27号\n"
        "经营范围 技术开发、技术咨询、技术服务。\n登记机关 国家市场监督管理总局监制\n"
    ),
    "合同.pdf": (
        "技术服务合同\n合同编号：HT-2024-0401\n甲方：北京韩梅科技股份公司\n"
        f"统一社会信用代码：{USCC}\n乙方：上海未知服务有限公司\n签订日期：2024年3月1日\n"
        "合同金额：人民币壹万元整\n甲方应在收到乙方开具的发票后十五日内付款。\n"
        "甲方（盖章）：          乙方（盖章）：\n"
    ),
    "身份证-李娜.pdf": (
        "居民身份证\n姓名 李娜\n性别 女 民族 汉\n出生 1990年1月1日\n"
        f"住址 北京市朝阳区建国路88号\n公民身份号码 {PERSON_ID}\n"
    ),
    "客户资料登记表-李娜.pdf": (
        "客户资料登记表\n客户名称：李娜\n客户类型：个人客户\n"
        f"身份证号码：{PERSON_ID}\n联系人：李娜\n联系方式：13800138000\n"
        "电子邮箱：lina@example.com\n地址：北京市朝阳区建国路88号\n填表日期：2024年5月20日\n"
    ),
}
#: Who each file belongs to, whatever the order.
EXPECTED = {
    "身份证-韩梅.pdf": "北京韩梅科技有限公司",
    "营业执照.pdf": "北京韩梅科技有限公司",
    "合同.pdf": "北京韩梅科技有限公司",
    "身份证-李娜.pdf": "李娜",
    "客户资料登记表-李娜.pdf": "李娜",
}
IDS_FIRST = ["身份证-韩梅.pdf", "身份证-李娜.pdf", "合同.pdf"]
LICENSE_FIRST = ["营业执照.pdf", "客户资料登记表-李娜.pdf"]
ORDERS = {
    "id_first": ([IDS_FIRST, LICENSE_FIRST], 1),
    "license_first": ([LICENSE_FIRST, IDS_FIRST], 1),
    "together_1_worker": ([[*IDS_FIRST, *LICENSE_FIRST]], 1),
    "together_2_workers": ([[*IDS_FIRST, *LICENSE_FIRST]], 2),
}


@pytest.fixture(scope="module")
def text_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The five files, converted once (LibreOffice) and copied into each run's intake."""
    folder = tmp_path_factory.mktemp("link-order")
    return {
        name: write_office_file(text, target="pdf", out=folder / name, scratch=folder / "s")
        for name, text in TEXTS.items()
    }


def _state(engine: Engine, store: ObjectStore) -> tuple[dict[str, str | None], list[tuple]]:
    with Session(engine) as session:
        links: dict[str, str | None] = {}
        for d in session.exec(select(Document)).all():
            customer = session.get(Customer, d.customer_id) if d.customer_id else None
            links[d.original_filename] = customer.name if customer else None
            if customer is not None:
                assert f"/{customer.name}/" in (d.pdf_key or ""), d.pdf_key
                assert f"/{customer.name}/" in (d.original_key or ""), d.original_key
            assert store.verify(d.pdf_key or "", expected_sha256=d.pdf_sha256)
            assert store.verify(d.original_key or "", expected_sha256=d.original_sha256)
            assert not {"unlinked", "ambiguous_customer"} & set(d.review_reasons), d.fields
        customers = sorted(
            (c.name, c.customer_type, c.uscc, c.id_number, c.contact_person, c.phone, c.email)
            for c in session.exec(select(Customer)).all()
        )
    return links, customers


@pytest.mark.timeout(600)
@pytest.mark.parametrize("order", list(ORDERS))
def test_the_same_files_in_any_order_give_the_same_links(
    order: str,
    text_pdfs: dict[str, Path],
    make_settings: Callable[..., Settings],
    engine: Engine,
    local_store: ObjectStore,
    ingest_services,  # type: ignore[no-untyped-def]
) -> None:
    passes, workers = ORDERS[order]
    settings = make_settings(workers=workers)  # threads and worker processes alike
    store = local_store
    for names in passes:
        services = ingest_services(engine=engine, store=store, settings=settings, workers=workers)
        for name in names:
            shutil.copy(text_pdfs[name], Path(settings.intake_dir) / name)
        report = run_pass(services, settle=False)
        assert {o.kind for o in report.outcomes} <= {"archived", "needs_review"}, report.as_dict()
    links, customers = _state(engine, store)
    assert links == EXPECTED
    assert customers == [
        ("北京韩梅科技有限公司", "enterprise", USCC, None, None, None, None),
        ("李娜", "individual", None, PERSON_ID, "李娜", "13800138000", "lina@example.com"),
    ]
