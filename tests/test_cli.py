"""The zhengwen command: documented commands, one-line errors, meaningful exit codes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli import cli

REPO = Path(__file__).resolve().parent.parent


def zhengwen(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI in its own process, as a user would (Twisted's reactor runs once per process)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def write_site(tmp_path: Path, start_url: str, name: str = "local") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\nstart_urls = ["{start_url}"]\nallow_private = true\n'
        '[urls]\narticle = ["/content_\\\\d+\\\\.html$"]\n'
        "[politeness]\ndownload_delay = 0\n",
        encoding="utf-8",
    )
    return path


def test_every_command_is_documented_with_an_example() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert cli.commands, "the CLI has commands"
    for name, command in cli.commands.items():
        assert f"zhengwen {name}" in readme, f"`zhengwen {name}` is missing from the README"
        assert command.help and "Example: zhengwen " + name in command.help, (
            f"{name} lacks an example"
        )


def test_bad_site_config_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\nstart_urls = ["http://127.0.0.1:1/"]\n[urls]\narticle = ["x"]\n'
        "[politeness]\nconcurrency = 0\n",
        encoding="utf-8",
    )
    result = zhengwen("crawl", str(bad), "--archive", str(tmp_path / "a"), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {bad}: politeness.concurrency: expected an integer from 1 to 64, got 0"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "a").exists(), "nothing is created before the config is valid"


def test_unknown_site_name_is_one_line_exit_2(tmp_path: Path) -> None:
    result = zhengwen("crawl", "no-such-portal", "--archive", str(tmp_path / "a"), cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no such site config" in result.stderr


def test_unreachable_site_is_one_line_exit_1_and_recorded(tmp_path: Path) -> None:
    from storage.db import Database
    from storage.paths import ArchivePaths

    site = write_site(tmp_path, f"http://127.0.0.1:{free_port()}/")
    archive = tmp_path / "archive"
    result = zhengwen("crawl", str(site), "--archive", str(archive), "--quiet", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "could not fetch any page of local" in errors[0]
    assert "connection_refused" in errors[0]
    with Database(ArchivePaths(archive).default_db_url) as db:
        runs = db.runs("local")
    assert [r.status for r in runs] == ["failed"]
    assert runs[0].counters["errors"] == {"connection_refused": 1}


def test_unusable_database_is_one_line_exit_3(tmp_path: Path) -> None:
    site = write_site(tmp_path, "http://127.0.0.1:9/")
    url = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/none"
    result = zhengwen(
        "crawl", str(site), "--archive", str(tmp_path / "a"), "--db", url, cwd=tmp_path
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: cannot open the database")
    assert "s3cret" not in result.stderr, "passwords never reach the terminal"


def test_check_site_and_extract(tmp_path: Path) -> None:
    site = write_site(tmp_path, "http://127.0.0.1:9/")
    result = zhengwen("check-site", str(site), cwd=tmp_path)
    assert result.returncode == 0
    assert "ok (site local" in result.stdout

    page = tmp_path / "page.html"
    page.write_bytes(
        "<html><head><meta charset='gbk'><title>测试新闻标题_示例网</title></head><body>"
        "<h1>测试新闻标题</h1><p>来源:新华网 日期:2021-05-06 07:08</p>"
        "<div class='content'><p>这是第一段正文，讲述了一个完整的新闻事件，内容足够长，可以被识别为文章。</p>"
        "<p>这是第二段正文，继续说明事件的经过和影响，并且引用了相关负责人的讲话内容。</p></div>"
        "</body></html>".encode("gbk")
    )
    result = zhengwen(
        "extract", str(page), "--url", "http://news.example.com/a/1.html", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    import json

    article = json.loads(result.stdout)
    assert article["title"] == "测试新闻标题"
    assert article["published_at"] == "2021-05-06T07:08:00+08:00"
    assert article["source"] == "新华网"
    assert article["body"].startswith("这是第一段正文")


@pytest.mark.parametrize("command", ["crawl", "demo", "stats", "extract", "check-site"])
def test_help_works(command: str, tmp_path: Path) -> None:
    result = zhengwen(command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "Example:" in result.stdout


def test_extract_explain_says_which_candidate_and_which_rule(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    paras = "".join(
        f"<p>这是第{i}段正文，讲述了一个完整的新闻事件，内容足够长，可以被识别为文章的一部分。</p>"
        for i in range(4)
    )
    page.write_bytes(
        "<html><head><meta charset='utf-8'><title>测试新闻标题_示例网</title></head><body>"
        "<div>当前位置：首页 > 新闻 > 正文</div><h1>测试新闻标题</h1>"
        f"<div class='content'>{paras}<p>(责任编辑:张三)</p></div></body></html>".encode()
    )
    result = zhengwen("extract", str(page), "--explain", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "title: 测试新闻标题" in out
    assert "decoded as utf-8, 0 characters replaced" in out
    assert "body candidate: trafilatura (" in out
    assert "  dom: chars" in out
    assert "[stop-marker] (责任编辑:张三)" in out


def test_extract_explain_on_a_page_without_article(tmp_path: Path) -> None:
    page = tmp_path / "nav.html"
    links = "".join(f"<li><a href='/{i}.html'>栏目{i}</a></li>" for i in range(20))
    page.write_bytes(f"<html><body><ul>{links}</ul></body></html>".encode())
    result = zhengwen("extract", str(page), "--explain", cwd=tmp_path)
    assert result.returncode == 1
    assert "decoded as utf-8" in result.stdout
    assert result.stderr.startswith("error: ") and "not_article" in result.stderr
    assert "Traceback" not in result.stderr
