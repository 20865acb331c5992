"""What `zhengwen crawl` prints agrees with what `zhengwen runs` shows, and a failure says how
to fix it (issue #14, items 11 and 14). Real crawls of the test portal on 127.0.0.1."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from crawler.demo.server import PortalServer
from tests.test_crawl_e2e import crawl, run, site_config


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
