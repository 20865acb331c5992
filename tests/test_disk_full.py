"""A full disk: real `zhengwen crawl` processes writing to a small tmpfs the test mounts.

Mounting needs root (CI runs as root); elsewhere the tests that need a mount skip with the
reason, except under CI=true, where a failed mount is a failure. What is checked:

- a disk that fills during the crawl stops it promptly, with one line naming the disk and the
  path, no traceback and no ``--- Logging error ---`` (the log file is on the same disk), and
  the pages that arrived after the halt are counted as skipped, not as dropped articles;
- the next run, once there is room again, stores every article (nothing was lost for good);
- with PostgreSQL beside a full Parquet/raw disk, the run is recorded ``failed`` with the
  reason, and the next run restores both stores;
- a crawl started on an already-full disk leaves no 0-byte ``zhengwen.sqlite`` behind.

The log fallback and the disk-full recognition are also tested without a mount: ``/dev/full``
fails every write with ENOSPC, and SQLite's ``max_page_count`` gives a real SQLITE_FULL.
"""

from __future__ import annotations

import errno
import io
import logging
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from crawler.demo import DEMO_TOML
from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, serve
from crawler.logfile import degrade_to_stderr
from storage.db import Database
from storage.diskfull import describe_disk, is_disk_full, no_space_message
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.conftest import IN_CI
from tests.test_cli import zhengwen
from tests.test_crawl_e2e import crawl_cmd, crawl_env

N_ARTICLES = 300
SITE = "fullportal"
EXIT_FAILED = 1
EXIT_STORAGE = 3
#: Far more than a crawl that stops at once prints; the crawl that did not stop printed 8,282.
MAX_STDERR_LINES = 40


@pytest.fixture(scope="module")
def server() -> Iterator[PortalServer]:
    with serve(Portal.generate(n_articles=N_ARTICLES, seed=606060)) as running:
        yield running


def site_config(tmp_path: Path, server: PortalServer) -> Path:
    text_ = DEMO_TOML.read_text(encoding="utf-8")
    text_ = text_.replace("http://127.0.0.1:8765/", server.url + "/")
    text_ = text_.replace('name = "demo"', f'name = "{SITE}"')
    path = tmp_path / f"{SITE}.toml"
    path.write_text(text_, encoding="utf-8")
    return path


