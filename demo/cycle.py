"""One full monitoring cycle on the demo web: `make demo` runs this.

Starts the demo sites on 127.0.0.1:8101-8108, crawls every demo source into the default
store with the `reprowatch` CLI (a subprocess, as the scheduler will run it), prints the
crawl summary and a sample search, writes today's daily report (HTML + XLSX) into
``data/reports/`` and prints its paths, and stops the sites. Running it again updates
``last_seen`` and adds no duplicates. At the end it creates (or, on a re-run, resets) the web
UI's demo admin ``demo-admin`` with a fresh random password, printed once, and prints the URL
and the command that starts the web UI.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from demo.server import DEFAULT_BASE_PORT, start_demo_sites


def _cli() -> str:
    exe = Path(sys.executable).parent / "reprowatch"
    return str(exe) if exe.exists() else "reprowatch"


def main() -> int:
    try:
        web = start_demo_sites(base_port=DEFAULT_BASE_PORT)
    except OSError as exc:
        print(f"错误: 演示站点无法监听 127.0.0.1:{DEFAULT_BASE_PORT}-{DEFAULT_BASE_PORT + 7}（{exc}）；"
              "请先停止占用这些端口的程序", file=sys.stderr)
        return 2
    cli = _cli()
    try:
        print("== 演示站点已启动 ==")
        for name, url in web.urls.items():
            print(f"  {name:<12} {url}")
        print("\n== 抓取全部演示来源（sources/）→ 分类 → 写入存储 ==", flush=True)
        crawl = subprocess.run([cli, "crawl", "--all", "--sources", "sources"])
        if crawl.returncode != 0:
            return crawl.returncode
        print("\n== 检索示例：reprowatch search 代孕 --limit 3 ==", flush=True)
        subprocess.run([cli, "search", "代孕", "--limit", "3"])
        print("\n== 检索示例：reprowatch search --category fertility_drugs --limit 2 ==", flush=True)
        subprocess.run([cli, "search", "--category", "fertility_drugs", "--limit", "2"])
        # Today's report, not yesterday's (the scheduler's default): the demo crawl just ran.
        print("\n== 日报：reprowatch report daily --date today（写入 data/reports/）==", flush=True)
        report = subprocess.run([cli, "report", "daily", "--date", "today", "--sources", "sources"])
        if report.returncode != 0:
            return report.returncode
        store = os.environ.get("REPROWATCH_STORE") or "sqlite:///data/reprowatch.db"
        print(f"\n存储: {store}   再次运行 make demo 会更新 last_seen，不会产生重复条目。")
        print(f"演示站点共收到 {len(web.requests)} 个请求。")
    finally:
        web.stop()
    return demo_admin(cli)


DEMO_ADMIN = "demo-admin"


def demo_admin(cli: str) -> int:
    """Create the demo admin account (reset its password if it exists) and say how to log in."""
    password = secrets.token_urlsafe(12)
    listed = subprocess.run([cli, "user", "list", "--json"], capture_output=True, text=True)
    exists = listed.returncode == 0 and f'"name": "{DEMO_ADMIN}"' in listed.stdout
    command = ["user", "passwd", DEMO_ADMIN] if exists else ["user", "add", DEMO_ADMIN, "--role", "admin"]
    done = subprocess.run([cli, *command, "--password-stdin"], input=password + "\n", capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    print("\n== 网页界面 ==")
    print(f"  管理员账号: {DEMO_ADMIN}   密码: {password}   （只显示这一次；再次运行 make demo 会重置）")
    print("  启动: .venv/bin/reprowatch serve        然后打开 http://127.0.0.1:8080/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
