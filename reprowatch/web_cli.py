"""CLI commands for the web UI and review: ``serve``, ``user add|list|passwd|disable``,
``review`` (added to the group in cli.py).

Exit codes as everywhere (DESIGN.md): 0 ok, 1 a refused review (the workflow does not allow
it), 2 usage or input error.
"""

from __future__ import annotations

import json
import os
import sys

import click

from reprowatch.cli import EXIT_FINDINGS, InputError, _local_time, _open_store


def _accounts():
    from reprowatch.paths import data_dir
    from search.web.users import Accounts, accounts_path

    return Accounts(accounts_path(data_dir()))


def _audit_user_change(ctx, action: str, name: str, **fields) -> None:
    """Log an account change in the custody log (who ran the command, on which account)."""
    from evidence import custody
    from reprowatch.paths import data_dir

    store = _open_store(ctx)
    try:
        custody.record(store, "user", data_dir=data_dir(), target=name, action=action, ip="cli", **fields)
    finally:
        store.close()


def _read_password(stdin: bool, confirm: bool = True) -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt=confirm)
    from search.web.users import UserError, check_password

    try:
        check_password(password)
    except UserError as exc:
        raise InputError(str(exc)) from None
    return password


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--secure-cookies", is_flag=True,
              help="Mark cookies Secure (set this when a TLS proxy serves the UI over https).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Server processes (one per core helps under many officers; login rate limits count per process).")
@click.pass_context
def serve(ctx, host, port, secure_cookies, workers):
    """Run the officers' web UI and HTTP API (OpenAPI docs at /docs).

    Create accounts first with `reprowatch user add NAME --role viewer|reviewer|admin`.
    """
    import socket

    import uvicorn

    from search.store import StoreError
    from search.web import create_app

    try:
        app = create_app(ctx.obj.get("store"), secure_cookies=secure_cookies)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    if not app.state.ctx.accounts.all():
        click.echo("注意: 还没有任何账号；先运行 reprowatch user add NAME --role admin --password-stdin", err=True)
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"网页界面: http://{host}:{port}/   (Ctrl-C 停止)", nl=True)
    options = dict(host=host, port=port, log_level="warning", server_header=False, date_header=False)
    if workers == 1:
        uvicorn.run(app, **options)
        return
    # Each worker process builds its own app (its own store connections and in-memory columns).
    from search.store import store_url

    os.environ["REPROWATCH_STORE"] = store_url(ctx.obj.get("store"))
    os.environ["REPROWATCH_SECURE_COOKIES"] = "1" if secure_cookies else ""
    app.state.ctx.store.close()
    uvicorn.run("search.web.app:app_from_env", factory=True, workers=workers, **options)


@click.group()
def user():
    """Web UI accounts: add, list, passwd, disable (stored in data/web.db)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "reviewer", "admin"]), required=True,
              help="viewer: search and read; reviewer: + review and export; admin: + accounts and audit log.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--json", "as_json", is_flag=True, help="Print the new account as JSON.")
@click.pass_context
def user_add(ctx, name, role, password_stdin, as_json):
    """Create an account."""
    from search.web.users import UserError

    password = _read_password(password_stdin)
    try:
        account = _accounts().add(name, role, password)
    except UserError as exc:
        raise InputError(str(exc)) from None
    _audit_user_change(ctx, "add", name, role=role)
    click.echo(json.dumps(account.public(), ensure_ascii=False) if as_json else f"已创建账号 {name}（{role}）")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
def user_list(as_json):
    """List the accounts."""
    from search.web.present import ROLE_NAMES, beijing

    accounts = _accounts().all()
    if as_json:
        click.echo(json.dumps([a.public() for a in accounts], ensure_ascii=False, indent=2))
        return
    for a in accounts:
        click.echo(f"{a.name:<20} {a.role:<9} {ROLE_NAMES[a.role]:<4} {'已停用' if a.disabled else '可用':<4} "
                   f"变更于 {beijing(a.changed)}")
    if not accounts:
        click.echo("没有账号")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of standard input.")
@click.pass_context
def user_passwd(ctx, name, password_stdin):
    """Set a new password (re-enables a disabled account; ends its open sessions)."""
    from search.web.users import UserError

    password = _read_password(password_stdin)
    try:
        _accounts().set_password(name, password)
    except UserError as exc:
        raise InputError(str(exc)) from None
    _audit_user_change(ctx, "passwd", name)
    click.echo(f"已更新 {name} 的密码")


@user.command("disable")
@click.argument("name")
@click.pass_context
def user_disable(ctx, name):
    """Lock an account out (its open sessions end at once)."""
    from search.web.users import UserError

    try:
        _accounts().disable(name)
    except UserError as exc:
        raise InputError(str(exc)) from None
    _audit_user_change(ctx, "disable", name)
    click.echo(f"已停用账号 {name}")


@click.command()
@click.argument("item_id")
@click.option("--status", required=True,
              type=click.Choice(["confirmed", "dismissed", "notice_sent", "removed", "still_online"]),
              help="The new review status.")
@click.option("--note", default="", help="What was done or why (required for dismissed).")
@click.option("--deadline", metavar="YYYY-MM-DD",
              help="With notice_sent: when the takedown is due (a date: the end of that day, Beijing time; "
                   "default: now + the office config's deadline_days).")
@click.option("--user", "user_name", default=None, help="Who decides (default: user@host of this shell).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Office config (deadline_days).")
@click.option("--json", "as_json", is_flag=True, help="Print the updated item as JSON.")
@click.pass_context
def review(ctx, item_id, status, note, deadline, user_name, config_file, as_json):
    """Move an item along new → confirmed | dismissed → notice_sent → removed | still_online.

    Exit 1 when the workflow does not allow the move, 2 for an unknown item, a dismissal
    without --note or a bad --deadline.
    """
    from evidence import custody
    from evidence.config import ConfigError
    from reprowatch.paths import data_dir
    from reprowatch.review import decide
    from search.store import NoteRequiredError, NotFoundError, StoreError, TransitionError

    actor = user_name or custody.default_actor()
    store = _open_store(ctx)
    try:
        try:
            before, item = decide(store, item_id, status, note=note, user=actor, deadline=deadline,
                                  data=data_dir(), config_file=config_file)
        except NoteRequiredError as exc:
            raise InputError(f"--note: {exc}") from None
        except TransitionError as exc:
            click.echo(f"错误: {exc}", err=True)
            sys.exit(EXIT_FINDINGS)
        except NotFoundError:
            raise InputError(f"no item {item_id!r}") from None
        except (ValueError, ConfigError) as exc:
            raise InputError(f"--deadline: {exc}" if deadline else str(exc)) from None
        custody.record(store, "review", data_dir=data_dir(), actor=actor, target=item_id, status=status,
                       previous=before["status"], note=item["history"][-1]["note"], ip="cli")
    except StoreError as exc:
        raise InputError(str(exc)) from None
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(item, ensure_ascii=False, indent=2))
    elif status == "notice_sent":
        click.echo(f"{item_id}: {before['status']} → {status}，处置期限 {_local_time(item['deadline'])}（北京时间）")
    else:
        click.echo(f"{item_id}: {before['status']} → {status}")
