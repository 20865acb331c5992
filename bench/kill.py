"""Kill benchmark: SIGKILL the crawler at chosen moments, restart it, check the archive each time.

    python bench/kill.py                                  # 24 trials (8 per moment)
    python bench/kill.py --trials 40 --json kill.json     # more, and every figure as JSON

The crawler runs as users run it (``zhengwen crawl CONFIG --archive DIR``, a subprocess) against
the demo portal served on 127.0.0.1 from this process, into real SQLite and Parquet. Before each
trial the portal publishes a few more articles (so every run has something to write); the run
is then killed with SIGKILL at one of three moments, taken in turn:

- ``fetching``: once the portal has answered a random number of this run's requests;
- ``parquet_flush``: while a Parquet batch is being made visible (``parquet.before_rename`` or
  ``parquet.between_renames``), at one of the run's first three such batches;
- ``sql_commit``: around an article batch's commit (``sql.before_commit`` or
  ``sql.after_commit``), at one of the run's first three batches. A run that writes fewer
  batches ends by itself; it is counted apart and checked like the others.

The flush and commit moments are hit on purpose, not by luck: the crawler runs with the kill-test
hooks of `storage.testhooks` on, which pause the writer thread at the named point and tell this
process, which kills it there. The same hooks give what the killed run had acknowledged: every
committed batch's (url_hash, content_hash) keys, per store, written after the commit returned.

After every kill, before the restart: every ``part-*.parquet`` file reads whole; SQLite's
``PRAGMA integrity_check`` says ok; no key that a store acknowledged is missing from that store
(lost); no (url_hash, content_hash) twice in Parquet and no URL twice in SQL (duplicated; the
portal never edits an article here, so a URL twice in Parquet is a duplicate too); and the
extraction workers of the killed crawler exit. The next trial's run is the restart: it must start
(the lock file of the killed run is still there) and continue. A last run goes to completion;
then the archive must hold every article of the portal exactly once in SQL and in Parquet, every
acknowledged key in both stores, no ``running`` crawl run, and a raw WARC archive whose files are
all complete (the restart recovers the killed runs' ``.open`` files).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402

from bench import machine as bench_machine  # noqa: E402
from crawler.demo import DEMO_TOML  # noqa: E402
from crawler.demo.content import TZ, Portal  # noqa: E402
from crawler.demo.server import PortalServer, serve  # noqa: E402
from storage.paths import ArchivePaths  # noqa: E402
from storage.raw_read import scan_file  # noqa: E402
from storage.testhooks import CRASHPOINT_ENV, HOOKS_DIR_ENV  # noqa: E402

SITE = "killportal"
MOMENTS: dict[str, tuple[str, ...]] = {
    "fetching": (),
    "parquet_flush": ("parquet.before_rename", "parquet.between_renames"),
    "sql_commit": ("sql.before_commit", "sql.after_commit"),
}
#: Generous: a run on a loaded two-core machine takes seconds; one that takes this long hangs.
RUN_TIMEOUT = 600.0
#: How long the killed crawler's extraction workers may take to notice and exit.
WORKER_EXIT_TIMEOUT = 120.0
POLL = 0.05
#: A moment's kill pauses one of the first MAX_HIT batches of its point in the run.
MAX_HIT = 3
#: Runs that end before their moment are tried again, up to this many runs per kill asked.
MAX_RUNS_PER_KILL = 3


# --- what the archive holds -------------------------------------------------------------------


@dataclass(slots=True)
class ArchiveCheck:
    """The archive as found; every list names what broke (empty when all is well)."""

    parquet_files: int = 0
    parquet_rows: int = 0
    temp_files: int = 0
    unreadable: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    sql_articles: int = 0
    lost_sql: list[str] = field(default_factory=list)
    lost_parquet: list[str] = field(default_factory=list)
    duplicated_sql: list[str] = field(default_factory=list)
    duplicated_parquet: list[str] = field(default_factory=list)
    sql_keys: set[tuple[str, str]] = field(default_factory=set, repr=False)
    parquet_keys: set[tuple[str, str]] = field(default_factory=set, repr=False)
    parquet_urls: Counter[str] = field(default_factory=Counter, repr=False)
    sql_urls: set[str] = field(default_factory=set, repr=False)
    version_keys: set[tuple[str, str]] = field(default_factory=set, repr=False)
    current: dict[str, tuple[str | None, str]] = field(default_factory=dict, repr=False)
    """url -> (title, body) of the SQL archive's current version."""

    @property
    def ok(self) -> bool:
        return not (
            self.unreadable
            or self.integrity
            or self.lost_sql
            or self.lost_parquet
            or self.duplicated_sql
            or self.duplicated_parquet
        )

    def summary(self) -> dict[str, Any]:
        return {
            "parquet_files": self.parquet_files,
            "parquet_rows": self.parquet_rows,
            "temp_files": self.temp_files,
            "sql_articles": self.sql_articles,
            "unreadable": self.unreadable,
            "integrity": self.integrity,
            "lost_sql": self.lost_sql,
            "lost_parquet": self.lost_parquet,
            "duplicated_sql": self.duplicated_sql,
            "duplicated_parquet": self.duplicated_parquet,
        }


