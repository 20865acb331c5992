"""`zhengwen crawl` twice at once, and after a SIGKILL: real processes, real HTTP, real SQLite.

The test portal is slowed by the site config's download delay (one request at a time), so a
crawl is reliably still running when the second one starts or when it is killed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crawler.demo import DEMO_TOML
from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, serve
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.test_crawl_e2e import crawl_cmd, crawl_env

REPO = Path(__file__).resolve().parent.parent
N_ARTICLES = 24
EXIT_BUSY = 4


@pytest.fixture
def server() -> Iterator[PortalServer]:
    with serve(Portal.generate(n_articles=N_ARTICLES, seed=515151)) as running:
        yield running


def slow_site(
    tmp_path: Path, server: PortalServer, name: str = "slowportal", extra: str = ""
) -> Path:
    """The demo config on this server, one request at a time with a delay: a crawl of some
    seconds, long enough to overlap with a second command."""
    text = DEMO_TOML.read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:8765/", server.url + "/")
    text = text.replace('name = "demo"', f'name = "{name}"\n{extra}')
    text = text.replace(
        "download_delay = 0\nconcurrency = 8", "download_delay = 0.3\nconcurrency = 1"
    )
    assert "download_delay = 0.3" in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def article_requests(server: PortalServer) -> int:
    return sum(1 for p in server.requests if "content_" in p)


def test_two_concurrent_crawls_of_one_site_one_runs_the_other_refuses(
    tmp_path: Path, server: PortalServer
) -> None:
    config = slow_site(tmp_path, server)
    archive = tmp_path / "archive"
    first = subprocess.Popen(
        crawl_cmd(config, archive, "--quiet"),
        env=crawl_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for("the first crawl to fetch articles", lambda: article_requests(server) >= 2)
        second = subprocess.run(
            crawl_cmd(config, archive, "--quiet"),
            env=crawl_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert first.poll() is None, "the first crawl was still running when the second ended"
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert second.returncode == EXIT_BUSY
    assert second.stderr.splitlines() == [second.stderr.splitlines()[0]], "one line on stderr"
    line = second.stderr.strip()
    assert line.startswith(f"error: site slowportal is already being crawled (pid {first.pid} on ")
    assert "trigger manual" in line and line.endswith("not starting a second run")
    assert second.stdout == ""
    assert first.returncode == 0, err
    assert f"articles {N_ARTICLES} new" in out

    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        runs = db.runs("slowportal")
        assert db.count_articles("slowportal") == N_ARTICLES
    assert [(r.status, r.trigger) for r in runs] == [("ok", "manual")], (
        "the refused crawl left no run"
    )
    assert ParquetDataset(paths.parquet_dir).count("slowportal") == N_ARTICLES
    # Every article page was fetched once: the second crawl fetched nothing.
    articles = [p for p in server.requests if "content_" in p]
    assert len(articles) == len(set(articles)) == N_ARTICLES


def test_killed_crawl_does_not_block_the_next_and_its_run_is_closed(
    tmp_path: Path, server: PortalServer
) -> None:
    config = slow_site(tmp_path, server)
    archive = tmp_path / "archive"
    victim = subprocess.Popen(
        crawl_cmd(config, archive, "--quiet"),
        env=crawl_env(),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("the crawl to fetch articles", lambda: article_requests(server) >= 3)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    db_url = ArchivePaths(archive).default_db_url
    with Database(db_url) as db:
        (killed,) = db.runs("slowportal")
    assert killed.status == "running", "a SIGKILLed crawl cannot close its own run"

    after = subprocess.run(
        crawl_cmd(config, archive, "--quiet"),
        env=crawl_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert after.returncode == 0, after.stderr
    with Database(db_url) as db:
        runs = {r.id: r for r in db.runs("slowportal")}
        assert db.count_articles("slowportal") == N_ARTICLES
    assert runs[killed.id].status == "interrupted"
    assert runs[killed.id].finished_at is not None
    assert [r.status for r in runs.values() if r.id != killed.id] == ["ok"]
