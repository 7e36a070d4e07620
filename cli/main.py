"""The ``dossier`` command line: thin — parse, call a plain function, print.

Errors become exit codes in one place (:class:`_Boundary`, the root command group, so that
:func:`run` and a test's ``CliRunner`` see the same thing): usage and
configuration errors exit 2, an unreachable or unmigrated database 3, other errors 1, all as one
line on stderr (a traceback only with ``--debug``); ``dossier check`` adds 1 warnings, 2 critical.
"""

from __future__ import annotations

import os
import sys
import tomllib
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from typer import Abort, Exit
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

import flows  # noqa: F401  (switches Prefect telemetry off before anything imports prefect)
from app.context import app_context
from app.records import document_record, record_unmasked
from cli import help_text
from cli.labels import print_document_tables
from cli.output import (
    DocumentIdArg,
    FullOpt,
    JsonOpt,
    LimitOpt,
    OffsetOpt,
    choose,
    cli_actor,
    console,
    document_types,
    emit_json,
    err,
    print_documents,
)
from cli.usage_errors import usage_message
from config import load_settings
from config.errors import DossierError, exit_code
from models import repo
from models.db import session_scope

_debug = {"on": bool(os.environ.get("DOSSIER_DEBUG"))}


class _Boundary(help_text.ChineseHelpOption, TyperGroup):
    """The root group: an error that leaves a command becomes one stderr line and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ClickException, Exit, Abort):
            raise
        except Exception as e:  # noqa: BLE001  (the boundary: everything becomes one line)
            code, line = _classify(e)
            if _debug["on"]:
                traceback.print_exc()
            sys.stderr.write(line + "\n")
            raise Exit(code) from e


app = typer.Typer(
    cls=_Boundary,
    name="dossier",
    help="客户资料归档：扫描件进来，可检索、命名规范、归档到位的 PDF 出去。",
    no_args_is_help=True,
    add_completion=False,
)
documents_app = typer.Typer(help="资料文件 (documents)", no_args_is_help=True)
app.add_typer(documents_app, name="documents")


@app.command()
def version() -> None:
    """Print the version of dossier and its key components."""
    from importlib.metadata import version as v

    for name in ("dossier", "prefect", "sqlmodel", "pypdf", "pillow", "boto3", "pytesseract"):
        console.print(f"{name} {v(name)}")


@app.command()
def init(json_out: JsonOpt = False) -> None:
    """Create folders, migrate the database to the latest schema, create the bucket or folder."""
    ctx = app_context(check_schema=False)
    ctx.initialize()
    s = ctx.settings
    where = {
        "home": str(s.home),
        "database": ctx.engine.url.render_as_string(hide_password=True),
        "storage": ctx.store.describe(),
        "intake": str(s.intake_dir),
        "quarantine": str(s.quarantine_dir),
        "work": str(s.work_dir),
    }
    if json_out:
        emit_json(where)
        return
    table = Table(title="dossier 已就绪", show_header=False)
    for k, v in where.items():
        table.add_row(k, v)
    console.print(table)


# ---- documents ---------------------------------------------------------------------------


@documents_app.command("list")
def documents_list(
    status: Annotated[
        str | None, typer.Option(help="资料状态：代码或中文，如 pending_review 或 待审核")
    ] = None,
    customer: Annotated[str | None, typer.Option(help="客户编号")] = None,
    document_type: Annotated[
        str | None, typer.Option("--type", help="资料类型：代码或中文，如 id_card 或 身份证")
    ] = None,
    limit: LimitOpt = 100,
    offset: OffsetOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """List documents."""
    ctx = app_context()
    with session_scope(ctx.engine) as session:
        customer_id = None
        if customer:
            found = repo.get_customer(session, code=customer)
            if found is None:
                raise repo.NotFoundError(f"客户不存在：{customer}")
            customer_id = found.id
        rows = repo.list_documents(
            session,
            status=choose("--status", status, ctx.taxonomy.document_statuses),
            customer_id=customer_id,
            document_type=choose("--type", document_type, document_types(ctx.taxonomy)),
            limit=limit,
            offset=offset,
        )
        records = [
            document_record(d, customer=_customer_of(session, d), taxonomy=ctx.taxonomy)
            for d in rows
        ]
    if json_out:
        emit_json(records)
    else:
        print_documents(records)


def _customer_of(session, document):  # type: ignore[no-untyped-def]
    from models.customer import Customer

    return session.get(Customer, document.customer_id) if document.customer_id else None


@documents_app.command("show")
def documents_show(
    document_id: DocumentIdArg,
    text: Annotated[bool, typer.Option("--text", help="同时显示 OCR 识别文本")] = False,
    full: FullOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Show one document: status, keys, checksums, extracted fields, review reasons."""
    ctx = app_context()
    with session_scope(ctx.engine) as session:
        doc = repo.get_document(session, document_id=document_id)
        if doc is None:
            raise repo.NotFoundError(f"资料不存在：#{document_id}")
        record = document_record(
            doc,
            customer=_customer_of(session, doc),
            taxonomy=ctx.taxonomy,
            include_text=text,
            unmask=full,
        )
        if full:
            record_unmasked(session, actor=cli_actor(), entity_type="document", entity_id=doc.id)
    if json_out:
        emit_json(record)
        return
    print_document_tables(record, taxonomy=ctx.taxonomy)


# ---- long-running ------------------------------------------------------------------------


