"""The notification settings in effect: what an admin saved on the web, else the environment's.

:func:`notify_config` is the one place notifying reads them from (``dispatch``, ``expiry``,
``events``): which events are on, the expiry lead days, the incomplete-checklist days, quiet
hours, the digest, who gets each event and the webhook address. Until an admin saves on
``/notifications`` (:func:`save_form`), the environment's settings are in effect and every
event goes to the people it always went to (:data:`DEFAULT_RECIPIENTS`). :func:`parse_form`
checks the page's form and raises a Chinese :class:`~models.errors.ValidationError` naming the
field. SMTP, the webhook's signing key, the look-back and the schedule stay in the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session

from archive.recipients import owner_emails, role_emails, submitter_emails
from config import Settings
from config.clock import quiet_window
from models import repo
from models.customer import Customer
from models.errors import ValidationError
from models.user import Role

KINDS = ("expiry", "rejected", "quarantined", "integrity", "checklist")
KIND_LABELS = {
    "expiry": "证照到期提醒",
    "rejected": "资料被驳回",
    "quarantined": "文件被隔离",
    "integrity": "完整性检查发现严重问题",
    "checklist": "客户资料清单未齐",
}
RECIPIENT_LABELS = {
    "owner": "客户负责人",
    "submitter": "提交人",
    "role:admin": "全部管理员",
    "role:reviewer": "全部审核员",
    "role:sales": "全部业务员",
}
#: Who may receive each event (a quarantined file has no customer, a run no submitter).
RECIPIENT_CHOICES = {
    "expiry": ("owner", "submitter", "role:admin", "role:reviewer", "role:sales"),
    "rejected": ("submitter", "owner", "role:admin", "role:reviewer"),
    "quarantined": ("submitter", "role:admin", "role:reviewer"),
    "integrity": ("role:admin", "role:reviewer"),
    "checklist": ("owner", "role:admin", "role:sales"),
}
DEFAULT_RECIPIENTS = {
    "expiry": ("owner",),
    "rejected": ("submitter",),
    "quarantined": ("submitter",),  # nobody reached: the admins (see recipients_for)
    "integrity": ("role:admin",),
    "checklist": ("owner",),
}
MAX_DAYS = 3650
MAX_LEAD_DAYS = 10
_SPLIT = re.compile(r"[\s,，、;；]+")


@dataclass(frozen=True)
class NotifyConfig:
    """The notification settings in effect (``saved_by`` None: the environment's)."""

    events: tuple[str, ...]
    expiry_days: tuple[int, ...]
    checklist_days: int
    quiet_hours: str | None
    digest: bool
    recipients: dict[str, tuple[str, ...]] = field(default_factory=dict)
    webhook_url: str = ""
    saved_by: str | None = None
    saved_at: datetime | None = None

    def on(self, kind: str) -> bool:
        return kind in self.events

    def values(self) -> dict[str, Any]:
        """As the row stores them (lists, not tuples), for saving and the audit."""
        data = asdict(self)
        return {
            "events": list(self.events),
            "expiry_days": list(self.expiry_days),
            "checklist_days": self.checklist_days,
            "quiet_hours": self.quiet_hours,
            "digest": self.digest,
            "recipients": {k: list(v) for k, v in data["recipients"].items()},
            "webhook_url": self.webhook_url,
        }


def env_config(settings: Settings) -> NotifyConfig:
    """The environment's settings, as in effect before an admin saves."""
    return NotifyConfig(
        events=KINDS,
        expiry_days=tuple(settings.expiry_notice_days),
        checklist_days=settings.checklist_notice_days,
        quiet_hours=settings.notify_quiet_hours,
        digest=settings.notify_digest,
        recipients=dict(DEFAULT_RECIPIENTS),
        webhook_url=settings.webhook_url,
    )


def notify_config(session: Session, settings: Settings) -> NotifyConfig:
    """The settings in effect: the saved row, else the environment's."""
    row = repo.get_notification_setting(session)
    if row is None:
        return env_config(settings)
    recipients = {k: tuple(row.recipients.get(k, ())) for k in KINDS}
    return NotifyConfig(
        events=tuple(k for k in KINDS if k in row.events),
        expiry_days=tuple(int(d) for d in row.expiry_days),
        checklist_days=row.checklist_days,
        quiet_hours=row.quiet_hours,
        digest=row.digest,
        recipients=recipients,
        webhook_url=row.webhook_url,
        saved_by=row.updated_by,
        saved_at=row.updated_at,
    )


def recipients_for(
    session: Session,
    config: NotifyConfig,
    kind: str,
    *,
    customer: Customer | None = None,
    submitted_by: str | None = None,
) -> tuple[str, ...]:
    """The e-mail addresses an event of ``kind`` goes to under ``config``."""
    addresses: list[str] = []
    for who in config.recipients.get(kind, ()):
        if who == "owner":
            addresses += owner_emails(session, customer)
        elif who == "submitter":
            addresses += submitter_emails(session, submitted_by)
        elif who.startswith("role:"):
            addresses += role_emails(session, who.removeprefix("role:"))
    if kind == "quarantined" and not addresses:  # a file nobody hears of is lost: the admins
        addresses = role_emails(session, Role.ADMIN)
    return tuple(dict.fromkeys(addresses))


# ---- the page's form ------------------------------------------------------------------------


def _days(text: str, *, field: str, label: str) -> int:
    if not text.strip().isdigit() or int(text) > MAX_DAYS:
        raise ValidationError(
            f"{label}：应为 0 到 {MAX_DAYS} 之间的整数", field=field, reason="date_range"
        )
    return int(text)


def _lead_days(text: str, *, required: bool) -> tuple[int, ...]:
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    days = sorted(
        {_days(p, field="expiry_days", label="到期提前天数") for p in parts}, reverse=True
    )
    if required and not days:
        raise ValidationError(
            "到期提前天数：开启到期提醒时至少填写一个天数，如 30,7,0",
            field="expiry_days", reason="required",
        )  # fmt: skip
    if len(days) > MAX_LEAD_DAYS:
        raise ValidationError(
            f"到期提前天数：最多 {MAX_LEAD_DAYS} 个", field="expiry_days", reason="date_range"
        )
    return tuple(days)


def _quiet(text: str) -> str | None:
    text = text.strip().replace("－", "-").replace("—", "-").replace("：", ":")
    if not text:
        return None
    try:
        start, end = quiet_window(text)
    except ValueError as e:
        raise ValidationError(str(e), field="quiet_hours", reason="date_format") from e
    return f"{start:%H:%M}-{end:%H:%M}"


def _webhook(form: Mapping[str, Any], current: str) -> str:
    if form.get("webhook_clear"):
        return ""
    url = str(form.get("webhook_url") or "").strip()
    if not url:
        return current  # the field is shown empty (the address is masked): keep it
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 1000:
        raise ValidationError(
            "Webhook 地址：应为 http:// 或 https:// 开头的完整网址（不超过 1000 个字符）",
            field="webhook_url", reason="required",
        )  # fmt: skip
    return url


def parse_form(form: Mapping[str, Any], current: NotifyConfig) -> NotifyConfig:
    """The settings the form asks for (``form``: field -> text, or list for multi-choices).

    Raises:
        ValidationError: The first field that breaks its rule, in Chinese.
    """
    events = tuple(k for k in KINDS if form.get(f"event_{k}"))
    recipients = {}
    for kind in KINDS:
        chosen = form.get(f"recipients_{kind}") or []
        chosen = [chosen] if isinstance(chosen, str) else list(chosen)
        bad = [c for c in chosen if c not in RECIPIENT_CHOICES[kind]]
        if bad:
            raise ValidationError(
                f"{KIND_LABELS[kind]}的收件人：未知的选项“{bad[0]}”",
                field=f"recipients_{kind}", reason="option_unknown",
            )  # fmt: skip
        recipients[kind] = tuple(c for c in RECIPIENT_CHOICES[kind] if c in chosen)
    checklist = _days(str(form.get("checklist_days") or "0"), field="checklist_days",
                      label="资料清单未齐提醒天数")  # fmt: skip
    return NotifyConfig(
        events=events,
        expiry_days=_lead_days(str(form.get("expiry_days") or ""), required="expiry" in events),
        checklist_days=checklist,
        quiet_hours=_quiet(str(form.get("quiet_hours") or "")),
        digest=bool(form.get("digest")),
        recipients=recipients,
        webhook_url=_webhook(form, current.webhook_url),
    )


def save_form(
    session: Session, settings: Settings, form: Mapping[str, Any], *, actor: str
) -> list[str]:
    """Check the form and save it over the settings in effect (audited); the changed fields.

    Raises:
        ValidationError: As :func:`parse_form`; nothing is written.
    """
    current = notify_config(session, settings)
    wanted = parse_form(form, current)
    return repo.save_notification_setting(
        session, current=current.values(), values=wanted.values(), actor=actor
    )


__all__ = [
    "DEFAULT_RECIPIENTS",
    "KINDS",
    "KIND_LABELS",
    "RECIPIENT_CHOICES",
    "RECIPIENT_LABELS",
    "NotifyConfig",
    "env_config",
    "notify_config",
    "parse_form",
    "recipients_for",
    "save_form",
]
