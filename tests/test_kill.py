"""Crash safety: SIGKILL at chosen moments, then check the archive (docs/reliability.md).

The long version, with 24+ trials and its figures, is ``python bench/kill.py``; these are the
few trials a suite run can afford, each moment once. The writers are paused at named points by
the kill-test hooks (`storage.testhooks`) and killed there, so no assertion depends on timing:
a test waits for the crawler to say where it is, with generous timeouts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.kill import check_archive, read_acks, run_trials
from storage.article import Article
from storage.db import Database, FetchUpdate
from storage.parquet import TEMP_MIN_AGE, TEMP_PREFIX, ParquetDataset
from storage.paths import ArchivePaths
from storage.testhooks import CRASHPOINT_ENV, HOOKS_DIR_ENV

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 3, 1, 8, tzinfo=UTC)
WAIT = 300.0  # seconds: a loaded machine is slow, a hung writer is hung


def _articles(n: int, site: str = "killsite") -> list[Article]:
    """``n`` articles on ``n`` different days: a batch of them spans ``n`` partitions."""
    return [
        Article(
            url=f"http://news.example/a/{i}.html",
            site=site,
            title=f"第{i}篇",
            body=f"第{i}篇稿件的正文。" * 5,
            published_at=T0 + timedelta(days=i),
        )
        for i in range(n)
    ]


# --- the crawler, killed -----------------------------------------------------------------------


def test_crawler_killed_at_each_moment_restarts_and_archives_every_article_once(
    tmp_path: Path,
) -> None:
    """Five kills of a real ``zhengwen crawl`` (fetching, both Parquet points, both SQL points),
    each checked before the restart, then a run to the end: nothing acknowledged lost, nothing
    twice, every file whole, and every article of the portal archived exactly once."""
    schedule = (
        "fetching",
        "parquet.before_rename",
        "sql.before_commit",
        "parquet.between_renames",
        "sql.after_commit",
    )
    figures = run_trials(tmp_path, len(schedule), articles=12, publish=4, moments=schedule)
    details = figures["trial_details"]
    failed = [t for t in details if not t["ok"]]
    assert not failed, json.dumps(failed, indent=1, ensure_ascii=False)
    # Every point but between_renames is reached by any run that writes anything, and every run
    # has new articles; between_renames needs a batch over two date folders, which a loaded
    # machine may cut into one-article batches (then the run ends, is checked like the rest,
    # and the point is tried again).
    for trial in details:
        if trial["point"] != "parquet.between_renames":
            assert trial["killed"], trial
    assert figures["kills"] == figures["trials"] == len(schedule)
    assert figures["kills_per_moment"] == {"fetching": 1, "parquet_flush": 2, "sql_commit": 2}
    assert figures["restarts_refused"] == 0
    assert figures["stale_lock_files_after_kill"] == figures["kills"]  # and they did not matter
    assert figures["orphan_workers"] == 0
    assert figures["acknowledged_sql"] > 0 and figures["acknowledged_parquet"] > 0
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["unreadable_files"] == 0
    assert figures["integrity_failures"] == 0
    final = figures["final"]
    assert final["ok"], json.dumps(final, indent=1, ensure_ascii=False)
    assert final["exit_code"] == 0
    assert final["sql_articles"] == figures["articles_in_portal"] == 12 + 4 * (len(details) - 1)
    # One Parquet row per text an article had: the first, plus two edits per later run at most.
    assert figures["articles_in_portal"] <= final["parquet_rows"]
    assert final["parquet_rows"] <= figures["articles_in_portal"] + figures["edits"]
    assert final["stale_versions"] == [] and final["versions_not_in_parquet"] == 0
    assert final["run_statuses"].get("running", 0) == 0
    assert final["run_statuses"]["interrupted"] >= 1
    assert final["raw_problems"] == []
    # zhengwen check-archive on what the last run left: SQL, Parquet and raw agree.
    from tests.test_check_archive import assert_consistent

    assert_consistent(tmp_path / "archive")


# --- the stores, killed at each point -----------------------------------------------------------


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tests.test_kill import _articles
    from storage.db import Database, FetchUpdate
    from storage.parquet import ParquetDataset

    root, store = Path(sys.argv[1]), sys.argv[2]
    if store == "parquet":
        ParquetDataset(root / "parquet").write_batch(_articles(3))
    else:
        with Database(f"sqlite:///{root / 'zhengwen.sqlite'}") as db:
            db.create_schema()
            db.upsert_articles(_articles(3))
    print("returned")
    """
)


