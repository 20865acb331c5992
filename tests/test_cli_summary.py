"""What `zhengwen crawl` prints agrees with what `zhengwen runs` shows, and a failure says how
to fix it (issue #14, items 11 and 14). Real crawls of the test portal on 127.0.0.1."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from crawler.demo.server import PortalServer
from storage.db import Database
from storage.paths import ArchivePaths
from tests.test_crawl_e2e import crawl, crawl_cmd, run, site_config


def test_the_summary_and_the_runs_table_show_the_same_duration(
    tmp_path: Path, server: PortalServer
) -> None:
    archive = tmp_path / "archive"
    result = crawl(tmp_path, site_config(tmp_path, server), archive, "--quiet")
    seconds = re.search(r"testportal: ok in (\d+\.\d)s", result.stdout)
    assert seconds, result.stdout
    runs = run([sys.executable, "-m", "crawler.cli", "runs", "--archive", str(archive)], tmp_path)
    assert runs.returncode == 0, runs.stderr
    row = next(line for line in runs.stdout.splitlines() if "testportal" in line)
    assert f" {seconds.group(1)} " in f" {row} ", (seconds.group(1), row)


def test_a_private_address_failure_names_allow_private(
    tmp_path: Path, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    config.write_text(config.read_text(encoding="utf-8").replace("allow_private = true", ""))
    result = run(
        [sys.executable, "-m", "crawler.cli", "crawl", str(config), "--archive", "a", "--quiet"],
        tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: could not fetch any page of testportal")
    assert "allow_private = true" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_crawl_whose_every_article_failed_on_its_config_fails_with_one_line(
    tmp_path: Path, server: PortalServer
) -> None:
    """Issue 15, item 9: a selector that fails on every page (here a type error XPath finds
    only when it runs: ``count()`` of a number) dropped every article as ``bad_selector``,
    and the crawl still exited 0 with its run ``ok``."""
    archive = tmp_path / "archive"
    extra = '[selectors]\nbody = "//div[count(1) > 0]"\n'
    config = site_config(tmp_path, server, extra=extra)
    result = run(crawl_cmd(config, archive, "--quiet"), tmp_path)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: crawl of testportal failed: every article page (")
    assert "dropped as bad_selector" in errors[0] and "selectors" in errors[0]
    assert "Traceback" not in result.stderr
    assert "testportal: failed" in result.stdout
    with Database(ArchivePaths(archive).default_db_url) as db:
        (record,) = db.runs("testportal")
    assert record.status == "failed"
    assert "bad_selector" in record.counters["failure"]
