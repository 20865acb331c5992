"""`zhengwen demo` as a new user meets it (issue #14, items 10 and 12): it writes to PostgreSQL
when given a database, its "Next:" hints run as printed, and `zhengwen crawl demo` says what to
run instead of failing on the placeholder address. Real processes, real databases."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from storage.db import Database
from tests.test_crawl_e2e import crawl_env, run


def demo(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "demo",
            "--archive",
            "arch",
            "--articles",
            "6",
            "--quiet",
            *extra,
        ],
        cwd=tmp_path,
        env=env or crawl_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_next_hints_run_as_printed(tmp_path: Path) -> None:
    out = demo(tmp_path)
    hints = out.split("\nNext:\n", 1)[1].splitlines()
    commands = [h.strip() for h in hints if not h.strip().startswith(("SQLite:", "Parquet:"))]
    assert len(commands) == 3
    for command in commands:
        result = subprocess.run(
            shlex.split(command),
            cwd=tmp_path,
            env=crawl_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.strip(), command


@pytest.mark.postgres
def test_demo_writes_to_the_database_it_is_given(tmp_path: Path, pg_url: str) -> None:
    demo(tmp_path, "--db", pg_url)
    with Database(pg_url) as db:
        assert db.count_articles("demo") == 6
    # $ZHENGWEN_DB_URL works the same (a second run: nothing new, still 6).
    out = demo(tmp_path, env={**crawl_env(), "ZHENGWEN_DB_URL": pg_url})
    assert "articles 0 new" in out
    assert "SQLite:" not in out
    assert not (tmp_path / "arch" / "zhengwen.sqlite").exists()


def test_crawl_demo_says_to_run_zhengwen_demo(tmp_path: Path) -> None:
    result = run([sys.executable, "-m", "crawler.cli", "crawl", "demo", "--archive", "a"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: the bundled demo portal is only served while")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_stats_and_runs_json_write_iso_times_like_query(tmp_path: Path) -> None:
    # Issue #14, item 11: stats/runs --json wrote `2019-09-07 08:28:35+00:00` (str of a
    # datetime) while query and export write ISO 8601 with a T.
    demo(tmp_path)
    times = []
    for command in ("stats", "runs"):
        result = run(
            [sys.executable, "-m", "crawler.cli", command, "--archive", "arch", "--json"], tmp_path
        )
        assert result.returncode == 0, result.stderr
        times += [
            value
            for value in _values(json.loads(result.stdout))
            if isinstance(value, str) and value[:4].isdigit() and value[4:5] == "-" and ":" in value
        ]
    assert times
    for value in times:
        assert "T" in value and datetime.fromisoformat(value).tzinfo is not None, value


def _values(data: object) -> list[object]:
    if isinstance(data, dict):
        return [v for item in data.values() for v in _values(item)]
    if isinstance(data, list):
        return [v for item in data for v in _values(item)]
    return [data]
