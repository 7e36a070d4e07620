"""One e-mail read with the standard ``email`` package: who sent it, and which parts to take.

:func:`read_message` never raises on bad input: a malformed message, an undecodable name or a
broken part becomes a refusal or an ignored part with a reason. Attachment names are decoded
from RFC 2231 parameters, RFC 2047 encoded words (also inside quotes, as many mailers do) and
raw 8-bit bytes (UTF-8, else GB18030, a superset of GBK), then made plain file names.
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from fnmatch import fnmatchcase

from config.mail import MailboxSettings

#: Archives are not unpacked: the message is refused with this reason for such a part.
ARCHIVE_SUFFIXES = (".zip", ".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_MAX_NAME_BYTES = 200


@dataclass(frozen=True)
class Attachment:
    """A part to hand in: its file name and decoded bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Refusal:
    """A part (or the whole message when ``name`` is None) that is not taken, and why."""

    reason: str  # sender, subject, malformed, no_attachment, too_large, archive
    message: str  # Chinese, for people
    name: str | None = None


@dataclass
class ReadMessage:
    """What :func:`read_message` found in one message."""

    sender: str | None
    subject: str
    attachments: list[Attachment] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # names left out by rule (not refused)


def read_message(raw: bytes, *, rules: MailboxSettings, max_file_bytes: int) -> ReadMessage:
    """Parse ``raw`` and apply the mailbox's rules."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    found = ReadMessage(sender=_sender(msg), subject=_header_text(_raw_header(msg, "Subject")))
    refusal = _message_refusal(found, rules)
    if refusal is not None:
        found.refusals.append(refusal)
        return found
    for index, part in enumerate(_file_parts(msg), start=1):
        _take_part(part, index, found, rules=rules, max_file_bytes=max_file_bytes)
    if not found.attachments and not found.refusals:
        if msg.defects:
            kinds = "、".join(sorted({type(d).__name__ for d in msg.defects}))
            found.refusals.append(Refusal("malformed", f"邮件格式错误（{kinds}），未找到附件"))
        else:
            found.refusals.append(Refusal("no_attachment", "邮件没有可收取的附件"))
    return found


def _message_refusal(found: ReadMessage, rules: MailboxSettings) -> Refusal | None:
    if rules.allowed_senders and not _sender_allowed(found.sender, rules.allowed_senders):
        return Refusal("sender", f"发件人 {found.sender or '（无）'} 不在允许名单中")
    if rules.subject_pattern is not None and not re.search(rules.subject_pattern, found.subject):
        return Refusal("subject", "邮件主题不符合规则")
    return None


def _sender_allowed(sender: str | None, allowed: list[str]) -> bool:
    if not sender:
        return False
    domain = "@" + sender.rsplit("@", 1)[-1]
    return sender in allowed or domain in allowed


def _sender(msg: Message) -> str | None:
    addresses = [a for _, a in getaddresses([_header_text(_raw_header(msg, "From"))]) if "@" in a]
    return addresses[0].strip().lower() if addresses else None


def _header_text(value: object) -> str:
    """A header as text: encoded words decoded, raw 8-bit bytes read as UTF-8 or GB18030."""
    if value is None:
        return ""
    text = _raw_bytes_text(str(value))
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except (LookupError, ValueError, UnicodeError):
            pass
    return " ".join(text.split())


def _has_raw_bytes(text: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in text)


def _eight_bit_read(part: Message) -> Message:
    """A copy of ``part``'s content headers with raw 8-bit bytes decoded (for the name)."""
    copy = Message()
    for key in ("Content-Disposition", "Content-Type"):
        value = _raw_header(part, key)
        if value is not None:
            copy[key] = _raw_bytes_text(value)
    return copy


def _raw_bytes_text(text: str) -> str:
    """Text parsed with surrogate escapes (8-bit header bytes) decoded as UTF-8, else GB18030."""
    if not _has_raw_bytes(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def _file_parts(msg: Message) -> list[Message]:
    """The leaf parts that could be files: everything but multipart containers and the body."""
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        named = _raw_name(part) is not None
        disposition = (part.get_content_disposition() or "").lower()
        if named or disposition == "attachment" or part.get_content_maintype() == "image":
            parts.append(part)
    return parts


def _raw_header(msg: Message, name: str) -> str | None:
    """A header's value as parsed, raw 8-bit bytes still surrogate-escaped (``msg.get`` would
    turn them into U+FFFD)."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _raw_name(part: Message) -> str | None:
    if any(_has_raw_bytes(str(v)) for k, v in part.raw_items()):
        part = _eight_bit_read(part)
    name = part.get_filename() or part.get_param("name")
    if isinstance(name, tuple):  # an RFC 2231 value get_param left undecoded
        name = email.utils.collapse_rfc2231_value(name)
    return None if name is None else str(name)


def attachment_name(part: Message, index: int) -> str:
    """The part's file name, decoded and made a plain, bounded file name."""
    raw = _raw_name(part)
    try:
        name = _header_text(raw) if raw else ""
    except (LookupError, UnicodeError):
        name = ""
    name = unicodedata.normalize("NFC", _UNSAFE.sub("_", name)).strip(" .")
    if not name:
        subtype = part.get_content_subtype() or "bin"
        return f"attachment-{index}.{subtype if subtype.isalnum() else 'bin'}"
    return _bounded(name)


def _bounded(name: str) -> str:
    if len(name.encode("utf-8")) <= _MAX_NAME_BYTES:
        return name
    stem, dot, suffix = name.rpartition(".")
    suffix = f".{suffix[:16]}" if dot and stem else ""
    base = stem if dot and stem else name
    while len((base + suffix).encode("utf-8")) > _MAX_NAME_BYTES:
        base = base[:-1]
    return base + suffix


def _take_part(
    part: Message, index: int, found: ReadMessage, *, rules: MailboxSettings, max_file_bytes: int
) -> None:
    name = attachment_name(part, index)
    lower = name.lower()
    if rules.include_names and not any(fnmatchcase(lower, p.lower()) for p in rules.include_names):
        found.ignored.append(name)
        return
    if any(fnmatchcase(lower, p.lower()) for p in rules.exclude_names):
        found.ignored.append(name)
        return
    try:
        data = part.get_payload(decode=True) or b""
    except (ValueError, TypeError, LookupError):
        data = b""
    inline = (part.get_content_disposition() or "inline").lower() == "inline"
    small = len(data) < rules.inline_image_min_bytes
    if not data or (part.get_content_maintype() == "image" and inline and small):
        found.ignored.append(name)
    elif len(data) > max_file_bytes:
        size_mb = len(data) / 1024 / 1024
        limit_mb = max_file_bytes / 1024 / 1024
        message = f"附件 {name} 大小 {size_mb:.1f} MB，超过上限 {limit_mb:.0f} MB"
        found.refusals.append(Refusal("too_large", message, name))
    elif lower.endswith(ARCHIVE_SUFFIXES):
        found.refusals.append(Refusal("archive", f"附件 {name} 是压缩包，不自动解压", name))
    else:
        found.attachments.append(Attachment(name, data))


__all__ = ["ARCHIVE_SUFFIXES", "Attachment", "ReadMessage", "Refusal", "read_message"]
