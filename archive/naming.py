"""Naming rules: file names, archive folders and object keys (pure functions, no I/O).

The file name is ``客户名称-资料类型-提交日期.pdf`` and the folder ``客户类型/YYYY/Qn/客户名称``,
both rendered from :class:`config.taxonomy.Templates`. Every component is sanitized (NFC, no
path separators, no ``..``, no control or Windows-forbidden characters, no leading dots, no
trailing dots or spaces, no Windows device names) and fitted to byte limits by truncating on a
character boundary. The same inputs always give the same key.

Room for a collision suffix (``-2`` ... ``-9999999``) is reserved in every limit, so
:func:`with_collision_suffix` never pushes a name over 255 bytes or a key over its limit.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import date

from archive.errors import InvalidKeyError, KeyCollisionError
from config.errors import ConfigurationError
from config.taxonomy import Templates

MAX_COMPONENT_BYTES = 255
MAX_KEY_BYTES = 1024
COLLISION_RESERVE_BYTES = 8  # "-" and up to 7 digits
MAX_COLLISION_N = 9_999
MAX_LABEL_BYTES = 64  # customer and document type labels
MIN_NAME_BYTES = 12  # a truncated customer name keeps at least this much room
FALLBACK_COMPONENT = "未命名"
#: Sanitized components remembered (pure function; one key needs about a dozen, most of them
#: shared with the customer's other documents: labels, years, quarters, the name).
SANITIZE_CACHE_SIZE = 4096
_UNLIMITED = 1 << 20

_FORBIDDEN = re.compile(r'[<>:"|?*/\\]')
_DOT_RUNS = re.compile(r"\.{2,}")
_SPACES = re.compile(r" {2,}")
_EXTENSION = re.compile(r"\.[0-9a-z]{1,16}")
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in "123456789¹²³"}
    | {f"LPT{i}" for i in "123456789¹²³"}
)


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` UTF-8 bytes (whole characters)."""
    if max_bytes <= 0:
        return ""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if ch.isspace() else ch for ch in text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _REMOVED_CATEGORIES)
    text = _FORBIDDEN.sub("_", text)
    text = _DOT_RUNS.sub(".", text)
    text = _SPACES.sub(" ", text)
    text = text.lstrip(". ")
    # A component must start with a base character: a leading combining mark would compose
    # with the separator before it and break NFC of the whole key.
    while text and unicodedata.category(text[0]).startswith("M"):
        text = text[1:].lstrip(". ")
    text = text.rstrip(". ")
    if text.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        text = "_" + text
    text = unicodedata.normalize("NFC", text)
    return text or FALLBACK_COMPONENT


@functools.lru_cache(maxsize=SANITIZE_CACHE_SIZE)
def sanitize_component(text: str, *, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """Make ``text`` safe as one path component (a folder or file name).

    NFC; whitespace collapsed to single spaces; control and format characters removed;
    ``/ \\ < > : " | ? *`` replaced by ``_``; runs of dots reduced to one; leading dots and
    combining marks, trailing dots and spaces removed; Windows device names (``CON``,
    ``NUL``, ``COM1`` ...) prefixed with ``_``; truncated on a character boundary to
    ``max_bytes``. Never empty: falls back to ``未命名``. Idempotent.

    Args:
        text: Any string, e.g. a customer name.
        max_bytes: Upper bound on the UTF-8 length of the result (at least 12).

    Returns:
        The sanitized component.
    """
    if max_bytes < MIN_NAME_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_NAME_BYTES}")
    result = _clean(text)
    limit = max_bytes
    while utf8_len(result) > max_bytes:
        result = _clean(truncate_utf8(result, limit))
        limit -= 1
    return result


def normalize_extension(ext: str) -> str:
    """A safe extension: ``".PDF"`` -> ``".pdf"``; anything not ``.[0-9a-z]{1,16}`` -> ``""``."""
    ext = unicodedata.normalize("NFKC", ext).strip().lower()
    if ext and not ext.startswith("."):
        ext = "." + ext
    return ext if _EXTENSION.fullmatch(ext) else ""


def quarter_of(day: date) -> int:
    """Calendar quarter (1-4) of ``day``."""
    return (day.month - 1) // 3 + 1


def _values(
    *,
    customer_type_label: str,
    customer_name: str,
    document_type_label: str,
    submitted: date,
) -> dict[str, object]:
    return {
        "customer_type": sanitize_component(customer_type_label, max_bytes=MAX_LABEL_BYTES),
        "customer_name": customer_name,
        "document_type": sanitize_component(document_type_label, max_bytes=MAX_LABEL_BYTES),
        "submitted_date": submitted.isoformat(),
        "year": f"{submitted.year:04d}",
        "quarter": quarter_of(submitted),
        "month": f"{submitted.month:02d}",
    }


def _render(template: str, values: dict[str, object]) -> str:
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigurationError(f"命名模板无效: {template!r} ({e})", template=template) from e


def _render_path(template: str, values: dict[str, object]) -> str:
    segments = [s for s in template.split("/") if s.strip()]
    return "/".join(sanitize_component(_render(s, values)) for s in segments)


