"""The `reprowatch` command line: one script, commands that compose, `--json` for machines.

Exit codes (DESIGN.md): 0 ok, 1 findings or failed verification, 2 usage or input error.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import click

from . import __version__

EXIT_FINDINGS = 1
EXIT_INPUT = 2


class InputError(click.ClickException):
    """A user-caused error: one message on stderr, exit 2, never a traceback."""

    exit_code = EXIT_INPUT

    def show(self, file=None) -> None:
        click.echo(f"错误: {self.format_message()}", err=True)


def _load_classifier(rules: str | None):
    from classifiers import Classifier, RuleError

    try:
        return Classifier.load(rules)
    except RuleError as exc:
        raise InputError(str(exc)) from None


def _read_text_file(path: str) -> str:
    """A text file of unknown encoding: UTF-8, else GB18030, else UTF-8 with replacements."""
    raw = Path(path).read_bytes() if path != "-" else sys.stdin.buffer.read()
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


_CATEGORY_NAMES = {
    "surrogacy": "代孕", "gamete_trade": "非法采供精卵", "sex_selection": "胎儿性别鉴定",
    "unlicensed_art": "非法辅助生殖技术", "birth_certificate": "出生医学证明", "fertility_drugs": "非法销售生殖药品",
}


def _highlight(text: str, hits) -> str:
    """The text with every hit marked: coloured on a terminal, 【】 otherwise."""
    out, pos = [], 0
    for h in sorted(hits, key=lambda h: h.start):
        if h.start < pos:
            continue
        out.append(text[pos:h.start])
        out.append(click.style(f"【{text[h.start:h.end]}】", fg="red", bold=True))
        pos = h.end
    out.append(text[pos:])
    return "".join(out)


def _print_verdict(text: str, verdict, label: str | None = None) -> None:
    head = f"[{label}] " if label else ""
    if verdict.flagged:
        names = "、".join(f"{_CATEGORY_NAMES[c]}({c})" for c in verdict.labels)
        click.echo(head + click.style(f"违法广告  得分 {verdict.score:.2f}  类别: {names}", fg="red", bold=True))
    else:
        click.echo(head + click.style(f"未发现违法广告  得分 {verdict.score:.2f}", fg="green"))
    shown = text if len(text) <= 600 else text[:600] + "…"
    click.echo("  " + _highlight(shown, [h for h in verdict.hits if h.end <= len(shown)]).replace("\n", "\n  "))
    for h in verdict.hits[:20]:
        click.echo(f"  · 规则 {h.rule} [{h.category}] 命中「{h.text}」 位置 {h.start}-{h.end}")
    contacts = {k: v for k, v in verdict.contacts.items() if v}
    if contacts:
        labels = {"phones": "电话", "wechat": "微信", "qq": "QQ", "urls": "网址", "emails": "邮箱"}
        click.echo("  联系方式: " + "；".join(f"{labels[k]} {', '.join(v)}" for k, v in contacts.items()))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reprowatch")
@click.option("--store", envvar="REPROWATCH_STORE", metavar="URL",
              help="sqlite:///path.db (default sqlite:///data/reprowatch.db) or http(s)://host:9200 "
                   "(Elasticsearch); env REPROWATCH_STORE.")
@click.pass_context
def cli(ctx, store):
    """reprowatch — 违法辅助生殖广告监测系统 (monitoring of illegal assisted-reproduction ads)."""
    ctx.obj = {"store": store}


def _office_config(config_file: str | None):
    """The office config (evidence.yaml and its sections) for a command; InputError when bad."""
    from evidence.config import ConfigError, load_config
    from reprowatch.paths import data_dir

    try:
        return load_config(config_file, data_dir())
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def _open_store(ctx):
    from search.store import StoreError, open_store

    try:
        return open_store(ctx.obj.get("store"))
    except StoreError as exc:
        raise InputError(str(exc)) from None


@cli.command()
@click.option("--text", "text", help="Classify this text.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False), help="Classify the whole file as one text.")
@click.option("--jsonl", "jsonl", type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help='Batch: lines {"id","text"} in, one verdict line with its id out ("-" for stdin).')
@click.option("--out", type=click.Path(dir_okay=False), help="With --jsonl: write verdict lines here (atomically).")
@click.option("--rules", type=click.Path(exists=True, file_okay=False), help="Rules folder (default: bundled rule packs).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--explain", is_flag=True, help="Also show every candidate hit, its context signals and score.")
@click.argument("stdin", required=False, type=click.Choice(["-"]))
def classify(text, file, jsonl, out, rules, as_json, explain, stdin):
    """Classify text as an illegal assisted-reproduction ad (exit 1 when flagged).

    Give exactly one of --text T, --file F, --jsonl F or - (read the text from stdin).
    """
    given = [x for x in (text is not None, file, jsonl, stdin) if x]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --text, --file, --jsonl or -")
    if out and not jsonl:
        raise click.UsageError("--out goes with --jsonl")
    classifier = _load_classifier(rules)
    if jsonl:
        flagged = _classify_jsonl(classifier, jsonl, out)
        sys.exit(EXIT_FINDINGS if flagged else 0)
    if text is None:
        text = _read_text_file(file or "-")
    verdict = classifier.classify(text, explain=explain)
    if as_json:
        click.echo(json.dumps(verdict.as_dict(), ensure_ascii=False))
    else:
        _print_verdict(text, verdict)
        for note in verdict.explain or []:
            click.echo("  ? " + json.dumps(note, ensure_ascii=False))
    sys.exit(EXIT_FINDINGS if verdict.flagged else 0)


def _classify_jsonl(classifier, path: str, out: str | None) -> int:
    """Validate the whole batch first, then stream verdicts; a bad line writes nothing."""
    from classifiers.evaluate import CorpusError, read_jsonl

    spooled = None
    if path == "-":
        # stdin can be read once: spool it so it can be validated before anything is written.
        spooled = tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".jsonl", delete=False)
        for line in sys.stdin:
            spooled.write(line)
        spooled.close()
        source, shown = spooled.name, "<stdin>"
    else:
        source, shown = path, path
    try:
        try:
            for _ in read_jsonl(source):
                pass
        except CorpusError as exc:
            raise InputError(str(exc).replace(source, shown, 1)) from None
        flagged = 0
        target = None
        if out:
            fd, tmp_name = tempfile.mkstemp(dir=Path(out).resolve().parent, suffix=".part")
            target = os.fdopen(fd, "w", encoding="utf-8")
        stream = target or sys.stdout
        try:
            for _, rec in read_jsonl(source):
                verdict = classifier.classify(rec["text"])
                flagged += verdict.flagged
                stream.write(json.dumps({"id": rec["id"], **verdict.as_dict()}, ensure_ascii=False) + "\n")
        except BaseException:
            if target:
                target.close()
                os.unlink(tmp_name)
            raise
        if target:
            target.close()
            os.replace(tmp_name, out)
        return flagged
    finally:
        if spooled:
            os.unlink(spooled.name)


@cli.command(name="eval")
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False))
@click.option("--errors", is_flag=True, help="List every misclassified item.")
@click.option("--rules", type=click.Path(exists=True, file_okay=False), help="Rules folder (default: bundled rule packs).")
@click.option("--json", "as_json", is_flag=True, help="Print metrics (and errors) as JSON.")
def eval_(corpus, errors, rules, as_json):
    """Measure precision, recall and F1 per category on a labelled corpus.

    CORPUS is JSON lines {"id", "text", "labels": [...]}; labels are category ids.
    """
    from classifiers.evaluate import CorpusError, evaluate, read_jsonl

    classifier = _load_classifier(rules)
    try:
        records = [rec for _, rec in read_jsonl(corpus, require_labels=True)]
    except CorpusError as exc:
        raise InputError(str(exc)) from None
    report = evaluate(classifier, records)
    metrics = report.metrics()
    if as_json:
        if errors:
            metrics["errors"] = report.errors
        click.echo(json.dumps(metrics, ensure_ascii=False, indent=2))
        return
    click.echo(f"语料 {corpus}: {metrics['items']} 条，其中负例 {metrics['negatives']} 条")
    click.echo(f"{'类别':<20}{'精确率':>8}{'召回率':>8}{'F1':>8}{'正例数':>8}")
    for cat, m in metrics["categories"].items():
        click.echo(f"{cat:<20}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>9}")
    click.echo(f"macro-F1 {metrics['macro_f1']:.3f}   负例误报率 {metrics['negative_flag_rate']:.2%} "
               f"({metrics['negatives_flagged']}/{metrics['negatives']})")
    if errors:
        click.echo(f"\n错误 {len(report.errors)} 条:")
        for e in report.errors:
            text = e["text"].replace("\n", " ")
            click.echo(f"- {e['id']} 标注 {e['gold']} 预测 {e['predicted']} 得分 {e['score']}: {text[:160]}")


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Crawl every source in the folder.")
@click.option("--sources", "sources_dir", default="sources", show_default=True,
              type=click.Path(file_okay=False), help="Folder of source YAML files.")
@click.option("--json", "as_json", is_flag=True, help="Print the crawl summaries as JSON.")
@click.option("--quiet", is_flag=True, help="No live progress line.")
@click.option("--time-limit", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Stop gracefully after this long (the run is recorded; the next run resumes).")
@click.pass_context
def crawl(ctx, names, all_, sources_dir, as_json, quiet, time_limit):
    """Crawl sources (by name, or --all) into the store, with live progress and a summary."""
    from crawlers.sources import SourceError, load_sources

    if bool(names) == all_:
        raise click.UsageError("name one or more sources, or give --all")
    try:
        sources = load_sources(sources_dir)
    except SourceError as exc:
        raise InputError(str(exc)) from None
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise InputError(f"unknown source {', '.join(unknown)}; sources in {sources_dir}: {', '.join(sorted(sources))}")
    chosen = list(sources.values()) if all_ else [sources[n] for n in names]
    if any(s.render == "browser" for s in chosen):
        _check_chromium()
    from search.store import StoreError, open_store

    try:
        target = open_store(ctx.obj.get("store"))
        target.check()
        target.close()
    except StoreError as exc:
        # Crawling goes on: items are spooled under data/spool/ and indexed later by
        # `reprowatch store flush`, so a store outage loses nothing.
        click.echo(f"警告: 存储不可用（{exc}），条目将暂存到 data/spool/，恢复后运行 reprowatch store flush", err=True)
    from crawlers.run import run_crawls
    from reports.health import check_after_crawl
    from search.items import now_iso

    started = now_iso()
    overrides = {"CLOSESPIDER_TIMEOUT": time_limit} if time_limit else None
    summaries = run_crawls(chosen, sources_dir=sources_dir, store=ctx.obj.get("store"), progress=not quiet,
                           settings_overrides=overrides)
    # Crawler health (zero items, error rate, layout change, robots blocks): alerts, never a failure.
    check_after_crawl(ctx.obj.get("store"), [s.as_dict() for s in summaries], started)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in summaries], ensure_ascii=False, indent=2))
        return
    click.echo(f"{'来源':<24}{'页面':>6}{'条目':>6}{'新增':>6}{'更新':>6}{'违法':>6}{'robots':>8}  错误")
    for s in summaries:
        errors = ", ".join(f"{k}×{v}" for k, v in sorted(s.errors.items())) or "-"
        click.echo(f"{s.source:<24}{s.pages:>8}{s.items:>8}{s.new:>8}{s.changed:>8}{s.flagged:>8}"
                   f"{s.robots_blocked:>8}  {errors}")


def _check_chromium() -> None:
    """`render: browser` sources need Debian's Chromium; say so before anything is crawled."""
    from crawlers.settings import CHROMIUM

    if not os.access(CHROMIUM, os.X_OK):
        raise InputError(f"浏览器渲染（render: browser）需要 Chromium，未找到 {CHROMIUM}："
                         "请运行 make（安装 Debian 软件包 chromium fonts-noto-cjk）或设置 REPROWATCH_CHROMIUM")


