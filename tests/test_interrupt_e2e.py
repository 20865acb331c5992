"""Ctrl-C and SIGTERM during a real `zhengwen crawl` (issue #14, items 4 and 5).

A first signal says on the terminal that the crawl stops, finishes the requests in flight and
stores what was extracted (run `interrupted`, exit 0); a second abandons the requests in flight
and still stores and records; a signal in the first moments, before the reactor runs, ends the
same way instead of a traceback or a run left `running`. The portal is the demo portal on
127.0.0.1 with article pages that answer slowly, so that requests are in flight when the
signal comes.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, _Handler, serve
from storage.db import Database
from storage.paths import ArchivePaths
from tests.test_crawl_e2e import crawl_cmd, crawl_env, site_config

#: Seconds an article page takes: long enough that a crawl stopped by its first signal would
#: wait for it; far longer than the wait below, so an abandoned request cannot finish by itself.
SLOW_SECONDS = {"value": 0.0}


class _Slow(_Handler):
    def do_GET(self) -> None:
        if "content_" in self.path:
            time.sleep(SLOW_SECONDS["value"])
        super().do_GET()


@pytest.fixture
def slow_server() -> Iterator[PortalServer]:
    portal = Portal.generate(n_articles=60, seed=31)
    with serve(portal, handler=_Slow) as server:
        try:
            yield server
        finally:
            SLOW_SECONDS["value"] = 0.0  # a hanging handler must not outlive its test


def start(
    tmp_path: Path, server: PortalServer, delay: str = "0"
) -> tuple[subprocess.Popen[str], Path]:
    archive = tmp_path / "archive"
    config = site_config(tmp_path, server)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("download_delay = 0\n", f"download_delay = {delay}\n"))
    proc = subprocess.Popen(
        crawl_cmd(config, archive),
        cwd=tmp_path,
        env=crawl_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, archive


def wait_for_articles_requested(server: PortalServer, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while sum("content_" in p for p in server.requests) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the crawl never reached the article pages"
        time.sleep(0.05)


def stored_and_runs(archive: Path) -> tuple[int, list[str]]:
    with Database(ArchivePaths(archive).default_db_url) as db:
        return db.count_articles("testportal"), [r.status for r in db.runs("testportal")]


def assert_interrupted(proc: subprocess.Popen[str], out: str, err: str, archive: Path) -> int:
    """Exit 0, no traceback, the run recorded ``interrupted`` and the summary equal to what was
    stored; returns how many articles were stored."""
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "testportal: interrupted" in out
    stored, statuses = stored_and_runs(archive)
    assert statuses == ["interrupted"]
    assert summary_new(out) == stored  # the summary equals what is stored
    return stored


def summary_new(stdout: str) -> int:
    line = next(line for line in stdout.splitlines() if line.startswith("testportal: "))
    return int(line.split("articles ", 1)[1].split(" new", 1)[0])


def test_first_ctrl_c_says_so_at_once_and_stores_what_it_has(
    tmp_path: Path, slow_server: PortalServer
) -> None:
    SLOW_SECONDS["value"] = 0.5
    proc, archive = start(tmp_path, slow_server)
    wait_for_articles_requested(slow_server, 10, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    stored = assert_interrupted(proc, out, err, archive)
    assert "zhengwen: SIGINT: stopping: finishing" in err
    assert "Ctrl-C again to abandon them" in err
    assert 0 < stored < 60


def test_second_ctrl_c_abandons_requests_in_flight_and_still_stores(
    tmp_path: Path, slow_server: PortalServer
) -> None:
    SLOW_SECONDS["value"] = 0.2
    proc, archive = start(tmp_path, slow_server)
    wait_for_articles_requested(slow_server, 8, proc)
    # From now on article pages hang: without the second signal's abandon, the crawl would
    # wait for them far past the communicate() timeout below.
    SLOW_SECONDS["value"] = 600.0
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert_interrupted(proc, out, err, archive)
    assert "abandoning the requests in flight" in err
    assert re.search(r"skipped: [^;]*abandoned [1-9]", out), out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_first_moments_ends_interrupted_without_a_traceback(
    tmp_path: Path, slow_server: PortalServer, signum: signal.Signals
) -> None:
    SLOW_SECONDS["value"] = 0.0
    proc, archive = start(tmp_path, slow_server)
    # Before the reactor runs: Python is still importing Scrapy (about a second).
    time.sleep(0.3)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Unhandled error" not in err
    stored, statuses = stored_and_runs(archive)
    assert statuses in (["interrupted"], [])  # no run at all when stopped before it began
    if statuses:
        assert "testportal: interrupted" in out
        assert summary_new(out) == stored


def test_first_sigterm_stops_at_once_with_the_longest_download_delay(
    tmp_path: Path, slow_server: PortalServer
) -> None:
    """Issue 15, item 7: with a large delay the requests wait in the downloader for up to an
    hour; the first signal drops them (``skipped: not_sent``) instead of waiting for them."""
    proc, archive = start(tmp_path, slow_server, delay="3600")
    try:
        deadline = time.monotonic() + 60
        while not slow_server.requests:  # robots.txt: the next request waits an hour
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the crawl never made its first request"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)  # a guard against a hang, not a measure
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert slow_server.requests == ["/robots.txt"]
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "testportal: interrupted" in out
    assert re.search(r"skipped: [^;]*not_sent [1-9]", out), out
    _stored, statuses = stored_and_runs(archive)
    assert statuses == ["interrupted"]
    with Database(ArchivePaths(archive).default_db_url) as db:
        (run,) = db.runs("testportal")
    assert run.counters["skipped"]["not_sent"] >= 1
