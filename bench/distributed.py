"""Distributed crawling benchmark (issue 17): articles per second with 1, 2, 3 and 4 workers.

    python bench/distributed.py                    # 1,000 articles, 3 runs, table into docs/
    python bench/distributed.py --articles 60 --workers 1,2 --cpu-workers 2 --runs 1 \\
        --latency 0.05 --no-doc --json out.json    # smoke run
    python bench/distributed.py --report out.json  # the table of a saved run

A real portal answers a page after some hundred milliseconds: a crawl of it is bound by how many
requests it keeps in flight, not by the CPU, and more workers should mean proportionally more
articles per second, as long as the machine has CPU to spare. The static benchmark portal
(`bench/portal_static.py`) is served with ``--latency`` (200 ms) and crawled, each time into a
fresh PostgreSQL database and under a fresh Redis prefix:

- once by ``zhengwen crawl`` (one process, the same requests in flight as one worker): the CPU
  baseline;
- by 1, 2, 3 and 4 ``zhengwen worker`` processes, started and idle (registered in Redis) before
  the run is enqueued. Wall time runs from the enqueue to the run's end in ``crawl_runs``.

CPU is user + system of the processes and of every child they reaped (the extraction workers),
from ``wait4`` when each process exits; the workers are stopped (SIGTERM) as soon as the run is
recorded. Redis memory per queued request comes from pushing real request payloads (sampled from
a run's queue: what the scheduler encoded) into a `LeaseQueue`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import crawl as bench_crawl  # noqa: E402
from bench import portal_static  # noqa: E402

DOC = bench_crawl.DOC
BEGIN, END = "<!-- distributed:begin -->", "<!-- distributed:end -->"
HEADING = "## Distributed crawling (`bench/distributed.py`)"
PG_ADMIN_URL = os.environ.get(
    "ZHENGWEN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("ZHENGWEN_BENCH_REDIS", "redis://127.0.0.1:6379/0")
#: How often the archive and the run record are read while a run goes on.
POLL_SECONDS = 0.1
#: A run slower than this per article is stuck, not slow.
MAX_SECONDS_PER_ARTICLE = 2.0
#: Payloads sampled from a run's queue, and copies of them pushed for the memory figure.
PAYLOAD_SAMPLE = 500
QUEUE_ITEMS = 20_000
#: Before each measurement the machine should be this idle (other jobs would skew CPU figures).
QUIET_BUSY = 0.25
QUIET_WAIT_SECONDS = 60.0
LOCAL = "local"


def _zw(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }


# --- services -----------------------------------------------------------------------------------


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one measurement, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"zw_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def drop_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)
    client.close()


class Progress:
    """Articles stored and the run's status, read from the run's database."""

    def __init__(self, db_url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(db_url, isolation_level="AUTOCOMMIT", pool_size=1)

    def articles(self) -> int:
        """Articles stored; 0 before the crawl created the schema."""
        from sqlalchemy import text
        from sqlalchemy.exc import ProgrammingError

        try:
            with self.engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM articles")).scalar_one())
        except ProgrammingError:
            return 0

    def run(self, run_id: str) -> tuple[str, dict[str, Any]]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            status, counters = conn.execute(
                text("SELECT status, counters FROM crawl_runs WHERE id = :i"), {"i": run_id}
            ).one()
        return str(status), dict(counters or {})

    def close(self) -> None:
        self.engine.dispose()


def wait_quiet(limit: float = QUIET_WAIT_SECONDS) -> float:
    """Wait (up to ``limit`` s) until the machine is mostly idle over one second; returns the
    busy share last seen, which the report keeps (another job running skews CPU figures)."""
    deadline = time.monotonic() + limit
    while True:
        before = bench_crawl._cpu_ticks()
        time.sleep(1.0)
        busy = bench_crawl._machine_share(before, bench_crawl._cpu_ticks())["busy"]
        if busy <= QUIET_BUSY or time.monotonic() > deadline:
            return busy


# --- worker processes ---------------------------------------------------------------------------


@dataclass
class Workers:
    """``zhengwen worker`` processes of one measurement, each with its own archive folder."""

    work: Path
    redis_url: str
    prefix: str
    db_url: str
    concurrency: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cpu_exit: float = 0.0

    def start(self, n: int) -> None:
        for i in range(n):
            args = ["worker", "--redis", self.redis_url, "--prefix", self.prefix]
            args += ["--db", self.db_url, "--archive", str(self.work / f"w{i}")]
            args += ["--concurrency", str(self.concurrency)]
            with open(self.work / f"w{i}.log", "ab") as log:
                self.procs.append(
                    subprocess.Popen(_zw(*args), cwd=ROOT, env=_env(), stdout=log, stderr=log)
                )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Every worker has said it is alive in Redis: it is idle, waiting for runs."""
        from crawler.distributed.cluster import Cluster

        cluster = Cluster.from_url(self.redis_url, self.prefix)
        pids = {p.pid for p in self.procs}
        deadline = time.monotonic() + timeout
        while {int(w.get("pid", 0)) for w in cluster.workers()} < pids:
            dead = [p.pid for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start (dead: {dead}); see {self.work}/w*.log")
            time.sleep(0.1)
        cluster.r.close()

    def cpu_now(self) -> float:
        """CPU the workers (and the children they reaped) spent so far."""
        import psutil

        total = 0.0
        for p in self.procs:
            t = psutil.Process(p.pid).cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        return total

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM each worker and reap it; ``cpu_exit`` = their CPU, children included."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs:
            while True:  # bounded by the deadline, then SIGKILL
                pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    p.returncode = os.waitstatus_to_exitcode(status)
                    self.cpu_exit += usage.ru_utime + usage.ru_stime
                    break
                if time.monotonic() > deadline:
                    p.kill()
                time.sleep(0.05)


# --- one measurement ----------------------------------------------------------------------------


def timeline(samples: Sequence[tuple[float, int]], total: int) -> dict[str, float | None]:
    """Start-up and steady figures from (seconds since start, articles stored) readings."""
    if total <= 0 or not samples:
        return {"first_s": None, "last_s": None, "after_startup_per_s": None, "steady_per_s": None}

    def when(k: float) -> tuple[float, int]:
        return next((t, c) for t, c in samples if c >= k)

    first_t, first_c = when(1)
    last_t, _ = when(total)
    after = (total - first_c) / (last_t - first_t) if last_t > first_t else None
    (t10, c10), (t90, c90) = when(0.1 * total), when(0.9 * total)
    steady = (c90 - c10) / (t90 - t10) if t90 > t10 else None
    return {
        "first_s": first_t,
        "last_s": last_t,
        "after_startup_per_s": after,
        "steady_per_s": steady,
    }


def _figures(
    articles: int, wall: float, cpu: float, samples: list[tuple[float, int]]
) -> dict[str, Any]:
    return {
        "articles": articles,
        "wall": wall,
        "articles_per_s": articles / wall,
        "cpu": cpu,
        "cpu_per_article": cpu / max(1, articles),
        **timeline(samples, articles),
        "samples": [(round(t, 2), c) for t, c in samples],
    }


def measure_local(
    server: bench_crawl.Server, config: Path, work: Path, opts: argparse.Namespace
) -> dict[str, Any]:
    """``zhengwen crawl`` in one process into a fresh database: the CPU baseline."""
    with fresh_database(opts.pg) as db_url:
        progress = Progress(db_url)
        busy_before = wait_quiet(opts.quiet_wait)
        server_before = server.cpu()
        try:
            m = bench_crawl.measure(
                _zw(
                    "crawl",
                    str(config),
                    "--db",
                    db_url,
                    "--archive",
                    str(work / "local"),
                    "--quiet",
                ),
                work / "local.log",
                timeout=300 + opts.articles * MAX_SECONDS_PER_ARTICLE,
                counter=progress.articles,
            )
            articles = progress.articles()
        finally:
            progress.close()
    if m.returncode != 0:
        log = (work / "local.log").read_text(errors="replace")
        raise RuntimeError(f"zhengwen crawl failed ({m.returncode}): {log[-2000:]}")
    summary = (work / "local.log").read_text(errors="replace")
    pages = re.search(r"fetched (\d+) pages", summary)
    return _figures(articles, m.wall, m.cpu, [(t, c) for t, _rss, c in m.samples]) | {
        "processes": 1,
        "cpu_before_enqueue": None,
        "pages": int(pages.group(1)) if pages else None,
        "machine_busy": m.machine["busy"],
        "own_share": m.cpu / (m.wall * bench_crawl.machine()["cores"]),
        "server_cpu": server.cpu() - server_before,
        "busy_before": busy_before,
        "peak_rss_mb": m.peak_rss / bench_crawl.MB,
    }


def measure_cluster(
    n: int,
    server: bench_crawl.Server,
    config: Path,
    work: Path,
    opts: argparse.Namespace,
    payloads: list[bytes],
) -> dict[str, Any]:
    """``n`` workers, idle and registered, then one enqueued run, timed to its end."""
    from crawler.config import load_site_file
    from crawler.distributed.cluster import Cluster, enqueue

    prefix = f"zw_bench_{uuid.uuid4().hex[:10]}"
    folder = work / f"cluster-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    site = load_site_file(config)
    with fresh_database(opts.pg) as db_url:
        workers = Workers(folder, opts.redis, prefix, db_url, opts.concurrency)
        progress = Progress(db_url)
        cluster = Cluster.from_url(opts.redis, prefix)
        try:
            workers.start(n)
            workers.wait_ready()
            busy_before = wait_quiet(opts.quiet_wait)
            cpu_ready = workers.cpu_now()
            server_before, ticks = server.cpu(), bench_crawl._cpu_ticks()
            started = time.monotonic()
            run_id = enqueue(cluster, site, db_url, folder / "enqueue", redis_url=opts.redis)
            queued: list[tuple[float, int, int, int]] = []
            samples, status, counters = _follow(
                run_id, started, progress, cluster, opts, payloads, workers, queued
            )
            wall = time.monotonic() - started
            machine = bench_crawl._machine_share(ticks, bench_crawl._cpu_ticks())
            server_cpu = server.cpu() - server_before
            articles = progress.articles()
        finally:
            workers.stop()
            progress.close()
            cluster.r.close()
            drop_prefix(opts.redis, prefix)
    if status != "ok":
        raise RuntimeError(f"the run of {n} workers ended {status}; see {folder}/w*.log")
    cores = bench_crawl.machine()["cores"]
    return _figures(articles, wall, workers.cpu_exit, samples) | {
        "processes": n,
        "cpu_before_enqueue": cpu_ready,
        "cpu_from_enqueue": workers.cpu_exit - cpu_ready,
        "cpu_from_enqueue_per_article": (workers.cpu_exit - cpu_ready) / max(1, articles),
        "pages": int(counters.get("pages_fetched", 0)) or None,
        "machine_busy": machine["busy"],
        "own_share": (workers.cpu_exit - cpu_ready) / (wall * cores),
        "server_cpu": server_cpu,
        "busy_before": busy_before,
        "joins": _joins(folder, n),
        "all_joined_s": next((t for t, m, _, _ in queued if m >= n), None),
        "queue": queued,
    }


def _follow(
    run_id: str,
    started: float,
    progress: Progress,
    cluster: Any,
    opts: argparse.Namespace,
    payloads: list[bytes],
    workers: Workers,
    queued: list[tuple[float, int, int, int]],
) -> tuple[list[tuple[float, int]], str, dict[str, Any]]:
    """Poll the run until ``crawl_runs`` records its end; (articles stored over time, status,
    counters). Appends (seconds, workers attached, requests queued, leased) to ``queued``, and
    samples the queue's payloads once while it is well filled."""
    deadline = started + 300 + opts.articles * MAX_SECONDS_PER_ARTICLE
    samples: list[tuple[float, int]] = []
    queue = cluster.queue(run_id)
    while True:  # bounded by the deadline
        status, counters = progress.run(run_id)
        now = time.monotonic() - started
        samples.append((now, progress.articles()))
        if status != "running":
            return samples, status, counters
        members = len(cluster.r.hkeys(cluster.run_key(run_id, "members")))
        queued.append((round(now, 2), members, queue.pending(run_id), queue.in_flight(run_id)))
        if not payloads:
            least = min(20, max(1, opts.articles // 4))
            payloads.extend(sample_payloads(cluster, run_id, least))
        dead = [p.pid for p in workers.procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} stuck (dead workers: {dead})")
        time.sleep(POLL_SECONDS)


def _joins(folder: Path, n: int) -> int:
    """Workers that joined the run (each logs it once)."""
    return sum("Joined run" in (folder / f"w{i}.log").read_text(errors="replace") for i in range(n))


# --- Redis memory per queued request ------------------------------------------------------------


def sample_payloads(cluster: Any, run_id: str, least: int = 20) -> list[bytes]:
    """Requests as the scheduler encoded them, read from the run's queue once it holds at least
    ``least`` (the seed, a ``data:`` URL, is left out)."""
    queue = cluster.queue(run_id)
    if queue.pending(run_id) < least:
        return []
    key = next(k for k in queue.keys() if k.endswith(":payloads"))
    got = cluster.r.hrandfield(key, PAYLOAD_SAMPLE, withvalues=True) or []
    values = [v for v in got[1::2] if isinstance(v, bytes)]
    return [v for v in values if b'"url":"data:' not in v]


def queue_memory(redis_url: str, payloads: Sequence[bytes], n: int) -> dict[str, Any]:
    """Push ``n`` real payloads (cycled, each at its own priority) into a fresh leased queue:
    Redis ``used_memory`` before and after, and the keys' own ``MEMORY USAGE``, per request;
    the same for ``n`` dupefilter fingerprints (8 bytes each, one set)."""
    import redis

    from crawler.distributed.leases import LeaseQueue

    client = redis.Redis.from_url(redis_url)
    prefix = f"zw_bench_mem_{uuid.uuid4().hex[:10]}"
    try:
        warm = LeaseQueue(client, prefix + ":warm")  # loads the scripts: not per request
        warm.push("job", list(payloads[:10]))
        warm.clear()
        by_priority: dict[int, list[bytes]] = {}
        for i in range(n):
            payload = payloads[i % len(payloads)]
            by_priority.setdefault(int(json.loads(payload).get("priority", 0)), []).append(payload)
        queue = LeaseQueue(client, prefix)
        before = _used_memory(client)
        for priority, items in by_priority.items():
            queue.push("job", items, priority=priority)
        after = _used_memory(client)
        keys = sum(int(client.memory_usage(k, samples=0) or 0) for k in queue.keys())
        fps = f"{prefix}:dupefilter"
        before_fp = _used_memory(client)
        for start in range(0, n, 1000):
            client.sadd(fps, *(os.urandom(8) for _ in range(min(1000, n - start))))
        after_fp = _used_memory(client)
        fp_keys = int(client.memory_usage(fps, samples=0) or 0)
        return {
            "items": n,
            "payload_bytes": statistics.mean(len(p) for p in payloads),
            "used_memory_per_request": (after - before) / n,
            "keys_per_request": keys / n,
            "used_memory_per_fingerprint": (after_fp - before_fp) / n,
            "keys_per_fingerprint": fp_keys / n,
        }
    finally:
        drop_prefix(redis_url, prefix)
        client.close()


def _used_memory(client: Any) -> int:
    return int(client.info("memory")["used_memory"])


# --- the report ---------------------------------------------------------------------------------


def label(config: str) -> str:
    if config == LOCAL:
        return "`zhengwen crawl` (1 process)"
    return f"{config} worker" + ("s" if config != "1" else "")


def derive(run: dict[str, dict[str, Any]], cores: int) -> None:
    """Ratios of one repetition, against its own 1-worker and single-process figures, and the
    share of the machine that neither the crawler nor the portal used."""
    one, local = run.get("1"), run.get(LOCAL)
    for config, r in run.items():
        server_share = r["server_cpu"] / (r["wall"] * cores)
        r["other_busy"] = max(0.0, r["machine_busy"] - r["own_share"] - server_share)
        if one is not None and config != LOCAL:
            for key in ("articles_per_s", "after_startup_per_s", "steady_per_s"):
                if r.get(key) and one.get(key):
                    r[key + "_x1"] = r[key] / one[key]
        if local is not None and config != LOCAL:
            r["cpu_x_local"] = r["cpu_per_article"] / local["cpu_per_article"]
            r["cpu_from_enqueue_x_local"] = (
                r["cpu_from_enqueue_per_article"] / (local["cpu_per_article"])
            )


ROWS: tuple[tuple[str, str, str], ...] = (
    ("articles", "articles stored", "d"),
    ("pages", "pages fetched", "d"),
    (
        "wall",
        "wall time (s): workers from the enqueue to the run's end, crawl from its start",
        "1f",
    ),
    ("articles_per_s", "**articles/s, end to end**", "1f"),
    ("articles_per_s_x1", "**× 1 worker** (targets: 2 workers ≥ 1.8, 4 workers ≥ 3.4)", "2f"),
    ("all_joined_s", "every worker attached to the run after (s)", "1f"),
    ("first_s", "first article stored after (s)", "1f"),
    ("last_s", "last article stored after (s)", "1f"),
    ("after_startup_per_s", "articles/s from the first article stored to the last", "1f"),
    ("after_startup_per_s_x1", "× 1 worker", "2f"),
    ("steady_per_s", "articles/s from 10 % to 90 % of the articles stored", "1f"),
    ("steady_per_s_x1", "× 1 worker", "2f"),
    ("cpu", "CPU of all crawler processes, start to exit (s)", "1f"),
    ("cpu_before_enqueue", "of which before the enqueue (worker start-up, idle) (s)", "1f"),
    ("cpu_per_article", "**CPU per article** (ms)", "ms"),
    ("cpu_x_local", "**÷ `zhengwen crawl`** (target with 3 workers ≤ 1.15)", "2f"),
    ("cpu_from_enqueue_per_article", "CPU per article from the enqueue on (ms)", "ms"),
    ("cpu_from_enqueue_x_local", "÷ `zhengwen crawl`", "2f"),
    ("own_share", "crawler CPU ÷ (wall × cores)", "2f"),
    ("machine_busy", "machine busy during the run (all processes)", "2f"),
    ("other_busy", "of which neither crawler nor portal (PostgreSQL, Redis, other jobs)", "2f"),
    ("busy_before", "machine busy just before the run (other jobs)", "2f"),
    ("server_cpu", "portal server CPU during the run (s)", "1f"),
)


def median_run(runs: Sequence[dict[str, dict[str, Any]]], config: str) -> dict[str, Any]:
    present = [r[config] for r in runs if config in r]
    return {key: bench_crawl.median_of(present, key) for key, _, _ in ROWS}


def configs_of(runs: Sequence[dict[str, dict[str, Any]]]) -> list[str]:
    found = {c for r in runs for c in r}
    return ([LOCAL] if LOCAL in found else []) + sorted(found - {LOCAL}, key=int)


def table(saved: dict[str, Any]) -> str:
    meta, runs, memory = saved["meta"], saved["runs"], saved["memory"]
    hw = meta["machine"]
    configs = configs_of(runs)
    medians = {c: median_run(runs, c) for c in configs}
    lines = [
        f"Machine: {hw['cpu']}, {hw['cores']} cores, {hw['memory_gb']} GB, Python "
        f"{hw['python']}, {hw['system']}; PostgreSQL and Redis on the same machine. Portal: "
        f"{meta['articles']:,} articles, {meta['list_pages']} list pages, article pages "
        f"{meta['kb_min']:.0f}-{meta['kb_max']:.0f} KB, each answer after "
        f"{meta['latency'] * 1000:.0f} ms. {meta['concurrency']} request(s) in flight per worker "
        f"(and for `zhengwen crawl`). Medians of {len(runs)} runs; ratios are each run's own, "
        f"then their median. Run on {meta['date']} at {meta['commit']}.",
        "",
        "| | " + " | ".join(label(c) for c in configs) + " |",
        "|---|" + "---:|" * len(configs),
    ]
    for key, text, kind in ROWS:
        cells = [bench_crawl._fmt(medians[c].get(key), kind) for c in configs]
        if all(cell == "-" for cell in cells):
            continue
        lines.append(f"| {text} | " + " | ".join(cells) + " |")
    lines += ["", "End-to-end articles/s of each run:", ""]
    lines += ["| run | " + " | ".join(label(c) for c in configs) + " |"]
    lines += ["|---|" + "---:|" * len(configs)]
    for i, run in enumerate(runs, 1):
        cells = [bench_crawl._fmt(run.get(c, {}).get("articles_per_s"), "1f") for c in configs]
        lines.append(f"| {i} | " + " | ".join(cells) + " |")
    if memory:
        m = {k: statistics.median(x[k] for x in memory) for k in memory[0]}
        lines += [
            "",
            f"Redis memory per queued request ({int(m['items']):,} real request payloads "
            f"sampled from a run's queue, mean {m['payload_bytes']:.0f} bytes of JSON, pushed "
            f"into a `LeaseQueue`): **{m['used_memory_per_request']:.0f} bytes** of "
            f"`used_memory` ({m['keys_per_request']:.0f} bytes by `MEMORY USAGE` of the queue's "
            f"keys). The run's dupefilter adds {m['used_memory_per_fingerprint']:.0f} bytes "
            f"({m['keys_per_fingerprint']:.0f} by `MEMORY USAGE`) per request seen.",
        ]
    return "\n".join(lines)


def verdicts(saved: dict[str, Any]) -> list[str]:
    """The issue's targets, each with the measured figure (end to end) and met or not."""
    runs = saved["runs"]
    out = []

    def med(config: str, key: str) -> float | None:
        value = median_run(runs, config).get(key)
        return float(value) if value is not None else None

    def each(config: str, key: str) -> str:
        return ", ".join(f"{r[config][key]:.2f}" for r in runs if key in r.get(config, {}))

    for n, target in (("2", 1.8), ("4", 3.4)):
        x = med(n, "articles_per_s_x1")
        if x is not None:
            busy = med(n, "machine_busy") or 0.0
            out.append(
                f"- {n} workers ≥ {target}× one worker: {x:.2f}× end to end (runs: "
                f"{each(n, 'articles_per_s_x1')}; {'met' if x >= target else 'not met'}; "
                f"machine {busy:.0%} busy)"
            )
    cpu = str(saved["meta"]["cpu_workers"])
    x = med(cpu, "cpu_x_local")
    if x is not None:
        out.append(
            f"- CPU per article with {cpu} workers ≤ 1.15× `zhengwen crawl`: {x:.2f}× (runs: "
            f"{each(cpu, 'cpu_x_local')}; {'met' if x <= 1.15 else 'not met'})"
        )
    return out


def write_doc(text: str, method: str) -> None:
    """Put the table between this benchmark's markers, under its heading (added at the end of
    docs/benchmarks.md the first time, with the method); the prose around it is kept."""
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if BEGIN not in doc or END not in doc:
        doc = doc.rstrip() + f"\n\n{HEADING}\n\n{method}\n{BEGIN}\n{END}\n"
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


METHOD = """\
**Command:** `.venv/bin/python bench/distributed.py` (1,000 articles, 200 ms, 1, 2, 3 and 4
workers, 3 runs; PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 with trust auth, or
`--pg`/`--redis`; needs psutil, the `bench` or `dev` extra). `--no-doc` leaves this file alone,
`--json F` saves every figure (time series included) and `--report F` rewrites the table from it.

**Portal:** the pages of `bench/crawl.py` (`bench/portal_static.py`: the demo portal padded to
30-80 KB a page, 50 articles a list page), served with `--latency 0.2`: every answer leaves 200 ms
after its request arrived, from a timer on the server's event loop, so waiting requests hold up
nothing else.

**Requests in flight: one per worker** (`zhengwen worker --concurrency 1`), and one for
`zhengwen crawl` (its site config says `concurrency = 1`). A worker then fetches about 4.5 pages a
second and spends about 50 ms of CPU per article, a quarter of one core; four workers use about
one of the two cores, so the CPU is not what limits them. With two in flight, four workers would
need about 2.2 cores of the machine's 2, and the figure would measure the machine, not the
scaling. The workers' site config says `concurrency = 4` (workers × 1), so that the cluster's
politeness budget in Redis, which holds for all workers together, never binds; each worker's own
`--concurrency` does. `zhengwen crawl` keeps AutoThrottle, as every local crawl does (with
`download_delay = 0` it does not slow a one-request crawl measurably: 4.7 articles/s against
the one worker's 4.5).

**Each measurement** gets a new PostgreSQL database (`CREATE DATABASE`, dropped afterwards), a new
Redis key prefix (its keys deleted afterwards) and new archive folders. The workers are started
and left idle until each has registered in Redis; then the run is enqueued (in the benchmark's
process, `crawler.distributed.cluster.enqueue`, what `zhengwen enqueue` calls) and its wall time
runs until `crawl_runs.status` is no longer `running` (read every 0.1 s, with the count of
`articles`). `zhengwen crawl`'s wall time is its process's, start-up included. Articles/s =
articles stored ÷ wall time; "from the first article stored to the last" and "from 10 % to 90 %"
leave out the start (up to the first stored article: a worker's join, the spider's start,
robots.txt, the home page, the deferred sitemap probes, and the SQL writer's 2 s batch) and the
end (from the last article stored to the run's record). Before each measurement the benchmark
waits (up to 120 s) for a quiet machine.

**CPU** is user + system time from `wait4` when each process exits: the crawler or worker process
and the children it reaped (its extraction processes, one per core). The workers are stopped
(SIGTERM) as soon as the run is recorded; "before the enqueue" is what they had spent by then
(imports, registering, idling), read with psutil. The machine's busy share over the run comes from
/proc/stat; what neither the crawler nor the portal server spent there is PostgreSQL, Redis and
anything else running.

**Redis memory per queued request:** up to 500 request payloads are read from a 1-worker run's
queue (`HRANDFIELD`, once at least 20 are queued: the JSON the scheduler encoded), then 20,000 of
them, cycled, are pushed at their own priorities into a `LeaseQueue` under a fresh prefix;
`used_memory` (`INFO memory`) after minus before, divided by 20,000, and `MEMORY USAGE` of the
queue's keys beside it. The dupefilter figure is the same for 20,000 8-byte fingerprints in one
set.

Medians over the runs; a ratio is computed within each run (against that run's 1-worker or
`zhengwen crawl` figure), then its median is taken. Targets (issue 17): 2 workers ≥ 1.8× and
4 workers ≥ 3.4× the articles/s of one, while the CPU is not the limit; CPU per article with
3 workers ≤ 1.15× `zhengwen crawl`'s; Redis memory per queued request reported.
"""


def report(saved: dict[str, Any], doc: bool) -> None:
    for run in saved["runs"]:
        derive(run, saved["meta"]["machine"]["cores"])
    text = table(saved) + "\n\n" + "\n".join(verdicts(saved))
    print()
    print(text)
    if doc:
        write_doc(text, METHOD)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")


# --- main ---------------------------------------------------------------------------------------


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def _workers_list(text: str) -> list[int]:
    try:
        values = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of worker counts: {text!r}") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("worker counts must be positive")
    return values


def _say(configs: str, result: dict[str, Any]) -> str:
    first = result["first_s"]
    return (
        f"  {configs}: {result['articles']} articles in {result['wall']:.1f}s = "
        f"{result['articles_per_s']:.1f}/s (first after {first or 0:.1f}s), "
        f"{result['cpu_per_article'] * 1000:.1f} ms CPU/article, machine "
        f"{result['machine_busy']:.0%} busy"
    )


def measure_all(opts: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    hw = bench_crawl.machine()
    folder = opts.work / f"portal-{opts.articles}-{opts.seed}"
    say(f"building the portal ({opts.articles} articles) in {folder} ...")
    index = portal_static.build(folder, opts.articles, opts.seed)
    counts = sorted(set(opts.workers) | ({opts.cpu_workers} if opts.cpu_workers else set()))
    meta = bench_crawl.portal_meta(index) | {
        "machine": hw,
        "latency": opts.latency,
        "concurrency": opts.concurrency,
        "workers": counts,
        "cpu_workers": opts.cpu_workers,
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit(),
    }
    work = opts.work / f"runs-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    server = bench_crawl.Server(folder, latency=opts.latency)
    runs: list[dict[str, dict[str, Any]]] = []
    memory: list[dict[str, Any]] = []
    payloads: list[bytes] = []
    try:
        # The cluster's budget is the site's concurrency for all workers together: large enough
        # that it never binds, so each worker's --concurrency is what limits it.
        cluster_config = bench_crawl.site_config(
            work / "cluster.toml", server.url, opts.concurrency * max(counts)
        )
        local_config = bench_crawl.site_config(work / "local.toml", server.url, opts.concurrency)
        for i in range(1, opts.runs + 1):
            run: dict[str, dict[str, Any]] = {}
            # Archive folders of their own each time: a folder whose Parquet already holds the
            # portal's articles (an earlier run's) would skip writing them, and cost less.
            run_work = work / f"run-{i}"
            run_work.mkdir()
            if not opts.no_local:
                say(f"run {i}/{opts.runs}: zhengwen crawl (one process) ...")
                run[LOCAL] = measure_local(server, local_config, run_work, opts)
                say(_say("zhengwen crawl", run[LOCAL]))
            for n in counts:
                say(f"run {i}/{opts.runs}: {n} worker(s) ...")
                run[str(n)] = measure_cluster(n, server, cluster_config, run_work, opts, payloads)
                say(_say(f"{n} worker(s)", run[str(n)]))
            if not opts.keep:
                shutil.rmtree(run_work, ignore_errors=True)
            derive(run, hw["cores"])
            runs.append(run)
            if payloads:
                memory.append(queue_memory(opts.redis, payloads, opts.queue_items))
                say(
                    f"  Redis: {memory[-1]['used_memory_per_request']:.0f} bytes per queued "
                    f"request ({len(payloads)} payloads sampled)"
                )
    finally:
        server.stop()
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    return {"meta": meta, "runs": runs, "memory": memory}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=1000, help="articles in the portal (1000)")
    ap.add_argument("--latency", type=float, default=0.2, help="seconds before each answer (0.2)")
    ap.add_argument(
        "--workers", type=_workers_list, default=[1, 2, 4], help="worker counts (1,2,4)"
    )
    ap.add_argument(
        "--cpu-workers",
        type=int,
        default=3,
        help="the worker count whose CPU per article is compared with zhengwen crawl (3; 0: none)",
    )
    ap.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="requests in flight per worker, and for zhengwen crawl (1: see docs/benchmarks.md)",
    )
    ap.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    ap.add_argument("--seed", type=int, default=20201003)
    ap.add_argument("--queue-items", type=int, default=QUEUE_ITEMS, help=argparse.SUPPRESS)
    ap.add_argument("--pg", default=PG_ADMIN_URL, help="PostgreSQL URL of a database to admin from")
    ap.add_argument("--redis", default=REDIS_URL, help="Redis URL")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=QUIET_WAIT_SECONDS,
        help="seconds to wait at most for an idle machine before each measurement",
    )
    ap.add_argument("--no-local", action="store_true", help="skip the zhengwen crawl baseline")
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "zhengwen-bench-distributed",
        help="where the portal (kept, reused) and the archives (deleted) go",
    )
    ap.add_argument("--keep", action="store_true", help="keep the archives and worker logs")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure as JSON")
    ap.add_argument("--report", type=Path, default=None, metavar="JSON", help="table of a --json")
    opts = ap.parse_args(argv)
    if opts.report is not None:
        report(json.loads(opts.report.read_text(encoding="utf-8")), doc=not opts.no_doc)
        return 0
    if min(opts.articles, opts.runs, opts.concurrency) < 1 or opts.latency < 0:
        ap.error("--articles, --runs and --concurrency must be positive, --latency not negative")
    saved = measure_all(opts, lambda line: print(line, flush=True))
    if opts.json is not None:
        opts.json.write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")
    report(saved, doc=not opts.no_doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
