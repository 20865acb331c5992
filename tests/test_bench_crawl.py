"""Smoke test of the crawl benchmark (bench/crawl.py): it runs end to end on a tiny portal.

Timing is not asserted (a loaded CI machine would make it flaky); the figures only have to be
there and be sane, so that a broken benchmark is noticed before someone needs its numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
N = 30

pytest.importorskip("psutil", reason="bench/crawl.py needs psutil (the bench and dev extras)")


def test_crawl_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    doc_before = (REPO / "docs" / "benchmarks.md").read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "crawl.py"),
            "--pages",
            str(N),
            "--runs",
            "1",
            "--sample",
            "10",
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
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "pipeline efficiency" in result.stdout
    figures = json.loads(out.read_text(encoding="utf-8"))
    meta, (run,) = figures["meta"], figures["runs"]

    # The portal: N articles padded to realistic sizes, and list pages linking to them.
    assert meta["articles"] == N
    assert 30 <= meta["kb_min"] <= meta["kb_median"] <= meta["kb_max"] <= 80
    assert meta["list_pages"] >= 3

    # Every article was fetched by the baseline and stored by zhengwen.
    assert run["fetch_article_pages"] == N
    assert run["articles"] == N
    assert f"articles {N} new" in run["summary"]

    # Sane magnitudes: positive costs, no figure off by orders of magnitude.
    for key in ("f", "e", "e_zhengwen", "cpu_per_article"):
        assert 0 < run[key] < 5, (key, run[key])
    assert run["articles_per_s"] > 0
    assert 0 < run["efficiency"] < 5
    assert 0 < run["cpu_ratio"] < 20
    assert 50 < run["peak_rss_mb"] < 4000
    assert 0 < run["peak_pss_mb"] <= run["peak_rss_mb"]
    assert run["server_cpu_per_page_crawl"] < run["cpu_per_article"]

    # --no-doc leaves the documentation alone; the work folder's archives are cleaned up.
    assert (REPO / "docs" / "benchmarks.md").read_bytes() == doc_before
    assert not list((tmp_path / "work").glob("runs-*"))