class Disk:
    """A tmpfs of a given size mounted at ``path`` for one test."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def resize(self, size: str) -> None:
        subprocess.run(
            ["mount", "-o", f"remount,size={size}", str(self.path)],
            check=True,
            capture_output=True,
        )


@pytest.fixture
def small_disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Disk]:
    size = getattr(request, "param", "600k")
    point = tmp_path / "disk"
    point.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
            capture_output=True,
            text=True,
            check=False,
        )
        problem = None if done.returncode == 0 else done.stderr.strip() or "mount failed"
    except FileNotFoundError as exc:
        problem = str(exc)
    if problem is not None:
        msg = f"cannot mount a tmpfs (needs root): {problem}"
        if IN_CI:
            pytest.fail(msg + " (CI=true runs as root and must be able to mount)")
        pytest.skip(msg)
    try:
        yield Disk(point)
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)


def fill(directory: Path) -> None:
    """Write a file into ``directory`` until its disk is full."""
    chunk = b"\0" * 65536
    with open(directory / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with open(directory / "filler", "ab", buffering=0) as f:  # the last partial block
        try:
            while True:
                f.write(b"\0")
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def crawl(config: Path, archive: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crawl_cmd(config, archive, *extra),
        env=crawl_env(),
        cwd=archive.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def assert_one_clear_line(done: subprocess.CompletedProcess[str], disk: Path) -> str:
    """The crawl stopped with exit 1 and said why in one line; returns that line."""
    err = done.stderr
    assert done.returncode == EXIT_FAILED, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert "Logging error" not in err, err[-3000:]
    lines = err.splitlines()
    assert len(lines) <= MAX_STDERR_LINES, f"{len(lines)} stderr lines:\n" + err[-3000:]
    summary = [line for line in lines if line.startswith(f"error: crawl of {SITE} stopped:")]
    assert len(summary) == 1, err[-3000:]
    line = summary[0]
    assert "no space left on device" in line
    assert str(disk) in line  # the disk and the path on it
    assert "free of" in line
    return line


def dropped_reasons(counters: dict[str, object]) -> dict[str, int]:
    dropped = counters.get("dropped") or {}
    assert isinstance(dropped, dict)
    return {str(k): int(v) for k, v in dropped.items()}


def test_a_disk_filling_up_stops_the_crawl_with_one_line_and_the_next_run_stores_all(
    tmp_path: Path, server: PortalServer, small_disk: Disk
) -> None:
    config = site_config(tmp_path, server)
    archive = small_disk.path / "archive"
    before = len(server.requests)
    done = crawl(config, archive)
    assert_one_clear_line(done, small_disk.path)
    fetched = sum(1 for p in server.requests[before:] if "content_" in p)
    assert fetched < N_ARTICLES, "the crawl stopped before fetching the whole portal"

    small_disk.resize("64m")  # room again
    again = crawl(config, archive)
    assert again.returncode == 0, again.stderr[-3000:]
    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        assert db.count_articles(SITE) == N_ARTICLES
        runs = db.runs(SITE)
    assert ParquetDataset(paths.parquet_dir).count(SITE) == N_ARTICLES
    # The run that hit the full disk is failed or (when even its end could not be written)
    # interrupted by the next run; in neither is the halt a drop of the site's articles.
    first = runs[-1]
    assert first.status in ("failed", "interrupted")
    assert "storage_error" not in dropped_reasons(first.counters)


def test_postgresql_beside_a_full_disk_records_the_run_failed_with_the_reason(
    tmp_path: Path, server: PortalServer, small_disk: Disk, pg_url: str
) -> None:
    config = site_config(tmp_path, server)
    archive = small_disk.path / "archive"
    done = crawl(config, archive, "--db", pg_url)
    assert_one_clear_line(done, small_disk.path)
    with Database(pg_url) as db:
        (run,) = db.runs(SITE)
        stored = db.count_articles(SITE)
    assert run.status == "failed"
    assert run.counters.get("finish_reason") == "disk_full"
    assert "no space left on device" in str(run.counters.get("halt"))
    reasons = dropped_reasons(run.counters)
    assert "storage_error" not in reasons, reasons
    assert stored < N_ARTICLES

    small_disk.resize("64m")
    again = crawl(config, archive, "--db", pg_url)
    assert again.returncode == 0, again.stderr[-3000:]
    with Database(pg_url) as db:
        assert db.count_articles(SITE) == N_ARTICLES
    assert ParquetDataset(ArchivePaths(archive).parquet_dir).count(SITE) == N_ARTICLES


def test_a_crawl_on_an_already_full_disk_leaves_no_empty_database(
    tmp_path: Path, server: PortalServer, small_disk: Disk
) -> None:
    config = site_config(tmp_path, server)
    fill(small_disk.path)
    archive = small_disk.path / "archive"
    before = len(server.requests)
    done = crawl(config, archive)
    assert done.returncode == EXIT_STORAGE, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no space left on device" in lines[0] or "disk is full" in lines[0], lines[0]
    assert not (archive / "zhengwen.sqlite").exists()
    assert not list(archive.glob("zhengwen.sqlite*"))
    assert len(server.requests) == before, "nothing is fetched when nothing can be stored"


@pytest.mark.parametrize("small_disk", ["64m"], indirect=True)
def test_commands_on_a_full_archive_disk_name_it_in_one_line(
    tmp_path: Path, server: PortalServer, small_disk: Disk
) -> None:
    """SQLite needs a little room even to read a WAL database (its shared-memory file) and
    reports a full disk there only as "disk I/O error": the commands say what it is."""
    config = site_config(tmp_path, server)
    archive = small_disk.path / "archive"
    done = crawl(config, archive, "--quiet", "--max-pages", "40")
    assert done.returncode == 0, done.stderr[-3000:]
    fill(small_disk.path)
    for command in (["stats"], ["reextract"], ["check-archive", "--repair"]):
        ran = zhengwen(*command, "--archive", str(archive), cwd=tmp_path, timeout=300)
        lines = ran.stderr.strip().splitlines()
        assert ran.returncode == EXIT_STORAGE, (command, ran.stderr[-2000:])
        assert len(lines) == 1, (command, ran.stderr[-2000:])
        assert "no space left on device: the disk of" in lines[0], (command, lines[0])
        assert str(small_disk.path) in lines[0]


# Without a mount -------------------------------------------------------------------------


def test_a_log_file_that_cannot_be_written_degrades_to_stderr_once() -> None:
    handler = logging.FileHandler("/dev/full")  # every write fails with ENOSPC
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    err = io.StringIO()
    degrade_to_stderr(handler, err)
    log = logging.getLogger(f"zhengwen-test-{uuid.uuid4().hex}")
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        for i in range(50):
            log.info("info %d", i)
            log.warning("warning %d", i)
    finally:
        root.setLevel(level)
        for h in list(root.handlers):
            if h is handler or (isinstance(h, logging.StreamHandler) and h.stream is err):
                root.removeHandler(h)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("warning: cannot write the log file /dev/full (")
    assert "No space left on device" in lines[0]
    assert "Logging error" not in err.getvalue()
    assert sum("cannot write the log file" in line for line in lines) == 1
    # Warnings go on to stderr (the first one with it), infos do not.
    assert [line for line in lines[1:]] == [f"WARNING warning {i}" for i in range(50)]


def test_disk_full_is_told_apart_from_other_errors(tmp_path: Path) -> None:
    try:
        with open("/dev/full", "wb", buffering=0) as f:
            f.write(b"x")
    except OSError as exc:
        enospc = exc
    assert is_disk_full(enospc)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("no such column"))

    # A real SQLITE_FULL, wrapped by SQLAlchemy as the stores see it.
    engine = create_engine(f"sqlite:///{tmp_path / 'tiny.sqlite'}")
    with pytest.raises(OperationalError) as raised, engine.begin() as conn:
        conn.execute(text("PRAGMA max_page_count = 2"))
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "y" * 100_000})
    engine.dispose()
    assert is_disk_full(raised.value)

    wrapped = RuntimeError("the batch failed")
    wrapped.__cause__ = enospc
    assert is_disk_full(wrapped)


def test_the_message_names_the_file_and_its_disk(tmp_path: Path) -> None:
    exc = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "a.parquet"))
    line = no_space_message(exc, None)
    assert line.startswith(f"no space left on device: the disk of {tmp_path / 'a.parquet'} is full")
    assert "free of" in line
    # Without a file in the error, the store's path is named; a folder not made yet is
    # described by the disk of its nearest existing parent.
    bare = OSError(errno.ENOSPC, "No space left on device")
    assert str(tmp_path / "later") in no_space_message(bare, tmp_path / "later" / "x")
    assert "free of" in describe_disk(tmp_path / "later" / "x")
    assert "\n" not in line
