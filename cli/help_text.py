"""The Chinese help of every command (``dossier … --help`` is read by people).

Docstrings stay English for developers; :func:`apply` puts these texts on the commands when the
command line is assembled, and ``tests/unit/test_cli_help.py`` fails for a command without one.
"""

from __future__ import annotations

from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

HELP_OPTION_TEXT = "显示此帮助并退出。"

COMMAND_HELP = {
    "audit": "查看审计记录（最新在前），可按资料和/或操作人筛选。",
    "backup": "备份数据库（一致快照），并列出每个对象的键、大小与 sha256。",
    "check": "归档完整性检查：证明每份已归档资料都在、完好、归档位置正确且关联无误。",
    "contacts add": "为客户添加联系人。",
    "contacts edit": "修改联系人；空值表示清除该项。",
    "contacts list": "列出客户的联系人（主要联系人在前）。",
    "contacts remove": "删除联系人（审计记录保留其内容）。",
    "cooperations add": "添加合作记录；客户的累计金额、价值层级与等级随之更新。",
    "cooperations edit": "修改合作记录；空值表示清除该项。",
    "cooperations remove": "删除合作记录（审计记录保留其内容）；累计金额与合作日期随之更新。",
    "cooperations list": "列出客户的合作记录（签约日期新的在前）。",
    "customers add": "新建客户（校验信用代码/身份证校验位、电话、邮箱与选项）。",
    "customers dossier": "把客户的全部已归档资料打包为一个 ZIP（含清单，记录审计）。",
    "customers edit": "修改客户字段；空值表示清除该字段。",
    "customers export": "导出客户列表（与列表相同的筛选）；电话、证件号码、邮箱默认脱敏。",
    "customers import": (
        "导入客户；默认全部成功才导入，--partial 只导入有效行。有被拒绝的行时退出码为 1。"
    ),
    "customers list": "列出你可查看的客户；--tag 可重复（须全部符合）。",
    "customers merge": "合并重复客户（管理员）：资料、联系人、跟进、合作记录与标签并入保留的客户。",
    "customers refresh-tiers": "按近 365 天的合作记录重新计算价值层级与客户等级（每晚运行）。",
    "customers show": "查看一个客户：字段、标签、联系人、跟进、合作与资料。",
    "customers tag": "为客户添加词表中的标签（每个客户最多 5 个）。",
    "customers template": "生成 XLSX 导入模板（中文表头，选项列带下拉）。",
    "customers untag": "去掉客户的标签。",
    "documents list": "列出资料。",
    "documents show": "查看一份资料：状态、存储键、校验值、提取字段与审核原因。",
    "followups add": "记录一次跟进；其状态成为客户的跟进状态。",
    "followups list": "列出客户的跟进记录（最新在前）。",
    "ingest": "处理收件夹：生成可检索 PDF，规范命名、归档、关联客户，并给出审核状态。",
    "init": "创建目录，把数据库迁移到最新结构，创建存储桶或目录。",
    "mail fetch": "从每个已配置的邮箱收取新邮件，把附件交给收件处理。",
    "notify run": "发送到期提醒：营业执照、身份证与合同在到期前 30、7、0 天各提醒一次。",
    "quarantine discard": "永久删除一个隔离文件，须填写原因（记录审计）。",
    "quarantine list": "列出隔离区的文件及中文原因（最新在前）。",
    "quarantine requeue": "把隔离文件放回收件夹重新处理（先修正导致隔离的问题）。",
    "relink-pending": "重新关联：客户已知后，自动关联未关联或临时关联的资料。",
    "report upkeep": (
        "月度维护报告：重复客户、久未更新的联系人、未跟进客户、已过期和即将到期的证照、"
        "资料不全、待复核标签。"
    ),
    "restore": "把备份恢复到一个空实例（实例中已有任何记录或对象时拒绝）。",
    "review approve": "通过一份资料（待审核/更新中 -> 已归档），可先更正字段。",
    "review claim": "认领一份资料，避免其他审核人同时处理。",
    "review list": "列出审核队列（异常在前，其次按时间先后）。",
    "review reject": "驳回一份资料，须填写原因。",
    "review release": "释放认领。",
    "review relink": "把资料关联到客户（对象移到该客户的目录）。",
    "review show": "查看一份资料的字段与原因（与 documents show 相同的记录）。",
    "serve": (
        "运行调度：每分钟处理收件夹，每晚完整性检查与价值层级刷新，每小时重新关联，"
        "每周备份，每月维护报告。"
    ),
    "tags add": "在标签词表中新增标签（管理员）。",
    "tags list": "列出标签词表及每个标签的客户数。",
    "tags merge": "把一个标签并入另一个（管理员）：其客户改用保留的标签。",
    "tags rename": "重命名标签（管理员）；客户保留该标签。",
    "tags report": "使用率低于 5% 的标签，以及标签与字段矛盾的客户。",
    "tags retire": "停用标签（管理员）：已有的客户保留，不能再新加。",
    "tokens create": "创建 API 令牌；令牌只显示这一次。",
    "tokens list": "列出令牌（从不显示令牌本身）：当前用户的，或加 --all 列出所有人的。",
    "tokens revoke": "吊销令牌：此后使用它的请求一律拒绝（401）。",
    "users add": "添加可登录的用户。",
    "users disable": "停用用户（不能再登录）。",
    "users end-sessions": "结束用户的所有网页会话（其下一次请求回到登录页）。",
    "users list": "列出用户。",
    "users set-email": "设置或清除用户的电子邮箱（通知发往此地址）。",
    "users set-role": "修改用户角色。",
    "version": "显示 dossier 及其主要组件的版本。",
    "web": "启动审核网页界面（待审核队列），直到中断。",
}

