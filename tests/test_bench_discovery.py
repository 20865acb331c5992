"""Smoke test of the discovery benchmark (bench/discovery.py): it runs end to end on small
portals and reports a row per portal and mode and a verdict per target. No timing is asserted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.test_crawl_e2e import run

REPO = Path(__file__).resolve().parent.parent


def test_discovery_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    doc_before = (REPO / "docs" / "benchmarks.md").read_bytes()
    args = ["--articles", "12", "--new", "2", "--repeat", "1", "--no-doc", "--json", str(out)]
    result = run([sys.executable, str(REPO / "bench" / "discovery.py"), *args], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))["results"]

    # Portals (a), (b), (e) with a site config: two runs each, every article stored.
    for key in ("a:config", "b:config", "e:config"):
        first, second = figures["zhengwen"][key]
        assert first["recall"] == second["recall"] == 1.0, key
        assert first["truth"] == 12 and second["truth"] == 14 and second["new"] == 2
    # Every other row is measured or says why not; trafilatura ran on each portal.
    for key, res in figures["zhengwen"].items():
        assert isinstance(res, list) or res == "not available in this checkout", key
    assert figures["trafilatura"]["a"]["sitemap_search"]["found"] == 12
    assert figures["trafilatura"]["b"]["find_feed_urls"]["found"] == 12
    for line in ("(a) sitemaps | site config | 1 |", "(e) broken | site config | 2 |"):
        assert line in result.stdout
    assert result.stdout.count("| PASS |") + result.stdout.count("| FAIL |") >= 6
    assert "(e) each broken input a recorded skip with its reason" in result.stdout
    assert (REPO / "docs" / "benchmarks.md").read_bytes() == doc_before
