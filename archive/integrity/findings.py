"""The findings model: kinds and severities, one finding, the collector, a run's options and
report, and a repair's outcome.

Small check functions return or add :class:`Finding` objects; only the caller (flow, CLI) turns
them into exit codes (:func:`exit_code_for`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from config.settings import Settings
from models import repo
from models.db import utcnow
from models.runs import Severity

MIB = 1024 * 1024


class Mode(StrEnum):
    """How much of the content a run reads."""

    FULL = "full"
    INCREMENTAL = "incremental"
    METADATA = "metadata"


#: Every finding kind: its severity and a label for people.
KINDS: dict[str, tuple[Severity, str]] = {
    "object_missing": (Severity.CRITICAL, "对象缺失"),
    "object_unreadable": (Severity.CRITICAL, "对象无法读取"),
    "size_mismatch": (Severity.CRITICAL, "对象大小与记录不符"),
    "checksum_mismatch": (Severity.CRITICAL, "校验和与记录不符"),
    "pdf_unreadable": (Severity.CRITICAL, "PDF 无法打开"),
    "page_count_mismatch": (Severity.WARNING, "页数与记录不符"),
    "no_text_layer": (Severity.WARNING, "已识别的文档缺少文字层"),
    "key_drift": (Severity.WARNING, "存放位置与命名规则不符"),
    "orphan": (Severity.WARNING, "无记录引用的对象"),
    "duplicate_sha256": (Severity.WARNING, "多条记录的文件内容相同"),
    "review_stale": (Severity.WARNING, "待审核时间过长"),
    "expired": (Severity.WARNING, "证照已过期"),
    "expiring": (Severity.INFO, "证照即将过期"),
    "checklist_missing": (Severity.WARNING, "缺少必备资料"),
    "invariant_archived_without_customer": (Severity.WARNING, "已归档但未关联客户"),
    "invariant_superseded_without_successor": (Severity.WARNING, "已替换但没有新版本"),
    "invariant_no_object": (Severity.CRITICAL, "记录没有对象键"),
    "invariant_shared_key": (Severity.CRITICAL, "多条记录指向同一个 PDF 对象"),
    "quarantine_stale": (Severity.WARNING, "隔离文件长期未处理"),
}
#: Kinds only a content read can find or clear (a metadata run carries them over).
CONTENT_KINDS = frozenset(
    {"checksum_mismatch", "pdf_unreadable", "page_count_mismatch", "no_text_layer"}
)


def fingerprint_of(
    *, kind: str, object_key: str | None, document_id: int | None, subject: str | None
) -> str:
    """A stable identity of a problem across runs (hex SHA-256)."""
    text = "\x1f".join((kind, object_key or "", str(document_id or ""), subject or ""))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Finding:
    """One problem. ``subject`` identifies it when document and key do not (e.g. a customer)."""

    kind: str
    message: str
    document_id: int | None = None
    object_key: str | None = None
    subject: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return KINDS[self.kind][0]

    @property
    def label(self) -> str:
        return KINDS[self.kind][1]

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(
            kind=self.kind,
            object_key=self.object_key,
            document_id=self.document_id,
            subject=self.subject,
        )


def exit_code_for(severities: Iterable[str]) -> int:
    """0 clean (or info only), 1 at least one warning, 2 at least one critical finding."""
    seen = set(severities)
    if Severity.CRITICAL in seen:
        return 2
    return 1 if Severity.WARNING in seen else 0


class Findings:
    """The collector the checks add to."""

    def __init__(self) -> None:
        self._items: list[Finding] = []

    def add(
        self,
        kind: str,
        message: str,
        *,
        document_id: int | None = None,
        object_key: str | None = None,
        subject: str | None = None,
        **detail: Any,
    ) -> Finding:
        """Record a finding of ``kind`` (one of :data:`KINDS`)."""
        if kind not in KINDS:
            raise ValueError(f"unknown finding kind: {kind}")
        item = Finding(kind, message, document_id, object_key, subject, detail)
        self._items.append(item)
        return item

    def extend(self, items: Iterable[Finding]) -> None:
        self._items.extend(items)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self._items if f.kind == kind]

    def counts(self) -> dict[str, int]:
        """Number of findings per severity."""
        counter = Counter(str(f.severity) for f in self._items)
        return {str(s): counter.get(str(s), 0) for s in Severity}

    def exit_code(self) -> int:
        return exit_code_for(f.severity for f in self._items)


def _finding(kind: str, message: str, **kw: Any) -> Finding:
    detail = kw.pop("detail", {})
    return Finding(kind, message, **kw, detail=detail)


@dataclass(frozen=True)
class CheckOptions:
    """What a run checks and how; build from settings with :meth:`from_settings`."""

    mode: Mode = Mode.FULL
    now: datetime = field(default_factory=utcnow)
    scrub_days: int = 7
    review_stale_days: int = 7
    expiry_warning_days: int = 30
    quarantine_stale_days: int = 14
    workers: int = 4
    page_size: int = 500
    check_pdf: bool = True
    #: Open every PDF with pypdf, even bytes an earlier run already opened (see ``PdfFacts``).
    deep: bool = False
    spool_bytes: int = 16 * MIB
    #: Objects up to this size whose bytes the store holds in memory are checked in the
    #: calling thread: handing them to a worker costs more than reading them. Larger ones, and
    #: any that would wait for a disk or the network, go to the pool. 0: always the pool.
    inline_read_bytes: int = 128 * 1024

    @classmethod
    def from_settings(
        cls, settings: Settings, *, mode: Mode | str, now: datetime | None = None, **kw: Any
    ) -> CheckOptions:
        """Options from validated settings; ``kw`` overrides (e.g. ``workers``)."""
        values: dict[str, Any] = {
            "mode": Mode(mode),
            "scrub_days": settings.scrub_days,
            "review_stale_days": settings.review_stale_days,
            "expiry_warning_days": settings.expiry_warning_days,
            "quarantine_stale_days": settings.quarantine_stale_days,
            "workers": max(2, min(8, settings.workers * 2)),
            **kw,
        }
        if now is not None:
            values["now"] = now
        return cls(**values)

    @property
    def today(self) -> date:
        """The calendar day in China (where documents' dates are read)."""
        return self.now.astimezone(repo.CHINA_TZ).date()


@dataclass
class CheckReport:
    """The result of :func:`run_checks`."""

    mode: Mode
    started_at: datetime
    findings: Findings = field(default_factory=Findings)
    stats: Counter[str] = field(default_factory=Counter)
    finished_at: datetime | None = None


@dataclass(frozen=True)
class RepairAction:
    """One repair (``relink``, ``move_back`` or ``lost_found``) and whether it worked."""

    action: str
    object_key: str
    target_key: str | None
    document_id: int | None
    ok: bool
    message: str
