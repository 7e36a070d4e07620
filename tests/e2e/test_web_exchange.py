"""HTTP tests of customer files in and out on the web (issue 17), on SQLite and PostgreSQL.

Export from the list (masked bytes, an admin's audited full export, 403 for a sales user asking
for full values), the import page (a dry run reporting planted errors with row, column and
rule, all or nothing, only the valid rows with a rejects file that re-imports once fixed), the
customer's dossier ZIP and the upkeep report page with its XLSX.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archive.storage import LocalObjectStore
from config import load_settings
from models import repo
from models.audit import AuditEvent
from models.customer import Customer
from models.document import Document
from tests.e2e.test_web_http import WebWorld, csrf_from, login, make_world
from tests.fixtures.db import make_id_number, make_uscc
from web.app import create_app

PHONE_A, EMAIL_A = "13812345678", "zhang.wei@example.com"
PHONE_P, EMAIL_P = "13998765432", "li.na@example.com"
ID_P = make_id_number(7)
BAD_USCC = make_uscc(107)[:-1] + ("0" if make_uscc(107)[-1] != "0" else "1")
HEADER = "客户名称,客户类型,统一社会信用代码,法定代表人,成立时间,地址,联系方式,电子邮箱"


@pytest.fixture
def world(tmp_path: Path, db_url: str, engine: Engine) -> WebWorld:
    """make_world's customers A (sales1) and B (sales2) with contact details, and a person P
    (sales1) with an ID number."""
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_ready()
    settings = load_settings(home=tmp_path / "home", database_url=db_url)
    settings.ensure_dirs()
    w = make_world(settings=settings, engine=engine, store=store, workdir=tmp_path / "samples")
    with Session(engine, expire_on_commit=False) as session:
        repo.update_customer(session, code=w.customers["A"], actor="system",
                             changes={"phone": PHONE_A, "email": EMAIL_A})  # fmt: skip
        sales1 = repo.get_user(session, username="sales1")
        person = repo.create_customer(
            session,
            data={"name": "王五", "customer_type": "individual", "id_number": ID_P,
                  "phone": PHONE_P, "email": EMAIL_P, "owner_id": sales1.id},  # type: ignore[union-attr]
            actor="system",
        )  # fmt: skip
        session.commit()
        w.customers["P"] = person.code
    return w


@pytest.fixture
def client_of(world: WebWorld) -> Iterator[Callable[[str], TestClient]]:
    app = create_app(world.settings, engine=world.engine, store=world.store)
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        clients.append(TestClient(app))
        return login(clients[-1], username)

    yield make
    for client in clients:
        client.close()


def _events(world: WebWorld, action: str) -> list[AuditEvent]:
    with Session(world.engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        return list(session.exec(query).all())


def _export(client: TestClient, query: str = "", **form: str) -> object:
    token = csrf_from(client.get("/customers" + (f"?{query}" if query else "")).text)
    url = "/customers/export" + (f"?{query}" if query else "")
    return client.post(url, data={"csrf_token": token, **form})


# --- export -----------------------------------------------------------------------------------


def test_masked_export_bytes_hold_no_full_phone_id_or_email(
    world: WebWorld, client_of: Callable[[str], TestClient]
) -> None:
    admin = client_of("admin")
    page = admin.get("/customers").text
    assert "含完整号码" in page and "下载导入模板" in page
    for fmt in ("csv", "xlsx"):
        response = _export(admin, format=fmt)
        assert response.status_code == 200, response.text  # type: ignore[attr-defined]
        data = response.content  # type: ignore[attr-defined]
        assert "attachment" in response.headers["content-disposition"]  # type: ignore[attr-defined]
        if fmt == "xlsx":  # the strings live in compressed XML: its bytes and the cells' text
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                data = b"".join(z.read(n) for n in z.namelist())
            book = load_workbook(io.BytesIO(response.content))  # type: ignore[attr-defined]
            cells = [str(v) for row in book.active.iter_rows(values_only=True) for v in row if v]
            data += "\n".join(cells).encode()
        for secret in (PHONE_A, PHONE_P, EMAIL_A, EMAIL_P, ID_P, ID_P[6:14]):
            assert secret.encode() not in data, (fmt, secret)
        assert b"138****5678" in data and "王五".encode() in data
    events = _events(world, "customer.export")
    assert [e.after["masked"] for e in events] == [True, True]  # type: ignore[index]
    assert [e.after["rows"] for e in events] == [3, 3]  # type: ignore[index]


def test_export_follows_the_list_filters_and_a_sales_user_sees_only_their_own(
    world: WebWorld, client_of: Callable[[str], TestClient]
) -> None:
    sales = client_of("sales1")
    assert "含完整号码" not in sales.get("/customers").text
    response = _export(sales, format="csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert sorted(r[0] for r in rows[1:]) == sorted([world.customers["A"], world.customers["P"]])
    response = _export(client_of("rev1"), "type=individual", format="csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert [r[0] for r in rows[1:]] == [world.customers["P"]]
    assert _events(world, "customer.export")[-1].after["filter"] == {  # type: ignore[index]
        "customer_type": "individual"
    }


def test_full_export_is_for_admins_only_and_audited(
    world: WebWorld, client_of: Callable[[str], TestClient]
) -> None:
    refused = _export(client_of("sales1"), format="csv", full="1")
    assert refused.status_code == 403 and "仅管理员" in refused.text  # type: ignore[attr-defined]
    assert _export(client_of("rev1"), format="csv", full="1").status_code == 403  # type: ignore[attr-defined]
    assert _events(world, "customer.export") == []
    full = _export(client_of("admin"), format="csv", full="1")
    text = full.content.decode("utf-8-sig")  # type: ignore[attr-defined]
    assert PHONE_A in text and EMAIL_A in text and ID_P in text
    (event,) = _events(world, "customer.export")
    assert event.actor == "admin" and event.after["masked"] is False  # type: ignore[index]
    no_token = client_of("admin").post("/customers/export", data={"format": "csv"})
    assert no_token.status_code == 403


# --- import -----------------------------------------------------------------------------------


def _row(n: int, *, phone: str = "13812340000", email: str = "") -> str:
    return ",".join([f"导入{n}号有限公司", "企业客户", make_uscc(100 + n), "张三", "2015-03-12",
                     "北京市海淀区1号", phone, email or f"boss{n}@example.com"])  # fmt: skip


def _planted(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """Eight rows, three with planted errors: file row number -> the column at fault."""
    lines = [HEADER] + [_row(n) for n in range(1, 9)]
    lines[3] = _row(3, phone="12345")  # file row 4
    lines[5] = _row(5, email="not-an-email")  # file row 6
    lines[7] = lines[7].replace(make_uscc(107), BAD_USCC)  # file row 8: a wrong check digit
    assert BAD_USCC in lines[7]
    path = tmp_path / "客户.csv"
    path.write_text("\n".join(lines) + "\n", encoding="gb18030")
    return path, {4: "联系方式", 6: "电子邮箱", 8: "统一社会信用代码"}


def _upload(client: TestClient, path: Path) -> object:
    token = csrf_from(client.get("/customers/import").text)
    with path.open("rb") as f:
        return client.post("/customers/import", data={"csrf_token": token},
                           files={"file": (path.name, f, "text/csv")})  # fmt: skip


def _commit(client: TestClient, page: str, mode: str) -> object:
    return client.post(
        "/customers/import/commit", data={"csrf_token": csrf_from(page), "mode": mode}
    )


def _customers(world: WebWorld) -> list[Customer]:
    with Session(world.engine) as session:
        return list(session.exec(select(Customer).where(col(Customer.name).like("导入%"))).all())


def test_import_preview_reports_planted_errors_and_writes_nothing(
    world: WebWorld, client_of: Callable[[str], TestClient], tmp_path: Path
) -> None:
    path, planted = _planted(tmp_path)
    client = client_of("sales1")
    preview = _upload(client, path)
    assert preview.status_code == 200, preview.text  # type: ignore[attr-defined]
    page = preview.text  # type: ignore[attr-defined]
    rows = re.findall(r'data-row="(\d+)" data-rule="([a-z_]+)">\s*<td[^>]*>第 \d+ 行</td>\s*'
                      r'<td data-label="列">([^<]+)</td>', page)  # fmt: skip
    assert {int(r): column for r, _, column in rows} == planted
    assert {rule for _, rule, _ in rows} == {"phone_format", "email_format", "uscc_check_digit"}
    assert "电话格式错误" in page and "邮箱格式错误" in page and "信用代码校验位错误" in page
    assert 'data-count="valid">5<' in page and "仅导入有效行（5 行）" in page
    assert _customers(world) == [] and _events(world, "customer.import") == []

    refused = _commit(client, page, "all")  # all or nothing: nothing
    assert refused.status_code == 422 and "未导入任何数据" in refused.text  # type: ignore[attr-defined]
    assert _customers(world) == []


def test_partial_import_keeps_valid_rows_and_the_rejects_file_reimports_once_fixed(
    world: WebWorld, client_of: Callable[[str], TestClient], tmp_path: Path
) -> None:
    path, planted = _planted(tmp_path)
    client = client_of("sales1")
    page = _upload(client, path).text  # type: ignore[attr-defined]
    done = _commit(client, page, "partial")
    assert done.status_code == 200, done.text  # type: ignore[attr-defined]
    assert 'data-count="created">5<' in done.text and "下载被拒绝的行" in done.text  # type: ignore[attr-defined]
    imported = _customers(world)
    sales1 = repo_user_id(world, "sales1")
    assert len(imported) == 5 and {c.owner_id for c in imported} == {sales1}
    (event,) = _events(world, "customer.import")
    assert event.actor == "sales1" and event.after["created"] == 5  # type: ignore[index]

    rejects = client.get("/customers/import/rejects")
    assert rejects.status_code == 200 and "attachment" in rejects.headers["content-disposition"]
    text = rejects.content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][-1] == "错误" and len(table) == 1 + len(planted)
    fixed = (text.replace(",12345,", ",13900001111,").replace("not-an-email", "ok5@example.com")
             .replace(BAD_USCC, make_uscc(107)))  # fmt: skip
    again = tmp_path / "fixed.csv"
    again.write_text(fixed, encoding="utf-8-sig")
    page = _upload(client, again).text  # type: ignore[attr-defined]
    assert "rejected-table" not in page and "确认导入" in page
    done = _commit(client, page, "all")
    assert 'data-count="created">3<' in done.text  # type: ignore[attr-defined]
    assert len(_customers(world)) == 8
    # The same file again changes nothing.
    page = _upload(client, again).text  # type: ignore[attr-defined]
    assert "将新增 0、更新 0、未变 3" in page


def repo_user_id(world: WebWorld, username: str) -> int:
    with Session(world.engine) as session:
        user = repo.get_user(session, username=username)
        assert user is not None and user.id is not None
        return user.id


def test_import_refuses_a_bad_file_with_a_chinese_message(
    world: WebWorld, client_of: Callable[[str], TestClient], tmp_path: Path
) -> None:
    client = client_of("rev1")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    response = _upload(client, empty)
    assert response.status_code == 422 and "文件为空" in response.text  # type: ignore[attr-defined]
    bomb = tmp_path / "fake.xlsx"
    bomb.write_bytes(b"PK\x03\x04 not really a zip")
    response = _upload(client, bomb)
    assert response.status_code == 422 and "XLSX" in response.text  # type: ignore[attr-defined]
    page = client.get("/customers/import").text
    assert _commit(client, page, "all").status_code == 409  # type: ignore[attr-defined]
    template = client.get("/customers/import/template")
    assert template.status_code == 200
    book = load_workbook(io.BytesIO(template.content))
    assert "客户资料" in book.sheetnames and book["客户资料"]["B1"].value == "客户名称*"


def test_an_import_file_over_the_size_limit_is_refused_and_not_kept(
    world: WebWorld, tmp_path: Path
) -> None:
    settings = world.settings.model_copy(update={"max_file_mb": 1})
    app = create_app(settings, engine=world.engine, store=world.store)
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "\n" + (_row(1) + "\n") * 20_000, encoding="utf-8")
    assert big.stat().st_size > 1024 * 1024
    with TestClient(app) as client:
        response = _upload(login(client, "sales1"), big)
    assert response.status_code == 413 and "超过 1 MB" in response.text  # type: ignore[attr-defined]
    staged = Path(settings.work_dir) / "web-imports"  # type: ignore[arg-type]
    assert [p for p in staged.iterdir() if p.is_file()] == []


# --- dossier and upkeep -----------------------------------------------------------------------


def test_dossier_zip_holds_the_archived_pdfs_with_a_manifest(
    world: WebWorld, client_of: Callable[[str], TestClient]
) -> None:
    code = world.customers["A"]
    with Session(world.engine) as session:
        doc = session.get(Document, world.documents["a"])
        assert doc is not None
        doc.status = "archived"
        session.add(doc)
        session.commit()
    client = client_of("sales1")
    page = client.get(f"/customers/{code}").text
    assert "下载客户资料包" in page
    response = client.post(f"/customers/{code}/dossier", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as z:
        names = z.namelist()
        manifest = json.loads(z.read("manifest.json"))
        (entry,) = manifest["documents"]
        assert z.read(entry["file"]) == world.pdf_bytes["a"]
    assert "清单.csv" in names and entry["document_id"] == world.documents["a"]
    assert manifest["customer"]["code"] == code
    (event,) = _events(world, "customer.dossier_export")
    assert event.actor == "sales1" and event.entity_id == code
    other = client.post(f"/customers/{world.customers['B']}/dossier",
                        data={"csrf_token": csrf_from(page)})  # fmt: skip
    assert other.status_code == 404


def test_upkeep_report_page_sections_and_xlsx(
    world: WebWorld, client_of: Callable[[str], TestClient]
) -> None:
    with Session(world.engine) as session:  # a near-duplicate of A (same name, brackets)
        repo.create_customer(session, data={
            "name": "北京甲科技（有限公司）", "customer_type": "enterprise", "uscc": make_uscc(9),
            "legal_representative": "赵六", "established_date": "2016-01-01",
            "address": "北京市朝阳区1号"}, actor="system")  # fmt: skip
        session.commit()
    assert client_of("sales1").get("/reports/upkeep").status_code == 403
    assert "维护报告" not in client_of("sales1").get("/customers").text
    client = client_of("rev1")
    assert 'href="/reports/upkeep"' in client.get("/customers").text
    page = client.get("/reports/upkeep?days=30")
    assert page.status_code == 200
    for key, label in (("duplicates", "疑似重复客户"), ("stale_contacts", "联系人信息久未更新"),
                       ("no_follow_up", "久未跟进的客户"), ("expired", "证照已过期"),
                       ("expiring", "证照即将过期"), ("incomplete", "资料清单不完整"),
                       ("tags", "待复核的标签")):  # fmt: skip
        assert f'data-section="{key}"' in page.text and label in page.text
    duplicates = page.text.split('data-section="duplicates"')[1].split("</section>")[0]
    assert f'href="/customers/{world.customers["A"]}"' in duplicates
    no_follow = page.text.split('data-section="no_follow_up"')[1].split("</section>")[0]
    assert world.customers["B"] in no_follow
    xlsx = client.get("/reports/upkeep.xlsx?days=30")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames[0] == "疑似重复客户"
    assert client.get("/reports/upkeep?months=0").status_code == 422
