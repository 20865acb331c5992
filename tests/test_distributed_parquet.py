"""The cluster's Parquet: the union of the workers' folders holds every version once (a worker
does not copy what others stored when it joins a run), and ``check-archive --repair`` fills
one folder with everything when a single complete folder is wanted."""

from __future__ import annotations

import subprocess
from pathlib import Path

from crawler.demo.content import Portal
from crawler.demo.server import serve
from tests.test_distributed_e2e import (
    ROOT,
    Cluster,
    _articles,
    _parquet_rows,
    _site,
    _zw,
    cluster,
    redis_url,
)

__all__ = ["cluster", "redis_url"]


def test_a_worker_joining_later_copies_nothing_and_repair_completes_a_folder(
    tmp_path: Path, cluster: Cluster
) -> None:
    n = 120
    with serve(Portal.generate(n_articles=n)) as server:
        config = _site(tmp_path, server)
        first = cluster.start_worker(0)
        assert cluster.wait_finished(cluster.enqueue(config)) == "ok"
        first.terminate()
        first.wait(60)
        # A second run of the site, by another worker only: every article is unchanged.
        cluster.start_worker(1)
        assert cluster.wait_finished(cluster.enqueue(config)) == "ok"
    assert _articles(cluster.db) == (n, n)
    rows = _parquet_rows(tmp_path)
    assert len(rows) == n and set(rows.values()) == {1}
    assert not list((tmp_path / "w1" / "parquet").rglob("*.parquet"))
    # One complete folder on demand: the database's versions written into w1's Parquet.
    repair = subprocess.run(
        _zw("check-archive", "--archive", str(tmp_path / "w1"), "--db", cluster.db, "--repair"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    # Parquet repaired; the raw captures stay in the folder of the worker that fetched them
    # (those differences remain, exit 1).
    out = repair.stdout + repair.stderr
    assert "missing_in_parquet 0" in out and "missing_in_raw 120" in out and "repaired 120" in out
    rows = _parquet_rows(tmp_path)  # w0 and w1 now each hold every article
    assert len(rows) == n and set(rows.values()) == {2}