def read_acks(hooks_dirs: Sequence[Path]) -> dict[str, set[tuple[str, str]]]:
    """Keys each store acknowledged, from the hooks' journals; a cut last line is skipped (its
    batch was committed, but a lower bound of the acknowledged set is what a loss check needs)."""
    acks: dict[str, set[tuple[str, str]]] = {"sql": set(), "parquet": set()}
    for folder in hooks_dirs:
        for journal in sorted(folder.glob("acks-*.jsonl")):
            for line in journal.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                acks[entry["store"]].update((u, c) for u, c in entry["keys"])
    return acks


def check_archive(archive: Path, acks: dict[str, set[tuple[str, str]]]) -> ArchiveCheck:
    """Read the archive with pyarrow and sqlite3 directly (not through zhengwen's readers)."""
    paths = ArchivePaths(archive)
    out = ArchiveCheck()
    if paths.parquet_dir.is_dir():
        out.temp_files = sum(1 for _ in paths.parquet_dir.rglob(".tmp-*"))
        for part in sorted(paths.parquet_dir.rglob("part-*.parquet")):
            out.parquet_files += 1
            try:
                table = pq.read_table(part, columns=["url", "url_hash", "content_hash"])
            except Exception as exc:  # any reader error is the finding
                out.unreadable.append(f"{part.relative_to(archive)}: {exc}")
                continue
            out.parquet_rows += table.num_rows
            for url, u, c in zip(
                table["url"].to_pylist(),
                table["url_hash"].to_pylist(),
                table["content_hash"].to_pylist(),
                strict=True,
            ):
                if (u, c) in out.parquet_keys:
                    out.duplicated_parquet.append(f"{url} (same content twice)")
                out.parquet_keys.add((u, c))
                out.parquet_urls[url] += 1
    if paths.sqlite_path.exists():
        conn = sqlite3.connect(paths.sqlite_path)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if rows != ["ok"]:
                out.integrity.extend(str(r) for r in rows)
            fk = conn.execute("PRAGMA foreign_key_check").fetchall()
            out.integrity.extend(f"foreign key: {r}" for r in fk)
            for url, n in conn.execute(
                "SELECT url, count(*) FROM articles GROUP BY url HAVING count(*) > 1"
            ):
                out.duplicated_sql.append(f"{url} ({n} rows)")
            for u, c, url, title, body in conn.execute(
                "SELECT url_hash, content_hash, url, title, body FROM articles"
            ):
                out.sql_keys.add((u, c))
                out.sql_urls.add(url)
                out.current[url] = (title, body)
            out.version_keys = set(
                conn.execute("SELECT url_hash, content_hash FROM article_versions")
            )
            out.sql_articles = len(out.sql_keys)
        finally:
            conn.close()
    # An acknowledged text stays in SQL as the current version or in the history.
    out.lost_sql = sorted(f"{u}/{c[:12]}" for u, c in acks["sql"] - out.sql_keys - out.version_keys)
    out.lost_parquet = sorted(f"{u}/{c[:12]}" for u, c in acks["parquet"] - out.parquet_keys)
    return out


def check_raw(archive: Path) -> list[str]:
    """Problems of the raw WARC archive: unfinished or damaged files, a bad index."""
    raw = ArchivePaths(archive).raw_dir
    problems = []
    for path in sorted(raw.rglob("*.warc.gz*")):
        scan = scan_file(path)
        if scan.problem is not None:
            problems.append(f"{path.name}: {scan.problem.message}")
    index = raw / "index.sqlite"
    if index.exists():
        conn = sqlite3.connect(index)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
        if rows != ["ok"]:
            problems.append(f"index.sqlite: {rows}")
    return problems


