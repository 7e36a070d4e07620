"""The taxonomy: document and customer types, statuses, option lists and naming templates.

Loaded from a TOML data file (``config/taxonomy.toml`` by default) so that users can extend it
without touching code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from config.errors import ConfigurationError

DEFAULT_TAXONOMY_FILE = Path(__file__).with_name("taxonomy.toml")
#: The classification and extraction rules (read by ``ingest.fields``; backed up with the data).
DEFAULT_UNDERSTANDING_FILE = Path(__file__).with_name("understanding.toml")


@dataclass(frozen=True)
class DocumentType:
    code: str
    label: str
    expires: bool = False
    #: A newer document of this type replaces the older one (a renewed license); contracts
    #: and other documents simply accumulate.
    versioned: bool = True


@dataclass(frozen=True)
class CustomerType:
    code: str
    label: str
    required_documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Templates:
    filename: str
    directory: str
    archive_prefix: str
    originals_prefix: str
    unassigned_customer: str
    unassigned_customer_type: str


@dataclass(frozen=True)
class Taxonomy:
    templates: Templates
    document_types: tuple[DocumentType, ...]
    customer_types: tuple[CustomerType, ...]
    document_statuses: dict[str, str] = field(default_factory=dict)
    customer_statuses: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    review_reasons: dict[str, str] = field(default_factory=dict)

    def document_type(self, code: str) -> DocumentType:
        for dt in self.document_types:
            if dt.code == code:
                return dt
        raise ConfigurationError(f"未知的资料类型: {code}", field="document_type", value=code)

    def customer_type(self, code: str) -> CustomerType:
        for ct in self.customer_types:
            if ct.code == code:
                return ct
        raise ConfigurationError(f"未知的客户类型: {code}", field="customer_type", value=code)

    def document_type_by_label(self, label: str) -> DocumentType | None:
        return next((dt for dt in self.document_types if dt.label == label), None)

    def customer_type_by_label(self, label: str) -> CustomerType | None:
        return next((ct for ct in self.customer_types if ct.label == label), None)

    def document_status_label(self, code: str) -> str:
        return self.document_statuses.get(code, code)

    def customer_status_label(self, code: str) -> str:
        return self.customer_statuses.get(code, code)

    def reason_label(self, code: str) -> str:
        return self.review_reasons.get(code, code)


def _parse(data: dict, source: Path) -> Taxonomy:
    try:
        return Taxonomy(
            templates=Templates(**data["templates"]),
            document_types=tuple(DocumentType(**d) for d in data["document_types"]),
            customer_types=tuple(
                CustomerType(
                    code=c["code"],
                    label=c["label"],
                    required_documents=tuple(c.get("required_documents", ())),
                )
                for c in data["customer_types"]
            ),
            document_statuses=dict(data.get("document_statuses", {})),
            customer_statuses=dict(data.get("customer_statuses", {})),
            roles=dict(data.get("roles", {})),
            options={k: tuple(v) for k, v in data.get("options", {}).items()},
            review_reasons=dict(data.get("review_reasons", {})),
        )
    except (KeyError, TypeError) as e:
        raise ConfigurationError(
            f"资料分类文件 {source} 内容不完整：缺少或写错了 {e}",
            file=str(source),
            rule="malformed",
        ) from e


@cache
def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy file (cached per path)."""
    source = Path(path) if path else DEFAULT_TAXONOMY_FILE
    try:
        with source.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigurationError(
            f"无法读取资料分类文件 {source}：{e}", file=str(source), rule="unreadable"
        ) from e
    taxonomy = _parse(data, source)
    codes = {dt.code for dt in taxonomy.document_types}
    for ct in taxonomy.customer_types:
        unknown = set(ct.required_documents) - codes
        if unknown:
            raise ConfigurationError(
                f"资料分类文件 {source} 中客户类型 {ct.code} 要求了未知的资料类型："
                f"{'、'.join(sorted(unknown))}",
                file=str(source),
                key=ct.code,
                rule="unknown_document_type",
            )
    return taxonomy
