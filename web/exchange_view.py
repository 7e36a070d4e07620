"""Customer files in and out on the web: what the import page shows and where uploads wait.

An uploaded spreadsheet is kept under ``<work_dir>/web-imports/`` between the dry run (预检) and
the import, named by a random token held in the user's session (nobody else can name it); a
``--partial`` import's rejected rows are written beside it for download. Files older than a day
are removed on the next upload. Downloads are written to a temporary folder that is removed once
the response is sent.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from archive.exchange.export import require_full_export
from archive.exchange.importing import ImportReport
from archive.permissions import PermissionDeniedError
from config.clock import CHINA_TZ
from config.settings import Settings
from models.user import User
from web.errors import UploadTooLargeError
from web.field_view import FIELD_REASON_LABELS

STAGE_FOLDER = "web-imports"
KEEP_SECONDS = 24 * 3600
SESSION_UPLOAD = "import_upload"
SESSION_REJECTS = "import_rejects"
SUFFIXES = (".xlsx", ".csv")
CHUNK = 1 << 20

#: Chinese names of the rules a row can break (the importer's own and the editor's).
RULE_LABELS = {
    "required": "必填项为空",
    "option_unknown": "不在可选项中",
    "uscc_format": "信用代码格式错误",
    "uscc_check_digit": "信用代码校验位错误",
    "id_format": "证件号码格式错误",
    "id_check_digit": "证件号码校验位错误",
    "id_birth_date": "出生日期无效",
    "phone_format": "电话格式错误",
    "email_format": "邮箱格式错误",
    "date_format": "日期格式错误",
    "date_range": "日期超出范围",
    "excel_serial": "日期为 Excel 序列号",
    "formula": "单元格含公式",
    "duplicate_row": "文件内重复",
    "identifier_taken": "已属于其他客户",
    "code_unknown": "客户编号不存在",
    "owner_unknown": "负责人不存在",
    "unknown_user": "负责人不存在",
    "not_editable": "不可通过导入修改",
    "not_applicable": "不适用于此客户类型",
    "unknown_field": "未知字段",
    "conflict": "与已有客户冲突",
    "permission_denied": "没有权限",
    "too_long": "内容过长",
    "too_short": "内容过短",
    "length": "长度不符",
    "range": "超出范围",
    "format": "格式错误",
    "type_mismatch": "类型不符",
    "invalid": "值无效",
}


def may_export_full(user: User) -> bool:
    """Whether the list offers 含完整号码 (the export's own rule decides)."""
    try:
        require_full_export(user)
    except PermissionDeniedError:
        return False
    return True


def rule_label(rule: str) -> str:
    """The Chinese name of a rejection rule (a generic one for a rule not listed)."""
    return RULE_LABELS.get(rule) or FIELD_REASON_LABELS.get(rule) or "不符合规则"


def report_view(report: ImportReport) -> dict[str, Any]:
    """The report as the page shows it: counts and each rejected row with its rule's name."""
    return {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "committed": report.committed,
        "valid": report.rows - len(report.rejected),
        "rejected": [r.as_dict() | {"rule_label": rule_label(r.rule)} for r in report.rejected],
    }


# --- staged files -----------------------------------------------------------------------------


def stage_dir(settings: Settings) -> Path:
    path = Path(settings.work_dir) / STAGE_FOLDER  # type: ignore[arg-type]
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sweep(folder: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        try:
            if old.stat().st_mtime >= cutoff:
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
        except OSError:  # another request removed it first
            continue


def upload_suffix(filename: str) -> str:
    """``.xlsx`` or ``.csv`` from the browser's file name (the content decides later)."""
    suffix = Path(filename.replace("\\", "/")).suffix.lower()
    return suffix if suffix in SUFFIXES else ".csv"


def stage_upload(source: BinaryIO, *, settings: Settings, filename: str) -> dict[str, str]:
    """Copy an upload into the staging folder; returns what the session keeps to name it.

    Raises:
        UploadTooLargeError: The file is over ``max_file_mb`` (nothing is kept).
    """
    folder = stage_dir(settings)
    _sweep(folder)
    token = secrets.token_urlsafe(16)
    suffix = upload_suffix(filename)
    path = folder / f"{token}{suffix}"
    limit = settings.max_file_mb * 1024 * 1024
    written = 0
    try:
        with path.open("wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise UploadTooLargeError(f"文件超过 {settings.max_file_mb} MB，未导入")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    name = Path(filename.replace("\\", "/")).name[:120] or f"导入文件{suffix}"
    return {"token": token, "suffix": suffix, "name": name}


def staged_path(settings: Settings, staged: Any, *, kind: str = "") -> Path | None:
    """The staged file a session entry names (``kind`` "rejects": its rejects file), or None."""
    if not isinstance(staged, dict):
        return None
    token, suffix = str(staged.get("token") or ""), str(staged.get("suffix") or "")
    if not token.replace("-", "").replace("_", "").isalnum() or suffix not in SUFFIXES:
        return None
    path = stage_dir(settings) / f"{token}{'.rejected' if kind else ''}{suffix}"
    return path if path.is_file() else None


def rejects_path(settings: Settings, staged: dict[str, str]) -> Path:
    return stage_dir(settings) / f"{staged['token']}.rejected{staged['suffix']}"


# --- downloads --------------------------------------------------------------------------------

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
}


def stamp() -> str:
    """China time for a download's file name: ``20261206-1930``."""
    return datetime.now(CHINA_TZ).strftime("%Y%m%d-%H%M")


def temp_folder(settings: Settings) -> Path:
    """A new temporary folder in the work folder (removed by :func:`download`)."""
    return Path(tempfile.mkdtemp(prefix="download-", dir=stage_dir(settings)))


def discard(folder: Path) -> None:
    """Remove a temporary folder of :func:`temp_folder` (a download that failed)."""
    shutil.rmtree(folder, ignore_errors=True)


def download(path: Path, filename: str, *, cleanup: Path | None = None) -> FileResponse:
    """``path`` as an attachment named ``filename``; ``cleanup`` is removed after sending."""
    kind = filename.rsplit(".", 1)[-1]
    task = BackgroundTask(shutil.rmtree, cleanup, ignore_errors=True) if cleanup else None
    return FileResponse(
        path,
        filename=filename,
        media_type=MEDIA_TYPES.get(kind, "application/octet-stream"),
        background=task,
    )