def _kill_at(point: str, root: Path, store: str) -> None:
    """Run one batch write in a child process, SIGKILL it at ``point``."""
    _kill(_pause_at(point, root, store))


def _pause_at(point: str, root: Path, store: str) -> subprocess.Popen[str]:
    """Run one batch write in a child process; return once it is paused at ``point``."""
    hooks = root / "hooks"
    hooks.mkdir(parents=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        HOOKS_DIR_ENV: str(hooks),
        CRASHPOINT_ENV: point,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), store],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + WAIT
    paused = hooks / f"paused-{proc.pid}.json"
    while not paused.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the writer never reached {point}: {out} {err}")
        time.sleep(0.05)
    assert json.loads(paused.read_text())["point"] == point
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    out, _err = proc.communicate(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL
    assert "returned" not in out


@pytest.mark.parametrize(
    ("point", "visible"), [("parquet.before_rename", 0), ("parquet.between_renames", 1)]
)
def test_parquet_batch_killed_mid_flush_leaves_only_whole_parts(
    tmp_path: Path, point: str, visible: int
) -> None:
    """Before the renames nothing of the batch is visible; between them, whole parts only. The
    rest of the batch stays as temp files that readers skip and a rerun rewrites next to."""
    _kill_at(point, tmp_path, "parquet")
    dataset = ParquetDataset(tmp_path / "parquet")
    parts = sorted((tmp_path / "parquet").rglob("part-*.parquet"))
    temps = sorted((tmp_path / "parquet").rglob(f"{TEMP_PREFIX}*"))
    assert len(parts) == visible
    assert len(temps) == 3 - visible
    for part in parts:
        assert pq.read_table(part).num_rows == 1
    assert dataset.count() == visible
    # The batch written again (what a restarted crawl does for what no store holds) adds only
    # what is missing once the reader skips the keys it has: here, the writer's own skip rule.
    held = dataset.keys()
    dataset.write_batch([a for a in _articles(3) if (a.url_hash, a.content_hash) not in held])
    check = check_archive(tmp_path, {"sql": set(), "parquet": set()})
    assert check.ok and check.parquet_rows == 3 and not check.duplicated_parquet


def test_temp_files_of_a_killed_flush_are_cleaned_up_and_a_live_writers_are_not(
    tmp_path: Path,
) -> None:
    """A writer holds a flock on its temp files until it renames them; the kernel drops it with
    the writer. So the next run removes a killed flush's temp files without waiting an hour,
    and leaves alone those of a writer still at work (another site's crawl), however old."""
    writer = _pause_at("parquet.before_rename", tmp_path, "parquet")
    try:
        dataset = ParquetDataset(tmp_path / "parquet")
        temps = sorted((tmp_path / "parquet").rglob(f"{TEMP_PREFIX}*"))
        assert len(temps) == 3
        old = time.time() - 2 * TEMP_MIN_AGE
        for path in temps:
            os.utime(path, (old, old))
        assert dataset.cleanup_temp() == []  # alive (paused): locked
    finally:
        _kill(writer)
    assert sorted(dataset.cleanup_temp()) == temps
    assert not any((tmp_path / "parquet").rglob(f"{TEMP_PREFIX}*"))


@pytest.mark.parametrize(("point", "stored"), [("sql.before_commit", 0), ("sql.after_commit", 3)])
def test_sql_batch_killed_at_commit_is_all_or_nothing(
    tmp_path: Path, point: str, stored: int
) -> None:
    _kill_at(point, tmp_path, "sql")
    check = check_archive(tmp_path, {"sql": set(), "parquet": set()})
    assert check.integrity == []
    assert check.sql_articles == stored
    with Database(ArchivePaths(tmp_path).default_db_url) as db:
        result = db.upsert_articles(_articles(3))  # the restart's retry
        assert db.count_articles() == 3
    assert (result.new, result.unchanged) == (3 - stored, stored)


def test_validators_of_a_fetch_whose_article_was_not_stored_are_not_offered(
    tmp_path: Path,
) -> None:
    """A fetch answer (with its ETag) commits on its own, before its article is stored. Killed
    in between, the next run must fetch the page in full: with the ETag it would get a 304 for
    a text the archive never stored (bench/kill.py found such an edit lost for good)."""
    (v1,) = _articles(1)
    seconds = [T0 + timedelta(seconds=i) for i in range(5)]
    with Database(ArchivePaths(tmp_path).ensure().default_db_url) as db:
        db.create_schema()
        db.upsert_articles([v1], seen_at=seconds[0])
        db.record_fetches([FetchUpdate(v1.url, v1.site, 200, seconds[1], etag='"v1"')])
        db.upsert_articles([v1], seen_at=seconds[1])  # unchanged: last_seen moves
        assert db.known_pages(v1.site)[v1.url].etag == '"v1"'

        # The page changed; its answer committed, its article batch did not (the kill).
        db.record_fetches([FetchUpdate(v1.url, v1.site, 200, seconds[2], etag='"v2"')])
        page = db.known_pages(v1.site)[v1.url]
        assert page.etag is None and page.last_modified is None

        v2 = v1.replace(body=v1.body + "更正。")
        db.upsert_articles([v2], seen_at=seconds[3])  # the restart stores it
        assert db.known_pages(v1.site)[v1.url].etag == '"v2"'
        # A 304 confirms the stored text in its own transaction: the validators stay usable.
        db.record_fetches(
            [FetchUpdate(v1.url, v1.site, 304, seconds[4], etag='"v2"', article_url=v1.url)]
        )
        assert db.known_pages(v1.site)[v1.url].etag == '"v2"'


# --- the checks can fail ---------------------------------------------------------------------


def test_archive_checks_find_cut_files_duplicates_and_lost_acknowledgements(
    tmp_path: Path,
) -> None:
    paths = ArchivePaths(tmp_path).ensure()
    articles = _articles(2)
    parts = ParquetDataset(paths.parquet_dir).write_batch(articles)
    with Database(paths.default_db_url) as db:
        db.create_schema()
        db.upsert_articles(articles)
    keys = {(a.url_hash, a.content_hash) for a in articles}
    assert check_archive(tmp_path, {"sql": keys, "parquet": keys}).ok

    ghost = ("0" * 40, "f" * 64)
    lost = check_archive(tmp_path, {"sql": keys | {ghost}, "parquet": keys | {ghost}})
    assert len(lost.lost_sql) == 1 and len(lost.lost_parquet) == 1 and not lost.ok

    copy = parts[0].with_name("part-copy.parquet")
    shutil.copyfile(parts[0], copy)
    assert len(check_archive(tmp_path, {"sql": keys, "parquet": keys}).duplicated_parquet) == 1
    copy.write_bytes(parts[0].read_bytes()[: parts[0].stat().st_size // 2])
    cut = check_archive(tmp_path, {"sql": keys, "parquet": keys})
    assert len(cut.unreadable) == 1 and not cut.ok


def test_acknowledgements_skip_a_cut_last_line(tmp_path: Path) -> None:
    journal = tmp_path / "acks-1.jsonl"
    whole = json.dumps({"store": "sql", "keys": [["a" * 40, "b" * 64]]})
    journal.write_text(whole + "\n" + whole[:20], encoding="utf-8")
    assert read_acks([tmp_path]) == {"sql": {("a" * 40, "b" * 64)}, "parquet": set()}


def test_hooks_are_inert_without_the_environment_and_refuse_unknown_points() -> None:
    code = (
        "import storage.testhooks as h; h.crashpoint('sql.before_commit');"
        " h.acknowledge('sql', [('a', 'b')]); print(h.active())"
    )
    env = {k: v for k, v in os.environ.items() if k not in (HOOKS_DIR_ENV, CRASHPOINT_ENV)}
    env["PYTHONPATH"] = str(REPO)
    off = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=WAIT
    )
    assert off.returncode == 0 and off.stdout.strip() == "False"
    env.update({HOOKS_DIR_ENV: "/nonexistent", CRASHPOINT_ENV: "sql.sometime"})
    bad = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=WAIT
    )
    assert bad.returncode != 0 and "unknown point 'sql.sometime'" in bad.stderr