def run_statuses(archive: Path) -> Counter[str]:
    conn = sqlite3.connect(ArchivePaths(archive).sqlite_path)
    try:
        return Counter(
            str(s) for (s,) in conn.execute("SELECT status FROM crawl_runs WHERE site = ?", (SITE,))
        )
    finally:
        conn.close()


# --- the crawler as a process ---------------------------------------------------------------


def site_config(folder: Path, server: PortalServer) -> Path:
    """The demo config pointed at the running server. Every run re-checks every archived
    article (the demo's are from 2020), so that edits made between trials are fetched."""
    text = DEMO_TOML.read_text(encoding="utf-8").replace("http://127.0.0.1:8765/", server.url + "/")
    text = text.replace('name = "demo"', f'name = "{SITE}"')
    text += "\n[incremental]\nrecheck_days = 36500\n"
    path = folder / f"{SITE}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_crawl(
    config: Path, archive: Path, hooks: Path, point: str | None
) -> subprocess.Popen[str]:
    """``zhengwen crawl`` with the kill-test hooks on (and a crash point armed, if given)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), HOOKS_DIR_ENV: str(hooks)}
    env.pop(CRASHPOINT_ENV, None)
    if point is not None:
        env[CRASHPOINT_ENV] = point
    hooks.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "crawler.cli", "crawl", str(config)]
    return subprocess.Popen(
        [*cmd, "--archive", str(archive), "--quiet"],
        cwd=archive.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the extraction workers), from /proc."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """The pids still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p in left if alive(p)]
    return left


def stale_lock(archive: Path) -> bool:
    """The killed run's lock file is still there, naming a process that no longer runs."""
    path = archive / "locks" / f"{SITE}.lock"
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return False
    return bool(info) and not alive(int(info.get("pid", 0)))


@dataclass(slots=True)
class Trial:
    number: int
    moment: str
    point: str | None
    published: int
    edited: int
    killed: bool = False
    """False: the run finished before the moment came (counted, not a kill)."""
    after_requests: int | None = None
    exit_code: int | None = None
    stale_lock: bool = False
    orphan_workers: int = 0
    seconds: float = 0.0
    check: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    error: str = ""