@cli.group()
def store():
    """Store maintenance."""


@store.command()
@click.pass_context
def flush(ctx):
    """Index the items spooled in data/spool/ while the store was down."""
    from search import spool
    from search.store import StoreError

    target = _open_store(ctx)
    try:
        count = spool.flush(target)
    except StoreError as exc:
        raise InputError(f"存储仍不可用: {exc}") from None
    finally:
        target.close()
    left = spool.pending()
    click.echo(f"已写入存储 {count} 条，暂存区剩余 {left} 条")
    if left:
        sys.exit(EXIT_FINDINGS)


def _parse_day(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    from datetime import date, datetime

    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(value)
            return value
        except ValueError:
            continue
    raise InputError(f"--{name}: not a date (YYYY-MM-DD): {value!r}")


@cli.command()
@click.argument("query", required=False, default="")
@click.option("--category", type=click.Choice(list(_CATEGORY_NAMES)), help="Only this category.")
@click.option("--status", help="Only this review status.")
@click.option("--site", help="Only this site (host:port).")
@click.option("--source", help="Only this source.")
@click.option("--contact", help="Only items carrying this phone / WeChat / QQ.")
@click.option("--since", help="Fetched on or after (YYYY-MM-DD).")
@click.option("--until", help="Fetched on or before (YYYY-MM-DD).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--page", default=1, show_default=True, type=click.IntRange(1))
@click.option("--sort", type=click.Choice(["time", "score"]), default="time", show_default=True)
@click.option("--all", "include_all", is_flag=True, help="Include items that were not flagged.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def search(ctx, query, category, status, site, source, contact, since, until, limit, page, sort, include_all, as_json):
    """Search stored items (flagged only unless --all), with facets."""
    from search.store import STATUSES, Query, StoreError

    if status and status not in STATUSES:
        raise InputError(f"--status: unknown status {status!r}; one of {', '.join(STATUSES)}")
    q = Query(text=query, category=category, status=status, site=site, source=source, contact=contact,
              since=_parse_day(since, "since"), until=_parse_day(until, "until"), include_all=include_all,
              limit=limit, offset=(page - 1) * limit, sort=sort)
    store = _open_store(ctx)
    try:
        result = store.search(q)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"total": result.total, "items": result.items, "facets": result.facets},
                              ensure_ascii=False, indent=2))
        return
    click.echo(f"共 {result.total} 条" + (f"，第 {page} 页" if result.total > limit else ""))
    for item in result.items:
        labels = "、".join(_CATEGORY_NAMES.get(c, c) for c in item.get("labels", [])) or "未标记"
        snippet = (item.get("highlight") or item.get("text", "")[:120]).replace("\n", " ")
        snippet = snippet.replace("【", "\x00").replace("】", "\x01")
        snippet = re.sub("\x00(.*?)\x01", lambda m: click.style(f"【{m.group(1)}】", fg="red", bold=True), snippet)
        click.echo(f"\n{item['id']}  {click.style(labels, fg='red')}  得分 {item.get('score', 0):.2f}  "
                   f"{item.get('status', '')}  {_local_time(item.get('last_seen'))}")
        click.echo(f"  {item.get('title', '')[:80]}")
        click.echo(f"  {item.get('url', '')}")
        click.echo(f"  {snippet}")
    names = {"category": "类别", "site": "站点", "source": "来源", "status": "状态", "day": "日期"}
    for facet, counts in result.facets.items():
        if counts:
            top = "  ".join(f"{k} {v}" for k, v in list(counts.items())[:8])
            click.echo(f"\n{names.get(facet, facet)}: {top}")


