"""CLI commands for evidence: ``export``, ``verify``, ``audit`` (added to the group in cli.py).

Exit codes as everywhere (DESIGN.md): 0 ok, 1 failed verification or a broken custody chain,
2 usage or input error (including a file that is not a package).
"""

from __future__ import annotations

import json
import sys

import click

from reprowatch.cli import EXIT_FINDINGS, EXIT_INPUT, InputError, _local_time, _office_config, _open_store


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The package to write (FILE.zip).")
@click.option("--case", help="Case name (default: the config's case, else one with today's date).")
@click.option("--operator", "operators", multiple=True,
              help="An officer doing the extraction; give two or more (default: the config's operators).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Evidence config YAML: office, place, contact, operators, deadline_days "
                   "(default: $REPROWATCH_EVIDENCE_CONFIG, ./evidence.yaml, data/evidence.yaml).")
@click.option("--no-pdf", is_flag=True, help="Leave out the PDF of the 提取笔录 (the DOCX is always there).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_context
def export(ctx, ids, out, case, operators, config_file, no_pdf, as_json):
    """Export items' evidence as one signed ZIP for a takedown request.

    The package holds each item's capture, manifest.json (hashes, Ed25519 signature),
    提取笔录 (DOCX, PDF), 处置通知 with 送达回证, index.html and verify.py.
    """
    from evidence.keys import SigningKeyError
    from evidence.package import ExportError
    from evidence.package import export as export_package
    from reprowatch.paths import data_dir
    from search.store import StoreError

    data = data_dir()
    config = _office_config(config_file)
    store = _open_store(ctx)
    try:
        result = export_package(store, list(ids), out, data=data, config=config, case=case,
                                operators=list(operators), pdf=not no_pdf)
    except ExportError as exc:
        click.echo(f"错误: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (StoreError, SigningKeyError) as exc:
        raise InputError(str(exc)) from None
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"证据包 {result.path}: {result.items} 条, {result.files} 个文件, {result.bytes:,} 字节, "
               f"{result.seconds:.2f} s")
    click.echo(f"  编号 {result.package_id}")
    click.echo(f"  SHA-256 {result.sha256}")
    click.echo(f"  签名密钥指纹 {result.fingerprint}")


@click.command()
@click.argument("package", type=click.Path())
@click.option("--key", "keys_", multiple=True, metavar="FINGERPRINT|FILE",
              help="Also accept packages signed by this key (fingerprint, base64 key or PEM file); "
                   "this installation's key and data/keys/trusted/*.pub are always accepted.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(package, keys_, as_json):
    """Check an evidence package: every file's SHA-256 and size, and the signature.

    Exit 0 when everything matches, 1 naming every file missing, extra or altered (or a bad
    signature), 2 when PACKAGE is not an evidence package. Same result as `python verify.py`
    inside the package.
    """
    from evidence import keys
    from evidence.verify import NotAPackage, check, summary
    from reprowatch.paths import data_dir

    try:
        trusted = keys.trusted_fingerprints(data_dir(), keys_)
    except keys.SigningKeyError as exc:
        raise InputError(str(exc)) from None
    try:
        report = check(package, trusted or None)
    except NotAPackage as exc:
        raise InputError(f"不是证据包: {exc}") from None
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for line in summary(report):
            click.echo(line)
        if not trusted and report["signature"]["ok"]:
            click.echo("注意: 本机没有签名密钥或受信任密钥，只核对了签名本身；请将上面的指纹与纸质笔录上的指纹比对。")
    sys.exit(0 if report["ok"] else EXIT_FINDINGS)


@click.command()
@click.option("--verify", "check", is_flag=True, help="Check the hash chain; exit 1 at the first bad entry.")
@click.option("--limit", type=click.IntRange(0), default=0, help="Show only the last N entries (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print entries (and the check) as JSON.")
@click.pass_context
def audit(ctx, check, limit, as_json):
    """List the custody log (captures, exports, views; the web UI's searches, reviews, logins
    and account changes) and check its hash chain."""
    from collections import deque

    from evidence import custody
    from search.store import StoreError

    store = _open_store(ctx)
    try:
        shown: deque = deque(maxlen=limit or None)
        result = None
        try:
            if check:
                def walk():
                    for entry in custody.entries(store):
                        shown.append(dict(entry))
                        yield entry
                result = custody.check_chain(walk())
                if not result.ok:
                    # Also list what comes after the break, so the officer sees the whole log.
                    for entry in custody.entries(store, after=result.first_bad or 0):
                        shown.append(entry)
            else:
                shown.extend(custody.entries(store))
        except StoreError as exc:
            raise InputError(str(exc)) from None
    finally:
        store.close()
    entries = [{k: v for k, v in e.items() if k != "_row_seq"} for e in shown]
    if as_json:
        out = {"entries": entries}
        if result is not None:
            out["chain"] = result.as_dict()
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for e in entries:
            what = {"capture": lambda: f"{e.get('item')} {e.get('url')}",
                    "export": lambda: f"{e.get('package_id')} {len(e.get('items') or [])} 条 → {e.get('out')}",
                    "view": lambda: f"{e.get('item')} {e.get('via', '')}",
                    "recheck": lambda: f"{e.get('item')} {e.get('decision')} ({e.get('reason')}) {e.get('url')}",
                    }.get(e.get("kind"), lambda: f"{e.get('target', '')} {e.get('ip', '')}")()
            click.echo(f"{e.get('seq', '?'):>6}  {_local_time(e.get('at'))}  {e.get('kind', '?'):<7} "
                       f"{e.get('actor', '')}  {what}")
        if result is not None:
            if result.ok:
                click.echo(f"保管链完整: {result.count} 条, 链头 {result.head}")
            else:
                click.echo(f"保管链断裂: 第 {result.first_bad} 条 — {result.reason}", err=True)
    if result is not None and not result.ok:
        sys.exit(EXIT_FINDINGS)


__all__ = ["export", "verify", "audit", "EXIT_INPUT"]