@app.command()
def serve(
    list_: Annotated[
        bool, typer.Option("--list", help="只列出各项定时任务及下次运行时间（北京时间），不启动")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run the scheduler: intake every minute, the integrity check nightly, the tier refresh,
    the monthly upkeep report and the weekly backup (Prefect)."""
    from flows.serve import schedule_table, serve_forever

    if list_:
        _print_schedules(schedule_table(load_settings()), json_out)
        return
    ctx = app_context(check_schema=False)
    ctx.initialize()
    serve_forever(ctx.settings)


def _print_schedules(rows: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        emit_json(rows)
        return
    table = Table(title="定时任务")
    for heading in ("任务", "部署", "计划", "时区", "下次运行（北京时间）"):
        table.add_column(heading)
    for r in rows:
        next_run = (r["next_run"] or "—").replace("T", " ").removesuffix("+08:00")
        table.add_row(r["label"], r["deployment"], r["schedule"], r["timezone"] or "—", next_run)
    console.print(table)


def _register_sub_apps() -> None:
    """Commands that live in their own modules, imported explicitly (a broken one fails loudly)."""
    from cli import (
        check,
        customers,
        deploy,
        exchange,
        ingest,
        mail,
        notify,
        quarantine,
        relink,
        review,
        tokens,
        web,
    )

    ingest.register(app)
    check.register(app)
    quarantine.register(app)
    relink.register(app)
    customers.register(app)
    tokens.register(app)
    exchange.register(app)
    mail.register(app)
    notify.register(app)
    deploy.register(app)
    for sub in (review.app, web.app):
        app.registered_commands.extend(sub.registered_commands)
        app.registered_groups.extend(sub.registered_groups)


_register_sub_apps()
help_text.apply(app)


# ---- the one error boundary ----------------------------------------------------------------

GLOBAL_FLAGS = ("--debug", "--verbose")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_line(e: ClickException) -> str:
    where = ""
    if isinstance(e, UsageError) and e.ctx is not None:
        where = f"（运行 {e.ctx.command_path} --help 查看用法）"
    return f"用法错误：{usage_message(e.format_message())}{where}"


def _classify(e: BaseException) -> tuple[int, str]:
    """The exit code and the one line to print for an exception that left a command."""
    if isinstance(e, DossierError):
        return exit_code(e), f"错误 ({e.code})：{_one_line(e.message)}"
    if isinstance(e, ClickException):
        return e.exit_code, _usage_line(e)
    if isinstance(e, ValidationError):
        first = e.errors()[0] if e.errors() else {}
        key = ".".join(str(x) for x in first.get("loc", ()))
        where = f"{key}：" if key else ""
        return 2, f"配置错误：{where}{_one_line(first.get('msg', str(e)))}"
    if isinstance(e, tomllib.TOMLDecodeError | UnicodeDecodeError):
        return 2, f"配置错误：配置文件无法读取：{_one_line(str(e))}"
    if isinstance(e, SQLAlchemyError):
        return 3, f"错误 (database_unavailable)：数据库不可用：{_one_line(str(e).splitlines()[0])}"
    if isinstance(e, OverflowError):
        return 2, "用法错误：数值超出范围"
    return 1, f"内部错误 ({type(e).__name__})：{_one_line(str(e))[:300]}；加 --debug 查看详情"


def run(argv: list[str]) -> int:
    """Run the app on ``argv``; every failure becomes one line on stderr and an exit code."""
    debug = "--debug" in argv or bool(os.environ.get("DOSSIER_DEBUG"))
    _debug["on"] = debug
    verbose = "--verbose" in argv
    argv = [a for a in argv if a not in GLOBAL_FLAGS]
    if not verbose:
        _prefect_logs_to_file()
    try:
        rv = app(argv, prog_name="dossier", standalone_mode=False)
    except (Abort, KeyboardInterrupt):
        err.print("已中断")
        return 130
    except NoArgsIsHelpError as e:
        e.show()
        return 2
    except Exception as e:  # noqa: BLE001  (the boundary: everything becomes one line)
        code, line = _classify(e)
        if debug:
            traceback.print_exc()
        sys.stderr.write(line + "\n")
        return code
    return rv if isinstance(rv, int) else 0


def _prefect_logs_to_file() -> None:
    """Point Prefect's console logging at <home>/logs/prefect.log (``--verbose`` keeps it).

    Prefect reads its logging configuration when it is first imported; this writes a copy of its
    default configuration whose console handlers are a log file, and names it in
    ``PREFECT_LOGGING_SETTINGS_PATH`` (an explicit setting of that variable wins).
    """
    import importlib.util

    import yaml

    if os.environ.get("PREFECT_LOGGING_SETTINGS_PATH"):
        return
    try:
        home = load_settings().home
    except Exception:  # noqa: BLE001  (a broken configuration is reported by the command)
        home = Path(os.environ.get("DOSSIER_HOME") or ".")
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return
    logs = Path(home).expanduser().absolute() / "logs"
    try:
        default = Path(spec.submodule_search_locations[0]) / "logging" / "logging.yml"
        config = yaml.safe_load(default.read_text(encoding="utf-8"))
        to_file = {
            "level": 0,
            "class": "logging.FileHandler",
            "encoding": "utf-8",
            "filename": str(logs / "prefect.log"),
            "delay": True,
        }
        config["handlers"]["console"] = to_file | {"formatter": "standard"}
        config["handlers"]["debug"] = to_file | {"formatter": "debug"}
        logs.mkdir(parents=True, exist_ok=True)
        target = logs / "prefect-logging.yml"
        target.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(target)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))
