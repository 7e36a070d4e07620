"""A web import in the background (issue 17), on SQLite and PostgreSQL: the forms' ``background``
posts start a job and redirect to its page; the progress JSON counts rows up to the file's
total without reading the database; the result page lists the rejected rows and the import's
rejects file; nobody else sees the job."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.e2e.test_web_exchange import (  # noqa: F401  (fixtures)
    HEADER,
    _customers,
    _row,
    client_of,
    world,
)
from tests.e2e.test_web_http import WebWorld, csrf_from

ROWS = 1_200  # three batches of the importer


def big_file(tmp_path: Path, rows: int = ROWS) -> tuple[Path, dict[int, str]]:
    """``rows`` valid rows but two: file row number -> the column at fault."""
    lines = [HEADER] + [_row(n) for n in range(1, rows + 1)]
    lines[10] = _row(10, phone="12345")  # file row 11
    lines[-1] = _row(rows, email="not-an-email")  # the last row
    path = tmp_path / "大文件.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, {11: "联系方式", rows + 1: "电子邮箱"}


def poll(client: TestClient, job_url: str, *, limit: float = 300) -> list[dict[str, Any]]:
    """The job's progress JSON until it has finished."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        response = client.get(job_url + "/progress")
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
        seen.append(response.json())
        if seen[-1]["finished"]:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the import did not finish in {limit} s: {seen[-1]}")


def _started(response: Any) -> str:
    assert response.status_code == 303, response.text
    job_url = response.headers["location"]
    assert re.fullmatch(r"/customers/import/jobs/[\w-]+", job_url), job_url
    return job_url


def test_a_background_import_reports_progress_then_its_result(
    world: WebWorld,  # noqa: F811
    client_of: Callable[[str], TestClient],  # noqa: F811
    tmp_path: Path,
) -> None:
    path, planted = big_file(tmp_path)
    client = client_of("sales1")
    token = csrf_from(client.get("/customers/import").text)
    with path.open("rb") as f:
        response = client.post(
            "/customers/import",
            data={"csrf_token": token, "background": "1"},
            files={"file": (path.name, f, "text/csv")},
            follow_redirects=False,
        )
    job_url = _started(response)
    page = client.get(job_url, follow_redirects=False)
    if page.status_code == 200:  # still running: the progress bar, no upload form
        assert "<progress" in page.text and "正在预检" in page.text and "大文件.csv" in page.text
        assert "上传并预检" not in page.text
    seen = poll(client, job_url)
    assert [s["done"] for s in seen] == sorted(s["done"] for s in seen)
    last = seen[-1]
    assert last["dry_run"] and last["phase"] == "done"
    assert last["done"] == last["total"] == ROWS
    finished = client.get(job_url, follow_redirects=False)
    assert finished.status_code == 303 and finished.headers["location"] == job_url + "/result"

    other = client_of("sales2")  # another user learns nothing of it
    assert other.get(job_url + "/progress").status_code == 404
    assert other.get(job_url + "/result").status_code == 404
    assert other.get(job_url, follow_redirects=False).headers["location"] == "/customers/import"

    result = client.get(job_url + "/result")
    assert result.status_code == 200
    rows = re.findall(r'data-row="(\d+)" data-rule="([a-z_]+)">\s*<td[^>]*>第 \d+ 行</td>\s*'
                      r'<td data-label="列">([^<]+)</td>', result.text)  # fmt: skip
    assert {int(r): column for r, _, column in rows} == planted
    assert f'data-count="valid">{ROWS - 2}<' in result.text and "尚未写入任何数据" in result.text
    assert _customers(world) == []

    response = client.post(
        "/customers/import/commit",
        data={"csrf_token": csrf_from(result.text), "mode": "partial", "background": "1"},
        follow_redirects=False,
    )
    job_url = _started(response)
    last = poll(client, job_url)[-1]
    assert not last["dry_run"] and last["done"] == last["total"] == ROWS
    done = client.get(job_url + "/result")
    assert done.status_code == 200 and "导入完成" in done.text
    assert f'data-count="created">{ROWS - 2}<' in done.text and "下载被拒绝的行" in done.text
    assert len(_customers(world)) == ROWS - 2
    rejects = client.get("/customers/import/rejects")
    text = rejects.content.decode("utf-8-sig")
    assert rejects.status_code == 200 and len(text.splitlines()) == 1 + len(planted)
    assert "12345" in text and "not-an-email" in text
