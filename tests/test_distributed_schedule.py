"""``zhengwen schedule --redis``: scheduled runs are enqueued on the cluster, crawled by its
workers, and their end is logged by the scheduler; stopping it leaves runs to the workers."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import text

from crawler.demo.content import Portal
from crawler.demo.server import serve
from storage.db import Database
from tests.test_distributed_e2e import ROOT, Cluster, _connect, _site, _zw, cluster, redis_url
from tests.test_distributed_leases import REDIS_URL

__all__ = ["cluster", "redis_url"]


def _scheduled(tmp_path: Path, server: object, n: int) -> Path:
    config = _site(tmp_path, server)  # type: ignore[arg-type]
    # Due once a year: only --run-now starts a run during the test.
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\nschedule = "0 3 1 1 *"'
        ),
        encoding="utf-8",
    )
    return config


def _schedule(cluster: Cluster, config: Path, tmp_path: Path) -> subprocess.Popen[str]:
    args = ["schedule", str(config), "--run-now", "--redis", REDIS_URL, "--prefix"]
    args += [cluster.prefix, "--db", cluster.db, "--archive", str(tmp_path / "sched")]
    return subprocess.Popen(
        _zw(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _runs(db: str) -> list[tuple[str, str, str]]:
    with Database(db) as archive:
        archive.create_schema()  # the scheduler may not have made it yet
    with _connect(db) as c:
        return [
            (r.id, r.trigger, r.status)
            for r in c.execute(text("SELECT id, trigger, status FROM crawl_runs"))
        ]


def _wait(condition: object, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _terminate_when(proc: subprocess.Popen[str], condition: object) -> tuple[int, str]:
    """SIGTERM the scheduler once ``condition()`` holds; its exit code and output."""
    try:
        _wait(condition)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out


def test_a_scheduled_run_is_crawled_by_the_workers(tmp_path: Path, cluster: Cluster) -> None:
    with serve(Portal.generate(n_articles=60)) as server:
        config = _scheduled(tmp_path, server, 60)
        cluster.start_worker(1)
        log = tmp_path / "sched" / "logs" / "schedule.log"

        def ended() -> bool:
            ok = any(s == "ok" for _i, _t, s in _runs(cluster.db))
            return ok and log.exists() and " end demo " in log.read_text(encoding="utf-8")

        code, out = _terminate_when(_schedule(cluster, config, tmp_path), ended)
    assert code == 0, out
    ((run_id, trigger, status),) = _runs(cluster.db)
    assert (trigger, status) == ("schedule", "ok")
    lines = [line.split(" ", 1)[1] for line in log.read_text(encoding="utf-8").splitlines()]
    assert any(line.startswith(f"start demo (cluster run {run_id}, due ") for line in lines)
    (end,) = [line for line in lines if line.startswith("end demo ")]
    assert end.startswith(f"end demo (cluster run {run_id}) exit 0 in ")
    assert end.split(": ", 1)[1].startswith("demo: ok: fetched ")
    assert " articles 60 new" in end
    assert lines[-1] == "stopped"
    # The workers crawled it; the scheduler's archive folder holds no articles of its own.
    assert list((tmp_path / "w1" / "parquet").rglob("*.parquet"))
    assert not list((tmp_path / "sched").rglob("*.parquet"))


def test_stopping_the_scheduler_leaves_the_run_to_the_workers(
    tmp_path: Path, cluster: Cluster
) -> None:
    with serve(Portal.generate(n_articles=60)) as server:
        config = _scheduled(tmp_path, server, 60)
        # No worker yet: the run waits in Redis.
        proc = _schedule(cluster, config, tmp_path)
        code, out = _terminate_when(proc, lambda: len(_runs(cluster.db)) == 1)
        assert code == 0, out
        assert "leave demo (cluster run " in out and ") running: it is not ours to stop" in out
        ((run_id, _trigger, status),) = _runs(cluster.db)
        assert status == "running"
        cluster.start_worker(1)  # a worker started later still crawls the run
        assert cluster.wait_finished(run_id) == "ok"


def test_schedule_with_an_unreachable_redis_is_one_line_exit_3(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text(
        'name = "s"\nstart_urls = ["http://127.0.0.1:1/"]\nschedule = "0 3 1 1 *"\n'
        '[urls]\narticle = ["/a/"]\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        _zw("schedule", str(config), "--redis", "redis://127.0.0.1:1/0", "--archive", "a"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach Redis at redis://127.0.0.1:1/0")
