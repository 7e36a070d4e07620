"""Usage errors in Chinese: the command-line parser's English messages as people here read them.

The parser (Typer's click) words its errors in English ("Missing option '--user' / '-u'").
:func:`usage_message` recognizes each kind of message it can raise and says the same in Chinese,
keeping the option or command names as typed; a message it does not know is kept, after a
Chinese lead, so nothing the parser said is lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_KIND = {"option": "选项", "argument": "参数", "parameter": "参数"}


def _missing(m: re.Match[str]) -> str:
    text = f"缺少{_KIND.get(m['kind'], '参数')} {m['hint']}"
    return text + (f"（或设置环境变量 {m['env']}）" if m["env"] else "")


def _did_you_mean(options: str | None) -> str:
    if not options:
        return ""
    names = [n.strip(" '\"") for n in re.split(r",|\bor\b", options) if n.strip(" '\"")]
    return f"；是否想用 {'、'.join(names)}"


def _value(text: str) -> str:
    """A value error's reason (pydantic's or click's wording) in Chinese."""
    for pattern, reason in _VALUE_RULES:
        m = re.search(pattern, text)
        if m:
            return reason(m)
    return f"格式不对（{text}）"


_VALUE_RULES: tuple[tuple[str, Callable[[re.Match[str]], str]], ...] = (
    (r"valid integer|is not a valid int", lambda m: "应为整数"),
    (r"valid number|is not a valid float", lambda m: "应为数字"),
    (r"greater than or equal to (\S+)", lambda m: f"应不小于 {m[1]}"),
    (r"greater than (\S+)", lambda m: f"应大于 {m[1]}"),
    (r"less than or equal to (\S+)", lambda m: f"应不大于 {m[1]}"),
    (r"less than (\S+)", lambda m: f"应小于 {m[1]}"),
    (r"is not in the range (.+?)\.?$", lambda m: f"应在 {m[1]} 范围内"),
    (
        r"is not one of (.+?)\.?$|is not a valid choice.*?(?:one of|:) ?(.+?)\.?$",
        lambda m: "应为以下之一：" + "、".join(v.strip(" '\"") for v in (m[1] or m[2]).split(",")),
    ),
    (r"(?:File|Directory|Path) '(.+?)' does not exist", lambda m: f"{m[1]} 不存在"),
    (r"(?:File|Path) '(.+?)' is a directory", lambda m: f"{m[1]} 是文件夹，不是文件"),
    (r"Directory '(.+?)' is a file", lambda m: f"{m[1]} 是文件，不是文件夹"),
    (r"(?:File|Path) '(.+?)' is not readable", lambda m: f"{m[1]} 无法读取（权限不足）"),
    (r"(?:File|Path) '(.+?)' is not writable", lambda m: f"{m[1]} 无法写入（权限不足）"),
    (r"does not match the format|isoformat|valid date", lambda m: "日期应为 YYYY-MM-DD"),
)

_RULES: tuple[tuple[str, Callable[[re.Match[str]], str]], ...] = (
    (
        r"^Missing (?P<kind>option|argument|parameter) (?P<hint>.+?)"
        r"(?: \(env var: '(?P<env>[^']+)'\))?\.",
        _missing,
    ),
    (
        r"^No such option: (?P<opt>\S+?)\.?(?: Did you mean (?P<alt>.+?)\?)?"
        r"(?: \(Possible options: (?P<alt2>.+?)\))?\.?$",
        lambda m: f"没有选项 {m['opt']}{_did_you_mean(m['alt'] or m['alt2'])}",
    ),
    (
        r"^No such command '(?P<cmd>.+?)'\.(?: Did you mean (?P<alt>.+?)\?)?$",
        lambda m: f"没有命令 {m['cmd']}{_did_you_mean(m['alt'])}",
    ),
    (
        r"^Got unexpected extra arguments?(?:\(s\))? \((?P<args>.+)\)",
        lambda m: f"多余的参数：{m['args']}",
    ),
    (r"^Option '(?P<opt>.+?)' requires an argument\.?", lambda m: f"选项 {m['opt']} 需要一个值"),
    (
        r"^Option '(?P<opt>.+?)' requires (?P<n>\d+) arguments\.?",
        lambda m: f"选项 {m['opt']} 需要 {m['n']} 个值",
    ),
    (
        r"^Invalid value for (?P<hint>.+?): (?P<why>.+)$",
        lambda m: f"{m['hint'].strip(chr(39))} 的值无效：{_value(m['why'])}",
    ),
    (r"^Invalid value: (?P<why>.+)$", lambda m: f"值无效：{_value(m['why'])}"),
)


def usage_message(message: str) -> str:
    """The parser's one-line ``message`` in Chinese (unknown wording kept after a lead)."""
    text = " ".join(message.split())
    for pattern, say in _RULES:
        m = re.match(pattern, text)
        if m:
            return say(m)
    if re.search(r"[\u4e00-\u9fff]", text):
        return text  # already ours (a BadParameter raised with a Chinese message)
    return f"命令行有误（{text}）"
