"""zhengwen query / sql / export on a real archive: output formats, refusals, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from crawler.cli import cli
from crawler.cli_query import _around_mark, _fit, _width
from tests.test_query import (  # noqa: F401  (the archive_dir fixture: shared, not copied)
    ALPHA1,
    ALPHA2,
    BETA1,
    SEED_URL,
    archive_dir_fixture,
)

REPO = Path(__file__).resolve().parent.parent


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_display_width_counts_wide_characters_twice() -> None:
    assert _width("abc") == 3
    assert _width("驻点招商") == 8
    assert _width("Ａ") == 2  # fullwidth Latin
    assert _fit("驻点招商工作", 7) == "驻点招…"
    assert _width(_fit("驻点招商工作", 7)) <= 7
    assert _fit("short", 10) == "short"
    assert _fit("two\nlines", 20) == "two lines"


def test_a_cut_snippet_keeps_its_match() -> None:
    text = "很长的前文" * 10 + "【驻点招商】工作队"
    shown = _fit(_around_mark(text, 10), 30)
    assert shown.startswith("…") and "【驻点招商】" in shown
    assert _width(shown[: shown.index("【")]) <= 11
    assert _around_mark("短【驻点】", 10) == "短【驻点】"


def test_query_table_is_aligned_for_chinese(archive_dir: Path) -> None:
    result = run("query", "--archive", str(archive_dir), "--tz", "Asia/Shanghai")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["date", "site", "title", "source"]
    assert len(lines) == 7
    seed = next(line for line in lines if "驻蹲开放前沿" in line)
    assert seed.startswith("2020-10-03 21:26  fazhi-chenbao")  # shown in --tz
    assert seed.rstrip().endswith("光明网")
    # Every title starts in the same display column, whatever the width of the text before.
    title_col = {_width(line[: line.index(t)]) for line, t in _titled(lines[1:])}
    assert len(title_col) == 1
    assert lines[-1].startswith("-")  # the undated article comes last


def _titled(lines: list[str]) -> list[tuple[str, str]]:
    titles = ["Shenzhen", "经济数据发布", "无日期的稿件", "Quick brown fox", "驻蹲开放前沿"]
    return [(line, next(t for t in titles if t in line)) for line in lines]


def test_query_search_shows_snippets(archive_dir: Path) -> None:
    result = run("query", "--archive", str(archive_dir), "--q", "驻点招商")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "驻蹲开放前沿" in lines[1]
    assert lines[2].startswith("    ") and "【驻点招商】" in lines[2]
    assert len(lines) == 3


def test_query_filters_and_machine_formats(archive_dir: Path) -> None:
    base = ("query", "--archive", str(archive_dir))
    result = run(*base, "--site", "alpha", "--since", "2020-10", "--format", "jsonl")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["url"] for r in records] == [ALPHA2, ALPHA1]
    assert records[0]["published_at"] == "2020-10-31T16:30:00+00:00"
    result = run(*base, "--author", "Jane Doe", "--format", "json")
    assert [r["url"] for r in json.loads(result.stdout)] == [BETA1]
    result = run(*base, "--q", "驻点招商", "--format", "json")
    (hit,) = json.loads(result.stdout)
    assert hit["url"] == SEED_URL and "【驻点招商】" in hit["snippet"] and "rank" in hit
    result = run(*base, "--category", "要闻", "--exclude-duplicates", "--format", "csv")
    rows = result.stdout.splitlines()
    assert rows[0].startswith("url,site,body")
    assert len([r for r in rows if r.startswith("http")]) == 2
    result = run(*base, "--limit", "1", "--format", "jsonl")
    assert len(result.stdout.splitlines()) == 1
    result = run(*base, "--site", "nope")
    assert result.stdout.strip() == "no articles match"


def test_query_errors_are_one_line(archive_dir: Path, tmp_path: Path) -> None:
    base = ("query", "--archive", str(archive_dir))
    assert_one_line_error(run(*base, "--since", "2020-13"), 2, "bad date '2020-13'")
    assert_one_line_error(run(*base, "--until", "soon"), 2, "bad date 'soon'")
    assert_one_line_error(
        run(*base, "--since", "2020", "--tz", "Moon/Base"), 2, "unknown time zone"
    )
    assert_one_line_error(run(*base, "--order", "rank"), 2, "needs a search query")
    assert_one_line_error(run(*base, "--q", "  "), 2)
    missing = tmp_path / "missing"
    assert_one_line_error(run("query", "--archive", str(missing)), 3, "no archive at")
    assert not missing.exists()
    assert_one_line_error(
        run("query", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"), 3, "no archive database"
    )


def test_sql_runs_a_select_over_the_parquet_dataset(archive_dir: Path) -> None:
    base = ("sql", "--archive", str(archive_dir))
    result = run(*base, "SELECT site, count(*) AS n FROM articles GROUP BY site ORDER BY site")
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["site", "n"],
        ["alpha", "3"],
        ["beta", "2"],
        ["fazhi-chenbao", "1"],
    ]
    result = run(
        *base,
        "WITH t AS (SELECT title, date, published_at FROM articles WHERE body LIKE '%驻点招商%') "
        "SELECT * FROM t",
        "--format",
        "json",
    )
    assert json.loads(result.stdout) == [
        {
            "title": "驻蹲开放前沿,引进优强企业",
            "date": "2020-10-03",
            "published_at": "2020-10-03T13:26:54+00:00",
        }
    ]
    result = run(*base, "FROM articles SELECT url WHERE date = 'unknown'", "--format", "csv")
    assert result.stdout.splitlines() == ["url", "http://alpha.example/a/3.html"]


@pytest.mark.parametrize(
    ("statement", "fragment"),
    [
        ("COPY (SELECT * FROM articles) TO '{out}/leak.csv'", "not COPY"),
        ("INSERT INTO articles SELECT * FROM articles", "not INSERT"),
        ("CREATE TABLE {name} AS SELECT 1", "not CREATE"),
        ("ATTACH '{out}/other.db' AS o", "not ATTACH"),
        ("DROP VIEW articles", "not DROP"),
        ("SET enable_external_access = true", "not SET"),
        ("INSTALL httpfs", "not"),
        ("EXPORT DATABASE '{out}/dump'", "not EXPORT"),
        ("SELECT 1; SELECT 2", "exactly one"),
        ("SELECT * FROM read_csv('{out}/secret.csv')", "file system operations are disabled"),
        ("SELECT * FROM read_text('{out}/secret.csv')", "file system operations are disabled"),
        ("SELECT * FROM read_parquet('{out}/*.parquet')", "file system operations are disabled"),
        ("SELEC 1", "Parser Error"),
    ],
)
def test_sql_is_read_only(archive_dir: Path, tmp_path: Path, statement: str, fragment: str) -> None:
    (tmp_path / "secret.csv").write_text("a,b\n1,2\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    query = statement.format(out=tmp_path, name="t")
    result = run("sql", "--archive", str(archive_dir), query)
    assert_one_line_error(result, 2, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_sql_on_an_archive_without_parquet_has_an_empty_view(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    result = run(
        "sql", "--archive", str(tmp_path / "a"), "SELECT count(*) AS n, min(url) FROM articles"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split() == ["0", "NULL"]
    assert_one_line_error(run("sql", "--archive", str(tmp_path / "b"), "SELECT 1"), 3)


def test_export_command(archive_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "news.parquet"
    result = run(
        "export",
        "--archive",
        str(archive_dir),
        "--format",
        "parquet",
        "--out",
        str(out),
        "--exclude-duplicates",
        "--fields",
        "url,title,published_at",
        "--category",
        "要闻",
    )
    assert result.exit_code == 0, result.output
    assert f"wrote 2 articles to {out}" in result.stdout
    assert "exported 2/2 articles" in result.stderr  # not a TTY: a progress line
    table = pq.read_table(out)
    assert table.column_names == ["url", "title", "published_at"]
    assert table.column("url").to_pylist() == [ALPHA1, BETA1]
    card = (tmp_path / "news.parquet.README.md").read_text(encoding="utf-8")
    assert "- category: `要闻`" in card and "- exclude_duplicates: `True`" in card


def test_export_to_a_folder_and_quietly(archive_dir: Path, tmp_path: Path) -> None:
    out = f"{tmp_path}/ds/"
    (tmp_path / "ds").mkdir()
    result = run(
        "export", "--archive", str(archive_dir), "--format", "jsonl", "--out", out, "--quiet"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["README.md", "articles.jsonl"]
    assert len((tmp_path / "ds" / "articles.jsonl").read_text().splitlines()) == 6


def test_export_errors_are_one_line(archive_dir: Path, tmp_path: Path) -> None:
    base = ("export", "--archive", str(archive_dir), "--format", "csv")
    result = run(*base, "--out", str(tmp_path / "x.csv"), "--fields", "url,bogus")
    assert_one_line_error(result, 2, "unknown field bogus", "valid fields: url, site, body")
    result = run(*base, "--out", str(tmp_path / "no" / "x.csv"))
    assert_one_line_error(result, 2, "no folder")  # a usage error of --out (issue 14, item 8)
    result = run(*base, "--out", str(tmp_path / "x.csv"), "--since", "2020-1-1x")
    assert_one_line_error(result, 2, "bad date")
    assert list(tmp_path.iterdir()) == []


def test_commands_run_as_a_program(archive_dir: Path) -> None:
    """The real entry point: registered commands, and a refusal without a traceback."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "sql",
            "--archive",
            str(archive_dir),
            "DELETE FROM articles",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: only a read-only SELECT query is allowed, not DELETE "
        "(zhengwen sql never writes; use `zhengwen export` to write files)"
    ]
