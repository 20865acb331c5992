"""Smoke test of the distributed benchmark (bench/distributed.py): a real run on a tiny portal
with the single-process crawl, 1 and 2 workers, on the PostgreSQL and Redis services.

Timing is not asserted (a loaded machine would make it flaky); the report must have its
structure, count every article of the portal, and compute its ratios from what it measured.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL
from tests.test_distributed_leases import redis_url

__all__ = ["redis_url"]

REPO = Path(__file__).resolve().parent.parent
N = 40

pytest.importorskip("psutil", reason="bench/distributed.py needs psutil (the bench and dev extras)")


def test_distributed_benchmark_smoke(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    out = tmp_path / "figures.json"
    doc_before = (REPO / "docs" / "benchmarks.md").read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "distributed.py"),
            *("--articles", str(N), "--workers", "1,2", "--cpu-workers", "2", "--runs", "1"),
            *("--latency", "0.05", "--concurrency", "1", "--quiet-wait", "0"),
            *("--pg", PG_ADMIN_URL, "--redis", redis_url, "--queue-items", "2000"),
            *("--no-doc", "--json", str(out), "--work", str(tmp_path / "work")),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 worker(s): " in result.stdout  # progress lines
    assert "**articles/s, end to end**" in result.stdout
    saved = json.loads(out.read_text(encoding="utf-8"))
    meta, (run,), memory = saved["meta"], saved["runs"], saved["memory"]
    assert meta["articles"] == N and meta["workers"] == [1, 2] and meta["latency"] == 0.05
    assert {"cpu", "cores", "memory_gb"} <= set(meta["machine"])
    assert set(run) == {"local", "1", "2"}

    for config, r in run.items():
        assert r["articles"] == N, config  # every article of the portal, once
        assert r["wall"] > 0 and math.isclose(r["articles_per_s"], N / r["wall"])
        assert 0 < r["cpu_per_article"] < 5 and math.isclose(r["cpu_per_article"], r["cpu"] / N)
        assert 0 < r["first_s"] <= r["last_s"] <= r["wall"] + 1
        assert 0 <= r["machine_busy"] <= 1
        assert r["samples"][-1][1] == N
    for config in ("1", "2"):
        r = run[config]
        assert r["processes"] == int(config) and r["joins"] >= 1
        assert 0 < r["cpu_before_enqueue"] < r["cpu"]
        assert math.isclose(
            r["articles_per_s_x1"], r["articles_per_s"] / run["1"]["articles_per_s"]
        )
        assert math.isclose(
            r["cpu_x_local"], r["cpu_per_article"] / run["local"]["cpu_per_article"]
        )
    assert run["1"]["articles_per_s_x1"] == 1.0

    # Redis: real payloads were sampled and pushed; a queued request costs some hundred bytes.
    (m,) = memory
    assert m["items"] == 2000 and 100 < m["payload_bytes"] < 5000
    assert m["payload_bytes"] < m["keys_per_request"] < 20 * m["payload_bytes"]
    assert 0 < m["keys_per_fingerprint"] < 200

    assert (REPO / "docs" / "benchmarks.md").read_bytes() == doc_before
    assert not list((tmp_path / "work").glob("runs-*"))