def _local_time(value: str | None) -> str:
    """A stored UTC time shown in Asia/Shanghai."""
    if not value:
        return ""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


@cli.command()
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print the item as JSON.")
@click.pass_context
def show(ctx, item_id, as_json):
    """Everything about one stored item (recorded in the custody log as a view)."""
    from evidence import custody
    from reprowatch.paths import data_dir

    store = _open_store(ctx)
    item = store.get(item_id)
    if item is None:
        raise InputError(f"no item {item_id!r}")
    # Who looked at which evidence belongs in the chain of custody (issue 5 §5).
    custody.record(store, "view", data_dir=data_dir(), item=item_id, via="cli")
    if as_json:
        click.echo(json.dumps(item, ensure_ascii=False, indent=2))
        return
    from classifiers import Hit

    labels = "、".join(f"{_CATEGORY_NAMES.get(c, c)}({c})" for c in item.get("labels", [])) or "未标记"
    click.echo(f"{item['id']}  {labels}  得分 {item.get('score', 0):.2f}  状态 {item.get('status')}")
    click.echo(f"标题: {item.get('title', '')}")
    click.echo(f"网址: {item.get('url')}")
    click.echo(f"来源: {item.get('source')}  站点: {item.get('site')}  聚类: {item.get('cluster', '')}")
    click.echo(f"抓取: {_local_time(item.get('fetched_at'))}  首次: {_local_time(item.get('first_seen'))}  "
               f"最近: {_local_time(item.get('last_seen'))}  (北京时间)")
    hits = [Hit(**h) for h in item.get("hits", [])]
    click.echo("正文:\n  " + _highlight(item.get("text", ""), hits).replace("\n", "\n  "))
    for h in hits:
        click.echo(f"  · 规则 {h.rule} [{h.category}] 命中「{h.text}」")
    contacts = {k: v for k, v in (item.get("contacts") or {}).items() if v}
    if contacts:
        click.echo("联系方式: " + "；".join(f"{k} {', '.join(v)}" for k, v in contacts.items()))
    for event in item.get("history", []):
        click.echo(f"  {_local_time(event.get('at'))} {event.get('status')} {event.get('user', '')} {event.get('note', '')}")


from reprowatch.evidence_cli import audit, export, verify  # noqa: E402 — they use the helpers above

cli.add_command(export)
cli.add_command(verify)
cli.add_command(audit)

from reprowatch.report_cli import report  # noqa: E402 — same reason

cli.add_command(report)

from reprowatch.schedule_cli import recheck, schedule  # noqa: E402

cli.add_command(schedule)
cli.add_command(recheck)

from reprowatch.web_cli import review, serve, user  # noqa: E402 — they use the helpers above

cli.add_command(serve)
cli.add_command(user)
cli.add_command(review)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="reprowatch")


if __name__ == "__main__":
    main()