#: Typer's panel titles and notes, in Chinese (its own defaults are English).
_RICH_TEXTS = {
    "ARGUMENTS_PANEL_TITLE": "参数",
    "OPTIONS_PANEL_TITLE": "选项",
    "COMMANDS_PANEL_TITLE": "命令",
    "ERRORS_PANEL_TITLE": "错误",
    "ABORTED_TEXT": "已中止。",
    "DEFAULT_STRING": "[默认：{}]",
    "ENVVAR_STRING": "[环境变量：{}]",
    "REQUIRED_LONG_STRING": "[必填]",
    "DEPRECATED_STRING": "(已弃用) ",
    "RICH_HELP": "运行 [blue]'{command_path} {help_option}'[/] 查看帮助。",
}


class ChineseHelpOption:
    """Mixin: the ``--help`` option described in Chinese."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _chinese_panels()  # Typer's help renderer is imported only when help is shown
        super().format_help(ctx, formatter)  # type: ignore[misc]

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = HELP_OPTION_TEXT
        return option


class _Command(ChineseHelpOption, TyperCommand):
    pass


class _Group(ChineseHelpOption, TyperGroup):
    pass


def _chinese_panels() -> None:
    from typer import rich_utils

    for name, text in _RICH_TEXTS.items():
        setattr(rich_utils, name, text)


def command_name(info: typer.models.CommandInfo) -> str:
    """A registered command's name as the command line shows it."""
    return info.name or typer.main.get_command_name(info.callback.__name__)  # type: ignore[union-attr]


def apply(app: typer.Typer, prefix: str = "") -> None:
    """Put the Chinese help on every command of ``app`` and its groups."""
    for info in app.registered_commands:
        text = COMMAND_HELP.get(f"{prefix}{command_name(info)}")
        if text:
            info.help = text
        if info.cls in (None, TyperCommand):
            info.cls = _Command
    for group in app.registered_groups:
        if group.typer_instance is not None:
            group.cls = _Group
            apply(group.typer_instance, f"{prefix}{group.name} ")