def _fit_name(customer_name: str, *, limit: int, render: Callable[[str], str], what: str) -> str:
    """Render with the customer name, truncating the name until the result fits ``limit``."""
    budget = MAX_COMPONENT_BYTES
    while True:
        out = render(sanitize_component(customer_name, max_bytes=budget))
        over = utf8_len(out) - limit
        if over <= 0:
            return out
        if budget <= MIN_NAME_BYTES:
            raise InvalidKeyError(f"{what}超出长度限制，无法缩短", limit=limit)
        budget = max(MIN_NAME_BYTES, budget - max(1, over // 2))


def _resolve_customer(
    templates: Templates, customer_type_label: str | None, customer_name: str | None
) -> tuple[str, str]:
    if customer_name is None:
        return templates.unassigned_customer_type, templates.unassigned_customer
    return customer_type_label or templates.unassigned_customer_type, customer_name


def document_filename(
    *,
    templates: Templates,
    customer_name: str | None,
    document_type_label: str,
    submitted: date,
    ext: str = ".pdf",
) -> str:
    """File name ``客户名称-资料类型-提交日期.pdf`` from ``templates.filename``.

    Args:
        templates: Naming templates from the taxonomy.
        customer_name: The customer's name; None for a document not linked to a customer.
        document_type_label: Chinese label of the document type, e.g. ``营业执照``.
        submitted: Submission date.
        ext: File extension (normalized; unsafe extensions are dropped).

    Returns:
        A sanitized file name of at most 255 bytes minus the collision reserve; the customer
        name is truncated first, the type, date and extension are kept.
    """
    _, name = _resolve_customer(templates, None, customer_name)
    values = _values(
        customer_type_label="",
        customer_name=name,
        document_type_label=document_type_label,
        submitted=submitted,
    )
    suffix = normalize_extension(ext)
    limit = MAX_COMPONENT_BYTES - COLLISION_RESERVE_BYTES

    def render(fitted: str) -> str:
        rendered = _render(templates.filename, {**values, "customer_name": fitted})
        # No truncation here: _fit_name shortens the customer name, never the type or date.
        return sanitize_component(rendered, max_bytes=_UNLIMITED) + suffix

    return _fit_name(name, limit=limit, render=render, what="文件名")


def archive_directory(
    *,
    templates: Templates,
    customer_type_label: str | None,
    submitted: date,
    customer_name: str | None,
) -> str:
    """Folder ``客户类型/YYYY/Qn/客户名称`` from ``templates.directory`` (no leading/trailing '/').

    Args:
        templates: Naming templates from the taxonomy.
        customer_type_label: e.g. ``企业客户``; None uses ``templates.unassigned_customer_type``.
        submitted: Submission date (gives year and quarter).
        customer_name: None for an unlinked document (both type and name become the
            ``unassigned`` values of the templates).

    Returns:
        The relative folder path, each component sanitized.
    """
    ctype, name = _resolve_customer(templates, customer_type_label, customer_name)
    values = _values(
        customer_type_label=ctype,
        customer_name=sanitize_component(name),
        document_type_label="",
        submitted=submitted,
    )
    return _render_path(templates.directory, values)


def _build_key(
    *,
    prefix: str,
    templates: Templates,
    customer_type_label: str | None,
    customer_name: str | None,
    document_type_label: str,
    submitted: date,
    ext: str,
    max_key_bytes: int,
) -> str:
    ctype, name = _resolve_customer(templates, customer_type_label, customer_name)
    prefix_path = _render_path(prefix, {})

    def render(fitted: str) -> str:
        directory = archive_directory(
            templates=templates,
            customer_type_label=ctype,
            submitted=submitted,
            customer_name=fitted,
        )
        filename = document_filename(
            templates=templates,
            customer_name=fitted,
            document_type_label=document_type_label,
            submitted=submitted,
            ext=ext,
        )
        return "/".join(p for p in (prefix_path, directory, filename) if p)

    key = _fit_name(
        name, limit=max_key_bytes - COLLISION_RESERVE_BYTES, render=render, what="对象键"
    )
    validate_key(key, max_bytes=max_key_bytes)
    return key


def archive_key(
    *,
    templates: Templates,
    customer_type_label: str | None,
    customer_name: str | None,
    document_type_label: str,
    submitted: date,
    ext: str = ".pdf",
    max_key_bytes: int = MAX_KEY_BYTES,
) -> str:
    """Key of a normalized PDF: ``{archive_prefix}/{directory}/{filename}``.

    Args:
        templates: Naming templates from the taxonomy.
        customer_type_label: The customer type's label; None for unlinked documents.
        customer_name: The customer's name; None for unlinked documents.
        document_type_label: The document type's label, e.g. ``营业执照``.
        submitted: Submission date.
        ext: Extension of the stored file.
        max_key_bytes: Key limit; pass a smaller one when the store adds its own prefix.

    Returns:
        A valid key (see :func:`validate_key`), at most ``max_key_bytes`` bytes with room for a
        collision suffix; the customer name is truncated when needed.
    """
    return _build_key(
        prefix=templates.archive_prefix,
        templates=templates,
        customer_type_label=customer_type_label,
        customer_name=customer_name,
        document_type_label=document_type_label,
        submitted=submitted,
        ext=ext,
        max_key_bytes=max_key_bytes,
    )


def original_key(
    *,
    templates: Templates,
    customer_type_label: str | None,
    customer_name: str | None,
    document_type_label: str,
    submitted: date,
    original_ext: str,
    max_key_bytes: int = MAX_KEY_BYTES,
) -> str:
    """Key of the original bytes: ``{originals_prefix}/{directory}/{stem}{original_ext}``.

    Same arguments as :func:`archive_key`; ``original_ext`` is the original file's extension
    (e.g. ``.JPG`` -> ``.jpg``; an unsafe or empty one gives a key without extension).
    """
    return _build_key(
        prefix=templates.originals_prefix,
        templates=templates,
        customer_type_label=customer_type_label,
        customer_name=customer_name,
        document_type_label=document_type_label,
        submitted=submitted,
        ext=original_ext,
        max_key_bytes=max_key_bytes,
    )


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and _EXTENSION.fullmatch("." + ext):
        return stem, "." + ext
    return name, ""


def with_collision_suffix(key: str, n: int) -> str:
    """``a/b/name.pdf`` -> ``a/b/name-{n}.pdf`` (n >= 2). Pass the unsuffixed key."""
    if n < 2:
        raise ValueError("collision suffix starts at 2")
    head, slash, name = key.rpartition("/")
    stem, ext = _split_extension(name)
    return f"{head}{slash}{stem}-{n}{ext}"


def collision_number(key: str, base: str) -> int | None:
    """Which slot of ``base`` the ``key`` is: 1 for ``base`` itself, ``n`` for
    ``with_collision_suffix(base, n)`` (n >= 2, no leading zero), None for any other key.

    The one matcher of "a key plus its collision suffix": filing, review and the integrity
    check all judge a key against the key the naming rules give through this function.
    """
    if key == base:
        return 1
    head, slash, name = base.rpartition("/")
    stem, ext = _split_extension(name)
    before = f"{head}{slash}{stem}-"
    if len(key) <= len(before) + len(ext) or not key.startswith(before):
        return None
    if ext and not key.endswith(ext):
        return None
    digits = key[len(before) : len(key) - len(ext)]
    if not (digits.isascii() and digits.isdigit()) or digits.startswith("0"):
        return None
    n = int(digits)
    return n if n >= 2 else None


def matches_key(key: str | None, base: str) -> bool:
    """``key`` is ``base`` or ``base`` with a collision suffix (``-2``, ``-3`` ...)."""
    return key is not None and collision_number(key, base) is not None


def first_free_key(key: str, *, taken: Callable[[str], bool], limit: int = MAX_COLLISION_N) -> str:
    """``key`` if it is free, else the first free ``key-2``, ``key-3`` ...

    Args:
        key: The key from :func:`archive_key` or :func:`original_key`.
        taken: Tells whether a key is already in use.
        limit: Highest suffix tried.

    Raises:
        KeyCollisionError: Every candidate up to ``limit`` is taken.
    """
    if not taken(key):
        return key
    for n in range(2, limit + 1):
        candidate = with_collision_suffix(key, n)
        if not taken(candidate):
            return candidate
    raise KeyCollisionError(f"同名文件过多，无法分配对象键（已尝试到 -{limit}）", key=key)


def _key_problem(key: str, max_bytes: int) -> str | None:
    if not isinstance(key, str) or not key:
        return "为空"
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in key):
        return "含有控制字符"
    if "\\" in key:
        return "含有反斜杠"
    if key.startswith("/"):
        return "以 / 开头"
    if unicodedata.normalize("NFC", key) != key:
        return "不是 NFC 规范形式"
    if utf8_len(key) > max_bytes:
        return f"超过 {max_bytes} 字节"
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            return "含有空段、. 或 .."
        if utf8_len(segment) > MAX_COMPONENT_BYTES:
            return f"某一段超过 {MAX_COMPONENT_BYTES} 字节"
    return None


def validate_key(key: str, *, max_bytes: int = MAX_KEY_BYTES) -> str:
    """Check the rules every stored key follows; return the key unchanged.

    Refused: empty keys, a leading ``/``, empty, ``.`` or ``..`` segments (so also a trailing
    ``/``), backslashes, NUL and other control characters, non-NFC text, more than
    ``max_bytes`` UTF-8 bytes, a segment over 255 bytes.

    Raises:
        InvalidKeyError: With the reason in Chinese.
    """
    problem = _key_problem(key, max_bytes)
    if problem is not None:
        shown = key[:80] if isinstance(key, str) else repr(key)
        raise InvalidKeyError(f"对象键无效（{problem}）: {shown!r}", reason=problem)
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a valid key text (may end with ``/``). Returns it unchanged."""
    if prefix:
        validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def is_under_prefix(key: str, prefix: str) -> bool:
    """True when ``key`` is a valid key inside folder ``prefix`` (``archive`` or ``archive/``)."""
    try:
        validate_key(key)
    except InvalidKeyError:
        return False
    folder = prefix.strip("/")
    return not folder or key.startswith(folder + "/")