def _wait_for_moment(
    proc: subprocess.Popen[str], hooks: Path, server: PortalServer, after: int | None
) -> bool:
    """Poll until the moment has come (True) or the run ended by itself (False)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        if after is not None:
            if len(server.requests) >= after:
                return True
        elif any(hooks.glob(f"paused-{proc.pid}.json")):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(POLL)
    proc.kill()
    raise TimeoutError(f"the crawl neither reached its moment nor ended in {RUN_TIMEOUT:.0f} s")


def resolve_moment(name: str, rng: random.Random) -> tuple[str, str | None]:
    """(moment, crash point) for a moment or a crash point (``point[@n]``: its n-th hit).

    A moment draws its point and the batch it pauses (the first to `MAX_HIT`-th the run
    writes); a run with fewer batches ends by itself, and is checked like the others.
    """
    if name in MOMENTS:
        points = MOMENTS[name]
        if not points:
            return name, None
        return name, f"{rng.choice(points)}@{rng.randint(1, MAX_HIT)}"
    for moment, points in MOMENTS.items():
        if name.partition("@")[0] in points:
            return moment, name
    raise ValueError(f"unknown moment or crash point {name!r}")


def kill_trial(
    number: int,
    moment: str,
    rng: random.Random,
    portal: Portal,
    server: PortalServer,
    config: Path,
    archive: Path,
    hooks: Path,
    publish: int,
    edit: int = 0,
) -> Trial:
    """Publish ``publish`` articles and edit ``edit`` published ones, start a run, SIGKILL it at
    ``moment`` (a moment of `MOMENTS` or one of their crash points)."""
    for _ in range(publish):
        # Spread over 2020 so that one batch spans several date= partitions.
        when = datetime(2020, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), tzinfo=TZ)
        portal.add_article(published_at=when)
    existing = sorted(a.path for a in portal.articles())
    for path in rng.sample(existing, min(edit, len(existing))):
        portal.edit_article(path)
    moment, point = resolve_moment(moment, rng)
    trial = Trial(number, moment, point, publish, edit)
    after = None
    if point is None:
        # The run fetches robots.txt, the list pages and the articles; kill within them.
        base = len(server.requests)
        trial.after_requests = rng.randint(1, len(existing))
        after = base + trial.after_requests
    started = time.monotonic()
    proc = start_crawl(config, archive, hooks, point)
    try:
        reached = _wait_for_moment(proc, hooks, server, after)
        workers = children(proc.pid)
        if reached and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            trial.killed = True
        _out, err = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    trial.exit_code = proc.returncode
    trial.seconds = round(time.monotonic() - started, 2)
    if not trial.killed and proc.returncode != 0:
        trial.ok, trial.error = False, f"the run failed by itself (exit {proc.returncode}): {err}"
    trial.orphan_workers = len(wait_gone(workers, WORKER_EXIT_TIMEOUT))
    if trial.orphan_workers:
        trial.ok, trial.error = False, f"{trial.orphan_workers} extraction workers kept running"
    trial.stale_lock = stale_lock(archive)
    return trial


@contextmanager
def running_portal(articles: int, seed: int) -> Iterator[tuple[Portal, PortalServer]]:
    portal = Portal.generate(n_articles=articles, seed=seed)
    with serve(portal) as server:
        yield portal, server


def run_trials(
    work: Path,
    trials: int,
    *,
    seed: int = 20201003,
    articles: int = 30,
    publish: int = 6,
    edit: int = 2,
    moments: Sequence[str] = tuple(MOMENTS),
    log: Any = None,
) -> dict[str, Any]:
    """``trials`` kills, the final run and the figures; ``log(line)`` reports progress. Kill
    ``i`` comes at ``moments[i % len(moments)]``: a moment of `MOMENTS` or a crash point; a
    run that ends before its moment is checked, recorded and followed by another try."""
    say = log or (lambda _line: None)
    rng = random.Random(seed)
    archive = work / "archive"
    all_hooks: list[Path] = []
    done: list[Trial] = []
    with running_portal(articles, seed) as (portal, server):
        config = site_config(work, server)
        killed = 0
        number = 0
        while killed < trials and number < MAX_RUNS_PER_KILL * trials:
            number += 1
            # A run that ended before its moment does not count: the moment is tried again.
            moment = moments[killed % len(moments)]
            hooks = work / "hooks" / f"trial-{number:03d}"
            all_hooks.append(hooks)
            first = number == 1
            trial = kill_trial(
                number,
                moment,
                rng,
                portal,
                server,
                config,
                archive,
                hooks,
                0 if first else publish,
                0 if first else edit,
            )
            if trial.exit_code == 4:
                trial.ok, trial.error = False, "the restart refused to start (lock held)"
            check = check_archive(archive, read_acks(all_hooks))
            trial.check = check.summary()
            trial.ok = trial.ok and check.ok
            done.append(trial)
            killed += trial.killed
            say(
                f"trial {number:3d} {moment:13s} {trial.point or f'after {trial.after_requests} requests':26s}"
                f" {'killed' if trial.killed else 'ran to the end'}: sql {check.sql_articles},"
                f" parquet {check.parquet_rows} rows in {check.parquet_files} files,"
                f" {'ok' if trial.ok else 'FAILED: ' + (trial.error or json.dumps(check.summary()))}"
            )
        final_hooks = work / "hooks" / "final"
        all_hooks.append(final_hooks)
        proc = start_crawl(config, archive, final_hooks, None)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        final_exit = proc.returncode
        texts = {a.url(server.url): (a.title, a.body) for a in portal.articles()}
        truth = set(texts)
    acks = read_acks(all_hooks)
    final = check_archive(archive, acks)
    # At the end Parquet also holds what SQL acknowledged (the Parquet writer re-exports what
    # SQL committed and a kill kept out of Parquet). Not the other way round: a text Parquet
    # stored just before a kill, edited on the portal before the restart, never reaches SQL.
    final.lost_parquet = sorted(
        f"{u}/{c[:12]}" for u, c in (acks["sql"] | acks["parquet"]) - final.parquet_keys
    )
    statuses = run_statuses(archive)
    raw_problems = check_raw(archive)
    kills = [t for t in done if t.killed]
    missing_sql = sorted(truth - final.sql_urls)
    missing_parquet = sorted(truth - set(final.parquet_urls))
    # The portal's current text of every article is the SQL archive's current version (a kill
    # must not leave an edit unarchived), and every version SQL knows is in Parquet.
    stale = sorted(
        url
        for url, (title, body) in texts.items()
        if url in final.current
        and (final.current[url][0], tuple(final.current[url][1].splitlines())) != (title, body)
    )
    versions_not_in_parquet = len(final.version_keys - final.parquet_keys)
    final_ok = (
        final_exit == 0
        and final.ok
        and not missing_sql
        and not missing_parquet
        and not stale
        and not versions_not_in_parquet
        and final.sql_urls == truth
        and set(final.parquet_urls) == truth
        and statuses.get("running", 0) == 0
        and not raw_problems
    )
    say(
        f"final run: exit {final_exit}, {len(truth)} portal articles, sql {final.sql_articles},"
        f" parquet {final.parquet_rows} rows; {'ok' if final_ok else 'FAILED'}"
    )
    per_moment = Counter(t.moment for t in kills)
    return {
        "trials": len(kills),
        "runs": len(done) + 1,
        "kills": len(kills),
        "kills_per_moment": {m: per_moment.get(m, 0) for m in MOMENTS},
        "kills_per_point": dict(Counter((t.point or "fetching").partition("@")[0] for t in kills)),
        "runs_finished_before_their_moment": len(done) - len(kills),
        "stale_lock_files_after_kill": sum(1 for t in kills if t.stale_lock),
        "restarts_refused": sum(1 for t in done if t.exit_code == 4),
        "orphan_workers": sum(t.orphan_workers for t in done),
        "articles_in_portal": len(truth),
        "edits": sum(t.edited for t in done),
        "stale_versions": len(stale),
        "acknowledged_sql": len(acks["sql"]),
        "acknowledged_parquet": len(acks["parquet"]),
        "lost": len(set(final.lost_sql) | set(final.lost_parquet))
        + sum(len(t.check["lost_sql"]) + len(t.check["lost_parquet"]) for t in done),
        "duplicated": len(final.duplicated_sql)
        + len(final.duplicated_parquet)
        + sum(len(t.check["duplicated_sql"]) + len(t.check["duplicated_parquet"]) for t in done),
        "unreadable_files": len(final.unreadable) + sum(len(t.check["unreadable"]) for t in done),
        "integrity_failures": len(final.integrity) + sum(1 for t in done if t.check["integrity"]),
        "temp_files_left": final.temp_files,
        "failed_trials": sum(1 for t in done if not t.ok),
        "final": {
            "exit_code": final_exit,
            "ok": final_ok,
            "summary_line": out.strip().splitlines()[0] if out.strip() else err.strip(),
            "missing_sql": missing_sql,
            "missing_parquet": missing_parquet,
            "stale_versions": stale,
            "versions_not_in_parquet": versions_not_in_parquet,
            "article_versions": len(final.version_keys),
            "run_statuses": dict(statuses),
            "raw_problems": raw_problems,
            **final.summary(),
        },
        "trial_details": [asdict(t) for t in done],
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--trials", type=int, default=24, help="kills, each followed by a restart (default 24)"
    )
    ap.add_argument("--seed", type=int, default=20201003)
    ap.add_argument("--articles", type=int, default=30, help="articles before the first trial")
    ap.add_argument("--publish", type=int, default=6, help="articles published per later trial")
    ap.add_argument("--edit", type=int, default=2, help="articles edited per later trial")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure as JSON")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = ap.parse_args(argv)
    if args.trials < 1:
        ap.error("--trials must be at least 1")

    def say(line: str) -> None:
        print(line, flush=True)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="zhengwen-kill-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        figures = run_trials(
            work,
            args.trials,
            seed=args.seed,
            articles=args.articles,
            publish=args.publish,
            edit=args.edit,
            log=say,
        )
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["machine"] = bench_machine.describe()
    figures["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures["command"] = "python bench/kill.py " + " ".join(argv or sys.argv[1:])
    keys = (
        "trials",
        "kills",
        "kills_per_moment",
        "kills_per_point",
        "runs_finished_before_their_moment",
        "articles_in_portal",
        "edits",
        "stale_versions",
        "acknowledged_sql",
        "acknowledged_parquet",
        "lost",
        "duplicated",
        "unreadable_files",
        "integrity_failures",
        "stale_lock_files_after_kill",
        "restarts_refused",
        "orphan_workers",
        "temp_files_left",
        "failed_trials",
        "seconds",
    )
    for key in ("runs", *keys):
        print(f"{key}: {figures[key]}")
    print(f"final run ok: {figures['final']['ok']} ({figures['final']['summary_line']})")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return 0 if figures["failed_trials"] == 0 and figures["final"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
