"""Smoke test of the query benchmark (bench/query.py): it runs end to end on a tiny archive.

Timing is not asserted (a loaded machine would make it flaky): every figure only has to be in
the JSON, so that a broken benchmark is noticed before someone needs its numbers. What does not
depend on timing is checked: the archive holds what was asked for, and zhengwen and DuckDB
filtered and exported the same rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from numbers import Real
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
N = 2000

pytest.importorskip("psutil", reason="bench/query.py needs psutil (the bench and dev extras)")
pytest.importorskip("duckdb", reason="bench/query.py needs duckdb for its baseline")


def test_query_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    doc_before = (REPO / "docs" / "benchmarks.md").read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "query.py"),
            "--articles",
            str(N),
            "--runs",
            "1",
            "--no-doc",
            "--json",
            str(out),
            "--work",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "DuckDB full scan" in result.stdout
    figures = json.loads(out.read_text(encoding="utf-8"))
    meta, runs, medians = figures["meta"], figures["runs"], figures["medians"]

    archive = meta["archive"]
    assert archive["articles"] == N
    assert 0 < archive["copies"] < N // 10
    for key in (
        "build_s",
        "build_rows_s",
        "build_sql_s",
        "build_parquet_s",
        "build_index_s",
        "sqlite_mb",
        "parquet_mb",
        "parquet_files",
    ):
        assert isinstance(archive[key], Real), key
    assert set(meta["machine"]) >= {"cpu", "cores", "memory_gb", "python", "system"}
    assert meta["duckdb"] and meta["runs"] == 1 and len(runs) == 1

    searches = [q for _, q in meta["searches"]]
    assert len(searches) == 4
    assert set(meta["matches"]) == set(searches)
    keys = ["filter_s", "duck_filter_s", "machine_busy"]
    keys += [f"{who}search{i}_s" for i in range(len(searches)) for who in ("", "duck_")]
    keys += [
        f"{kind}_{fmt}_{figure}"
        for kind in ("zhengwen", "duckdb")
        for fmt in ("parquet", "jsonl")
        for figure in ("rows", "per_s", "seconds", "rss_mb", "mb")
    ]
    for key in keys:
        assert isinstance(medians[key], Real), key

    # The same operation on both sides: the same rows.
    (run,) = runs
    assert 0 < run["filter_rows"] == run["duck_filter_rows"] <= 20
    rows = run["zhengwen_parquet_rows"]
    assert N // 20 < rows < N // 5  # one site over four of the ten years: about N/10
    assert rows == run["duckdb_parquet_rows"] == run["zhengwen_jsonl_rows"]
    assert rows == run["duckdb_jsonl_rows"]

    # --no-doc leaves the documentation alone; the exports are cleaned up, the archive kept.
    assert (REPO / "docs" / "benchmarks.md").read_bytes() == doc_before
    assert not list((tmp_path / "work").glob("exports-*"))
    assert (tmp_path / "work" / f"archive-{N}-20201003" / "build.json").is_file()
