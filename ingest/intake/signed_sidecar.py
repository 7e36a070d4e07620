"""The sidecar of a file handed in to the shared S3 intake: a companion JSON object, signed.

A local drop's sidecar (:mod:`ingest.intake.sidecar`) is trusted because only this machine's
processes write the intake folder. An S3 prefix is written over the network by whoever holds
credentials for it, so its sidecar carries an HMAC-SHA256 signature over everything it says,
made with a key web processes and workers share (``intake_s3_secret_env``). The signature binds
the record to the object's key and to the file's sha256, so a sidecar copied beside another
object or another file is worth nothing.

:func:`check_sidecar` never raises: a sidecar that is missing, unreadable, unsigned, signed
with another key or describing other bytes yields ``trusted=False`` with the Chinese reason,
and the caller files the object as an anonymous ``s3:<key>`` submission with that reason in
its note. The layout (where the companion lives) belongs to the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass

from ingest.intake.sidecar import DropRecord

FORMAT = 1
MAX_SIDECAR_BYTES = 64 * 1024
_REQUIRED = ("name", "sha256", "size", "submitted_by", "dropped_at")
_OPTIONAL = ("customer_code", "document_type", "note")


@dataclass(frozen=True)
class SidecarCheck:
    """What a companion sidecar is worth for the object it sits beside.

    Attributes:
        trusted: Signed with the shared key, for this key and these bytes.
        record: The record (only when trusted).
        folder: The intake sub-folder the file belongs in ("" = the intake itself).
        upload_id: The API upload it came from, if any.
        problem: Why it is not trusted (Chinese); None when trusted or when there was none.
    """

    trusted: bool
    record: DropRecord | None = None
    folder: str = ""
    upload_id: str | None = None
    problem: str | None = None


def _canonical(body: dict[str, object]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _sign(body: dict[str, object], secret: bytes) -> str:
    return hmac.new(secret, _canonical(body), hashlib.sha256).hexdigest()


def sign_sidecar(
    record: DropRecord,
    *,
    key: str,
    folder: str = "",
    upload_id: str | None = None,
    secret: bytes | None,
) -> bytes:
    """The companion JSON of ``record`` for the object ``key`` (signed when ``secret`` is set)."""
    body: dict[str, object] = {
        "format": FORMAT,
        "key": key,
        "folder": folder,
        "upload_id": upload_id,
        "record": asdict(record),
    }
    if secret:
        body["signature"] = _sign(body, secret)
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")


def check_sidecar(
    data: bytes | None, *, key: str, sha256: str, secret: bytes | None
) -> SidecarCheck:
    """Whether ``data`` (the companion of object ``key`` whose bytes hash to ``sha256``) may be
    believed; see the module."""
    if data is None:
        return SidecarCheck(False)
    try:
        body = json.loads(data.decode("utf-8"))
        signature = body.pop("signature", None)
        raw = body["record"]
        record = DropRecord(**{k: raw[k] for k in _REQUIRED}, **{k: raw.get(k) for k in _OPTIONAL})
    except (ValueError, TypeError, KeyError, AttributeError):
        return SidecarCheck(False, problem="附带的提交信息无法读取")
    if not secret:
        return SidecarCheck(False, problem="本机未配置 S3 收件签名密钥，无法核实附带的提交信息")
    if not isinstance(signature, str) or not signature:
        return SidecarCheck(False, problem="附带的提交信息没有签名")
    if not hmac.compare_digest(signature, _sign(body, secret)):
        return SidecarCheck(False, problem="附带的提交信息签名无效（可能被伪造或篡改）")
    if body.get("key") != key or record.sha256 != sha256:
        return SidecarCheck(False, problem="附带的提交信息不属于这个文件")
    folder = body.get("folder") or ""
    if not isinstance(folder, str) or "/" in folder or folder.startswith(".") or "\0" in folder:
        return SidecarCheck(False, problem="附带的提交信息中的收件子文件夹无效")
    upload_id = body.get("upload_id")
    return SidecarCheck(
        True, record, folder, upload_id if isinstance(upload_id, str) else None, None
    )


__all__ = ["MAX_SIDECAR_BYTES", "SidecarCheck", "check_sidecar", "sign_sidecar"]
