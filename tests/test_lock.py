"""crawler.lock: one run per site, a holder named in the refusal, no stale lock after a kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.lock import SiteLock, SiteLockHeld, lock_path
from storage.db import Database

REPO = Path(__file__).resolve().parent.parent

HOLD_SCRIPT = """
import sys, time
from pathlib import Path
from crawler.lock import SiteLock
lock = SiteLock(Path(sys.argv[1]), "demo", trigger="schedule").acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_second_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    first = SiteLock(tmp_path, "demo", trigger="schedule").acquire()
    try:
        with pytest.raises(SiteLockHeld) as info:
            SiteLock(tmp_path, "demo").acquire()
        message = str(info.value)
        assert message.startswith("site demo is already being crawled (pid ")
        assert f"pid {os.getpid()} on {socket.gethostname()}" in message
        assert "trigger schedule" in message and "started 20" in message
        assert message.endswith("; not starting a second run")
        # Another site is independent.
        with SiteLock(tmp_path, "other"):
            pass
    finally:
        first.release()
    with SiteLock(tmp_path, "demo") as again:
        assert again.held
    assert lock_path(tmp_path, "demo") == tmp_path / "locks" / "demo.lock"


def test_lock_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SiteLockHeld, match=f"pid {holder.pid} "):
            SiteLock(tmp_path, "demo").acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with SiteLock(tmp_path, "demo") as lock:
        assert lock.held


@pytest.mark.parametrize("name", ["../evil", "Demo", "", "a/b", "x" * 65])
def test_bad_site_names_never_become_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="site name"):
        SiteLock(tmp_path, name)


def test_stale_running_rows_are_marked_interrupted(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'z.sqlite'}") as db:
        db.create_schema()
        dead = db.start_run("demo", "schedule")
        done = db.start_run("demo", "manual")
        db.finish_run(done, "ok", {"pages_fetched": 3})
        other = db.start_run("other", "manual")
        assert db.interrupt_stale_runs("demo") == 1
        assert db.interrupt_stale_runs("demo") == 0
        runs = {r.id: r for r in db.runs(limit=10)}
    assert runs[dead].status == "interrupted" and runs[dead].finished_at is not None
    assert runs[dead].counters == {"finish_reason": "process died"}
    assert runs[done].status == "ok" and runs[done].counters == {"pages_fetched": 3}
    assert runs[other].status == "running"


@pytest.mark.postgres
def test_postgres_advisory_lock_holds_across_archive_folders(tmp_path: Path, pg_url: str) -> None:
    """Two machines sharing one PostgreSQL have two archive folders: the file lock alone would
    let both crawl the same site."""
    first = SiteLock(tmp_path / "machine-a", "demo", db_url=pg_url).acquire()
    try:
        with pytest.raises(SiteLockHeld) as info:
            SiteLock(tmp_path / "machine-b", "demo", db_url=pg_url).acquire()
        assert f"zhengwen demo manual pid {os.getpid()}" in str(info.value)
        # The refused lock let go of its file lock: only the advisory lock is contended.
        with SiteLock(tmp_path / "machine-b", "demo"):
            pass
    finally:
        first.release()
    deadline = time.monotonic() + 10
    while True:  # the server drops the session's locks once it sees the connection close
        try:
            SiteLock(tmp_path / "machine-b", "demo", db_url=pg_url).acquire().release()
            break
        except SiteLockHeld:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
