"""Crawl benchmark: how close a full zhengwen crawl comes to the cost of fetching plus extracting.

    python bench/crawl.py                          # 5,000 articles, 3 runs, table into docs/
    python bench/crawl.py --pages 50000 --runs 1   # memory mode: RSS at 10k vs at 50k articles
    python bench/crawl.py --pages 30 --runs 1 --no-doc --json out.json   # smoke run

A crawl of a portal costs at least what fetching its pages costs (f: CPU seconds per article
page of a Scrapy crawl that does nothing with the pages) plus what extracting them costs (e: CPU
seconds per page of plain ``trafilatura.extract``). On a machine with ``cores`` cores the best a
crawler can do is ``cores / (f + e)`` articles per second; the *pipeline efficiency* is what the
full zhengwen crawl (extraction pool, validation, dedupe, Parquet and SQL writes) reaches of that,
and ``CPU per article / (f + e)`` is what it spends beyond it. Both figures come from the same
portal, the same server and the same concurrency settings, so the comparison holds on any machine.

The portal (``bench/portal_static.py``) is the demo portal's pages padded to 30-80 KB, served
pre-rendered from a separate process whose CPU is measured and kept out of the crawler's figures.
CPU of a crawl is the crawler process plus all its children (extraction workers) from
``wait4``'s rusage; memory is the sum of RSS over the crawl's process tree, sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import machine as bench_machine  # noqa: E402
from bench import portal_static  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- crawl:begin -->", "<!-- crawl:end -->"
HEADING = "## Crawl throughput and memory (`bench/crawl.py`)"
SITE = "benchportal"
#: Requests in flight. zhengwen's global CONCURRENT_REQUESTS (16) caps a site's concurrency
#: anyway; on loopback 16 keeps every core busy while pages wait on extraction.
CONCURRENCY = 16
SAMPLE_SECONDS = 0.2
COUNT_SECONDS = 1.0
#: A crawl that takes longer than this per article is stuck, not slow.
MAX_SECONDS_PER_ARTICLE = 1.0
MB = 1024 * 1024

METHOD = f"""\
**Command:** `.venv/bin/python bench/crawl.py --pages 5000 --runs 3` (needs the `bench` or `dev`
extra for psutil). `--pages 50000 --runs 1` adds the memory figures at 50,000 articles;
`--memory-only` skips f and e, `--crawl-max-pages M` stops the crawl early (a shorter look at the
memory trend); `--no-doc` leaves this file alone; `--json F` saves every figure and
`--report F` rewrites a table from such a file.

**Portal:** `bench/portal_static.py` renders N articles of the demo portal (`crawler.demo`: GBK
pages declared gb2312, 来源/日期 info line, 导读, byline, editor line), built from demo portals of
{portal_static.CHUNK} articles with seeds of their own because `Portal.generate` is quadratic,
and pads each page, deterministically, to {portal_static.MIN_KB}-{portal_static.MAX_KB} KB with
what real portals carry: inline CSS and JS (ad slots, analytics, embedded JSON of headlines),
long sidebars of headline links, a comment widget and a footer link farm. Section list pages
({portal_static.PER_PAGE} articles each, the demo's full pager) link to the articles; the home
page links to the sections. The pages are rendered once into a file and served from an mmap by
a small asyncio HTTP/1.1 server (keep-alive) in its own process on 127.0.0.1; its CPU is
measured and reported, never counted as the crawler's.

**Measures, each run:**
- *f*, fetch cost: a minimal Scrapy spider in the benchmark with the same discovery (home → list
  pages and pagination → article pages, by the same URL patterns) and zhengwen's Scrapy
  settings for concurrency, delay, AutoThrottle, robots.txt, retries and timeouts, whose
  article callback does nothing. CPU seconds of its process (startup included) per article page.
- *e*, extraction cost: plain `trafilatura.extract(html, url=url)` in one process over an evenly
  spaced sample of the article pages (500 by default); CPU seconds per page. zhengwen's own
  `crawler.extract.extract` on the same sample is shown beside it, for the analysis.
- the full crawl: `python -m crawler.cli crawl CONFIG --archive TMP --quiet` in a subprocess, a
  fresh archive each run, with a site config for the server (`allow_private`,
  `download_delay = 0`, `concurrency = {CONCURRENCY}`, robots.txt obeyed, default extraction
  workers: one per core). Articles/s = articles stored ÷ wall time of the process (startup and
  shutdown included); CPU per article = user + system CPU of the crawler and all its children
  (the extraction workers, from `wait4`) ÷ articles stored; peak RSS = the largest sum of RSS
  over the crawl's process tree, sampled every {SAMPLE_SECONDS} s (a shared page counts once per
  process; PSS, which splits it, is shown beside). RSS "at k articles" is the largest reading
  while the archive (`count(*)` of the SQLite articles table, polled every {COUNT_SECONDS:.0f} s)
  grew from k − N/20 to k, for k = N/5 (10,000 from N = 20,000 on) and k = all articles; their
  ratio is the memory growth.
- *pipeline efficiency* = articles/s ÷ (cores ÷ (f + e)); *CPU ratio* = CPU per article ÷
  (f + e). Utilisation = the crawl's CPU ÷ (wall × cores); the machine's busy, iowait and steal
  shares over the crawl come from /proc/stat, to tell a stalled pipeline from a slow disk or a
  noisy neighbour.

Figures are medians over the runs. Targets (issue #4): efficiency ≥ 0.75, CPU ratio ≤ 1.25,
peak RSS < 400 MB at 50,000 pages with RSS at 50,000 within 10 % of RSS at 10,000.
"""


# --- the fetch-only baseline (runs in its own process: a reactor per process) ------------------


def fetch_only(url: str, concurrency: int, log_file: str) -> dict[str, int]:
    """Crawl the portal with Scrapy, discovering like zhengwen and doing nothing with articles."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.http import Response, TextResponse
    from scrapy.linkextractors import LinkExtractor

    from crawler import settings as zs

    article = re.compile(portal_static.ARTICLE_PATTERN)
    listing = re.compile(f"{portal_static.LIST_PATTERN}|{portal_static.PAGINATION_PATTERN}")

    class FetchOnly(scrapy.Spider):
        name = "fetch_only"

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.allowed_domains = ["127.0.0.1"]
            self.start_urls = [url]
            self.links = LinkExtractor(unique=True)

        def parse(self, response: Response, **kwargs: Any) -> Any:
            if not isinstance(response, TextResponse):
                return
            for link in self.links.extract_links(response):
                if article.search(link.url):
                    yield scrapy.Request(link.url, callback=self.parse_article, priority=10)
                elif listing.search(link.url):
                    yield scrapy.Request(link.url, callback=self.parse)

        def parse_article(self, response: Response) -> None:
            """The no-op: what is left of a crawl's cost is the fetching."""
            self.crawler.stats.inc_value("bench/article_pages")

    settings = {
        key: getattr(zs, key)
        for key in (
            "AUTOTHROTTLE_ENABLED",
            "AUTOTHROTTLE_MAX_DELAY",
            "AUTOTHROTTLE_TARGET_CONCURRENCY",
            "CONCURRENT_REQUESTS",
            "DOWNLOAD_TIMEOUT",
            "DOWNLOAD_MAXSIZE",
            "DOWNLOAD_WARNSIZE",
            "RETRY_ENABLED",
            "RETRY_TIMES",
            "RETRY_HTTP_CODES",
            "REDIRECT_MAX_TIMES",
            "DEPTH_PRIORITY",
            "COOKIES_ENABLED",
            "TELNETCONSOLE_ENABLED",
            "USER_AGENT",
        )
    }
    # What the portal spider applies from the site config (crawler.spiders.portal).
    settings |= {
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_START_DELAY": 0.1,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DEPTH_LIMIT": 8,
        "LOG_LEVEL": "INFO",
        "LOG_FILE": log_file,
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(FetchOnly)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return {
        "pages": int(stats.get("downloader/response_count", 0)),
        "article_pages": int(stats.get("bench/article_pages", 0)),
        "bytes": int(stats.get("downloader/response_bytes", 0)),
    }


# --- measuring a subprocess --------------------------------------------------------------------


@dataclass(slots=True)
class Measured:
    """One crawl subprocess: wall, CPU (self + children), RSS samples, archive counts."""

    returncode: int
    wall: float
    cpu: float
    peak_rss: int
    peak_pss: int
    machine: dict[str, float]
    """Shares of all cores over the run from /proc/stat: busy, iowait, steal, idle."""
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    """(seconds since start, RSS of the tree, articles in the archive) per sample."""


def _tree_memory(proc: Any) -> tuple[int, int]:
    """(RSS, PSS) summed over the process tree. RSS counts a shared page once per process
    (the issue's measure); PSS splits it between them (what the tree really costs)."""
    import psutil

    rss = pss = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss, pss


def _cpu_ticks() -> list[int]:
    """The aggregate ``cpu`` line of /proc/stat (user nice system idle iowait irq softirq steal)."""
    try:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return [0] * 8


def _machine_share(before: list[int], after: list[int]) -> dict[str, float]:
    """Where the machine's CPU time went during a run: a crawl that leaves cores idle is
    stalled (or waits on the disk: iowait); steal is time the hypervisor gave to someone else."""
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d) or 1
    return {
        "busy": (d[0] + d[1] + d[2] + d[5] + d[6]) / total,
        "idle": d[3] / total,
        "iowait": d[4] / total,
        "steal": d[7] / total,
    }


def _archive_count(db: Path | None) -> int:
    if db is None or not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5) as conn:
            row = conn.execute("select count(*) from articles").fetchone()
        return int(row[0])
    except sqlite3.Error:
        return -1


def measure(
    cmd: Sequence[str],
    log: Path,
    timeout: float,
    db: Path | None = None,
    cwd: Path = ROOT,
    counter: Callable[[], int] | None = None,
) -> Measured:
    """Run ``cmd``, sampling its process tree; CPU from wait4 includes reaped grandchildren.
    Articles in the archive are counted from the SQLite file ``db``, or by ``counter`` (another
    database)."""
    if counter is None and db is not None:
        counter = functools.partial(_archive_count, db)
    import psutil

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        started = time.monotonic()
        popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        proc = psutil.Process(popen.pid)
        ticks = _cpu_ticks()
        peak = peak_pss = count = 0
        samples: list[tuple[float, int, int]] = []
        last_count = -COUNT_SECONDS
        while True:  # bounded by the timeout below
            pid, status, usage = os.wait4(popen.pid, os.WNOHANG)
            if pid:
                break
            now = time.monotonic() - started
            rss, pss = _tree_memory(proc)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            if counter is not None and now - last_count >= COUNT_SECONDS:
                count, last_count = max(count, counter()), now
            samples.append((now, rss, count))
            if now > timeout:
                for child in proc.children(recursive=True):
                    child.kill()
                popen.kill()
                os.wait4(popen.pid, 0)
                popen.returncode = -signal.SIGKILL
                raise RuntimeError(f"{cmd[2:4]} still running after {timeout:.0f}s; see {log}")
            time.sleep(SAMPLE_SECONDS)
        popen.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    machine = _machine_share(ticks, _cpu_ticks())
    if counter is not None:
        samples.append((wall, 0, counter()))
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(popen.returncode, wall, cpu, peak, peak_pss, machine, samples)


class Server:
    """The static portal in its own process, so its CPU is its own; ``latency``: seconds before
    each answer (`bench/portal_static.py --latency`)."""

    def __init__(self, folder: Path, latency: float = 0.0) -> None:
        import psutil

        self.popen = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "portal_static.py"),
                str(folder),
                *(["--latency", str(latency)] if latency else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the portal server did not start: {line!r}")
        self.url = line.split(" ", 1)[1]
        self.proc = psutil.Process(self.popen.pid)

    def cpu(self) -> float:
        t = self.proc.cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)


# --- the three measurements --------------------------------------------------------------------


def site_config(path: Path, url: str, concurrency: int = CONCURRENCY) -> Path:
    """The site config of the static portal; ``concurrency``: the site's requests in flight
    (for a cluster, of all its workers together)."""
    text = f"""\
# Written by the benchmarks (bench/crawl.py) for their static portal on loopback.
name = "{SITE}"
site_name = "法治晨报"
start_urls = ["{url}/"]
allowed_domains = ["127.0.0.1"]
timezone = "Asia/Shanghai"
allow_private = true
max_depth = 8

[urls]
article = ['{portal_static.ARTICLE_PATTERN}']
list = ['{portal_static.LIST_PATTERN}']
pagination = ['{portal_static.PAGINATION_PATTERN}']

[politeness]
download_delay = 0
concurrency = {concurrency}
obey_robots = true
"""
    path.write_text(text, encoding="utf-8")
    return path


def measure_fetch(server: Server, work: Path, articles: int) -> dict[str, Any]:
    out = work / "fetch-only.json"
    before = server.cpu()
    m = measure(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--fetch-only",
            server.url + "/",
            "--out",
            str(out),
        ],
        work / "fetch-only.out",
        timeout=60 + articles * MAX_SECONDS_PER_ARTICLE,
    )
    if m.returncode != 0:
        raise RuntimeError(f"the fetch-only crawl failed; see {work / 'fetch-only.out'}")
    stats = json.loads(out.read_text())
    pages = max(1, stats["article_pages"])
    return {
        "f": m.cpu / pages,
        "fetch_pages": stats["pages"],
        "fetch_article_pages": stats["article_pages"],
        "fetch_wall": m.wall,
        "fetch_pages_per_s": stats["pages"] / m.wall,
        "fetch_peak_rss_mb": m.peak_rss / MB,
        "server_cpu_per_page_fetch": (server.cpu() - before) / max(1, stats["pages"]),
    }


def sample_paths(index: dict[str, Any], n: int) -> list[str]:
    """Evenly spaced article pages: every chunk and section is represented, and it is stable."""
    paths = sorted(p for p, v in index["pages"].items() if v[2] == "article")
    step = max(1, len(paths) // max(1, n))
    return paths[::step][:n]


def measure_extract(
    folder: Path, index: dict[str, Any], sample: int, config: Path
) -> dict[str, Any]:
    """e: CPU per page of plain trafilatura, one process, warm (imports and first pages excluded)."""
    import trafilatura

    from crawler.config import load_site_file
    from crawler.extract import ExtractionError, ExtractOptions, extract

    data = (folder / "pages.bin").read_bytes()
    pages = []
    for path in sample_paths(index, sample):
        offset, length, _, _ = index["pages"][path]
        pages.append(("http://127.0.0.1" + path, data[offset : offset + length]))
    del data
    options = ExtractOptions.from_site(load_site_file(config))
    for url, html in pages[:3]:  # warm-up: lazy imports and caches are start-up, not per page
        trafilatura.extract(html, url=url)
        extract(html, url, options)
    t0 = time.process_time()
    for url, html in pages:
        trafilatura.extract(html, url=url)
    t1 = time.process_time()
    failed = 0
    for url, html in pages:
        try:
            extract(html, url, options)
        except ExtractionError:
            failed += 1
    t2 = time.process_time()
    return {
        "e": (t1 - t0) / len(pages),
        "e_zhengwen": (t2 - t1) / len(pages),
        "e_sample": len(pages),
        "e_zhengwen_failed": failed,
    }


def rss_at(
    samples: Sequence[tuple[float, float, int]], articles: int, window: int
) -> tuple[float, int] | None:
    """RSS (MB) of the tree "at ``articles``": the largest reading while the archive went from
    ``articles - window`` to ``articles``, and the count at which it was first reached.

    A single reading is not enough: the archive grows in batches and the last batch lands while
    the crawl shuts down, when the extraction workers may already be gone.
    """
    best, reached = 0.0, None
    for _, rss_mb, count in samples:
        if count >= articles - window and rss_mb:
            best = max(best, rss_mb)
        if count >= articles:
            reached = count
            break
    return (best, reached) if reached is not None and best else None


def measure_crawl(
    server: Server, work: Path, config: Path, articles: int, run: int, max_pages: int | None
) -> dict[str, Any]:
    archive = work / f"archive-{run}"
    shutil.rmtree(archive, ignore_errors=True)
    before = server.cpu()
    m = measure(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            str(config),
            "--archive",
            str(archive),
            "--quiet",
            *(["--max-pages", str(max_pages)] if max_pages else []),
        ],
        work / f"crawl-{run}.out",
        timeout=120 + articles * MAX_SECONDS_PER_ARTICLE,
        db=archive / "zhengwen.sqlite",
    )
    server_cpu = server.cpu() - before
    output = (work / f"crawl-{run}.out").read_text(encoding="utf-8", errors="replace")
    if m.returncode != 0:
        raise RuntimeError(f"the zhengwen crawl failed ({m.returncode}): {output[-2000:]}")
    stored = _archive_count(archive / "zhengwen.sqlite")
    fetched = re.search(r"fetched (\d+) pages", output)
    pages = int(fetched.group(1)) if fetched else 0
    summary = next((line for line in output.splitlines() if f"{SITE}: " in line), "")
    # Issue #4 compares RSS at 10,000 and at 50,000 articles; smaller runs use N/5.
    target = min(articles, max_pages or articles)
    series = [(t, rss / MB, count) for t, rss, count in m.samples]
    window = max(1, target // 20)
    early = rss_at(series, 10_000 if target >= 20_000 else max(1, target // 5), window)
    final = rss_at(series, stored, window) if stored > 0 else None
    # The last samples are taken while the crawl shuts down; the RSS "at the end" is the first
    # sample at which the archive held every article it was going to hold.
    return {
        "articles": stored,
        "crawl_pages": pages,
        "wall": m.wall,
        "articles_per_s": stored / m.wall,
        "cpu": m.cpu,
        "cpu_per_article": m.cpu / max(1, stored),
        "peak_rss_mb": m.peak_rss / MB,
        "peak_pss_mb": m.peak_pss / MB,
        "utilisation": m.cpu / (m.wall * max(1, machine()["cores"])),
        "machine_busy": m.machine["busy"],
        "machine_iowait": m.machine["iowait"],
        "machine_steal": m.machine["steal"],
        "rss_early_mb": early[0] if early else None,
        "rss_early_at": early[1] if early else None,
        "rss_end_mb": final[0] if final else None,
        "rss_end_at": final[1] if final else None,
        "server_cpu_per_page_crawl": server_cpu / max(1, pages),
        "summary": summary.strip(),
        "rss_series": [(round(t, 1), round(r, 1), c) for t, r, c in series],
    }


# --- report ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpu": bench_machine.cpu_name(),
        "cores": bench_machine.cores(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def derive(run: dict[str, Any], cores: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "f" in run and "e" in run:
        cost = run["f"] + run["e"]
        ideal = cores / cost
        out = {
            "ideal_articles_per_s": ideal,
            "efficiency": run["articles_per_s"] / ideal,
            "cpu_ratio": run["cpu_per_article"] / cost,
        }
    return out | {
        "rss_ratio": (
            run["rss_end_mb"] / run["rss_early_mb"]
            if run.get("rss_end_mb") and run.get("rss_early_mb")
            else None
        ),
    }


ROWS: tuple[tuple[str, str, str], ...] = (
    # (key, label, format)
    ("f", "f: fetch-only CPU per article page (ms)", "ms"),
    ("e", "e: trafilatura.extract CPU per page (ms)", "ms"),
    ("e_zhengwen", "zhengwen extract alone, CPU per page (ms)", "ms"),
    ("fetch_pages_per_s", "fetch-only pages/s (wall)", "1f"),
    ("articles", "articles stored", "d"),
    ("wall", "zhengwen crawl wall time (s)", "1f"),
    ("articles_per_s", "zhengwen articles/s (wall)", "1f"),
    ("ideal_articles_per_s", "ideal articles/s = cores ÷ (f + e)", "1f"),
    ("efficiency", "**pipeline efficiency** (target ≥ 0.75)", "2f"),
    ("cpu_per_article", "zhengwen CPU per article, all processes (ms)", "ms"),
    ("cpu_ratio", "**CPU per article ÷ (f + e)** (target ≤ 1.25)", "2f"),
    ("utilisation", "zhengwen CPU ÷ (wall × cores)", "2f"),
    ("machine_busy", "machine busy during the crawl (all processes)", "2f"),
    ("machine_iowait", "machine iowait during the crawl", "2f"),
    ("machine_steal", "machine steal during the crawl", "2f"),
    ("peak_rss_mb", "peak RSS, all crawl processes (MB)", "0f"),
    ("peak_pss_mb", "peak PSS, all crawl processes (MB)", "0f"),
    ("rss_early_at", "articles in the archive at the first RSS reading", "d"),
    ("rss_early_mb", "RSS when the archive held N/5 articles, 10,000 from N = 20,000 (MB)", "0f"),
    ("rss_end_at", "articles in the archive at the second RSS reading", "d"),
    ("rss_end_mb", "RSS when it held all of them (MB)", "0f"),
    ("rss_ratio", "RSS at the end ÷ RSS at N/5 (target ≤ 1.10)", "2f"),
    ("server_cpu_per_page_crawl", "server CPU per page, zhengwen crawl (ms)", "ms"),
)


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "ms":
        return f"{value * 1000:.1f}"
    if kind == "d":
        return f"{int(value):,}"
    return format(value, "." + kind)


def median_of(runs: Sequence[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def table(runs: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    heads = [f"run {i + 1}" for i in range(len(runs))] + ["**median**"]
    lines = [
        f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"{meta['machine']['memory_gb']} GB, Python {meta['machine']['python']}, "
        f"{meta['machine']['system']}. Portal: {meta['articles']:,} articles, "
        f"{meta['list_pages']} list pages, article pages {meta['kb_min']:.0f}-{meta['kb_max']:.0f} KB "
        f"(median {meta['kb_median']:.0f} KB); e over {meta['e_sample']} pages. "
        f"Run on {meta['date']}.",
        "",
        "| | " + " | ".join(heads) + " |",
        "|---|" + "---:|" * len(heads),
    ]
    for key, label, kind in ROWS:
        if all(r.get(key) is None for r in runs):
            continue
        cells = [_fmt(r.get(key), kind) for r in runs] + [_fmt(median_of(runs, key), kind)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_doc(title: str, text: str) -> None:
    """Put this run's table under ``### title`` between the markers, keeping the tables of other
    portal sizes and modes (the 5,000-page throughput run and the 50,000-page memory run)."""
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if BEGIN not in doc or END not in doc:
        doc = doc.rstrip() + f"\n\n{HEADING}\n\n{METHOD}\n{BEGIN}\n{END}\n"
    head, rest = doc.split(BEGIN, 1)
    region, tail = rest.split(END, 1)
    blocks = {
        chunk.split("\n", 1)[0].strip(): chunk.strip()
        for chunk in re.split(r"(?m)^### ", region)
        if chunk.strip()
    }
    blocks[title] = f"{title}\n\n{text}"
    ordered = sorted(blocks.items(), key=lambda kv: [int(n) for n in re.findall(r"\d+", kv[0])])
    body = "\n\n".join(f"### {chunk}" for _, chunk in ordered)
    DOC.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")


def portal_meta(index: dict[str, Any]) -> dict[str, Any]:
    sizes = [v[1] / 1024 for v in index["pages"].values() if v[2] == "article"]
    return {
        "articles": len(sizes),
        "list_pages": sum(
            1 for p, v in index["pages"].items() if v[2] == "list" and p.endswith(".html")
        ),
        "kb_min": min(sizes),
        "kb_max": max(sizes),
        "kb_median": statistics.median(sizes),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pages", type=int, default=5000, help="articles in the portal (default 5000)")
    ap.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    ap.add_argument("--seed", type=int, default=20201003)
    ap.add_argument("--sample", type=int, default=500, help="article pages timed for e")
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "zhengwen-bench-crawl",
        help="where the rendered portal (kept, reused) and the archives (deleted) go",
    )
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the archives of the runs")
    ap.add_argument(
        "--memory-only",
        action="store_true",
        help="only the zhengwen crawl (memory figures): skip the f and e measurements",
    )
    ap.add_argument(
        "--crawl-max-pages",
        type=int,
        default=None,
        metavar="M",
        help="stop the zhengwen crawl after M pages (zhengwen crawl --max-pages), e.g. to "
        "watch the memory trend of a 50,000-article portal without waiting for all of it",
    )
    ap.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="JSON",
        help="print (and write to the doc) the table of a saved --json file; measures nothing",
    )
    ap.add_argument("--fetch-only", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.fetch_only:
        log = str(args.out.with_suffix(".log"))
        args.out.write_text(json.dumps(fetch_only(args.fetch_only, CONCURRENCY, log)))
        return 0
    if args.report is not None:
        report_saved(args.report, doc=not args.no_doc)
        return 0
    if args.pages < 1 or args.runs < 1 or args.sample < 1:
        ap.error("--pages, --runs and --sample must be positive")

    hw = machine()
    folder = args.work / f"portal-{args.pages}-{args.seed}"
    print(f"building the portal ({args.pages} articles) in {folder} ...", flush=True)
    t = time.monotonic()
    index = portal_static.build(folder, args.pages, args.seed)
    meta = portal_meta(index) | {
        "machine": hw,
        "e_sample": min(args.sample, args.pages),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(
        f"  ready in {time.monotonic() - t:.0f}s: {meta['articles']} articles "
        f"{meta['kb_min']:.0f}-{meta['kb_max']:.0f} KB, {meta['list_pages']} list pages",
        flush=True,
    )
    work = args.work / f"runs-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    server = Server(folder)
    runs: list[dict[str, Any]] = []
    try:
        config = site_config(work / f"{SITE}.toml", server.url)
        for run in range(1, args.runs + 1):
            result: dict[str, Any] = {}
            if not args.memory_only:
                print(f"run {run}/{args.runs}: fetch-only crawl ...", flush=True)
                result = measure_fetch(server, work, args.pages)
                print(
                    f"  f = {result['f'] * 1000:.2f} ms/article page "
                    f"({result['fetch_pages_per_s']:.0f} pages/s)",
                    flush=True,
                )
            print(f"run {run}/{args.runs}: zhengwen crawl ...", flush=True)
            result |= measure_crawl(server, work, config, args.pages, run, args.crawl_max_pages)
            print(
                f"  {result['articles']} articles in {result['wall']:.1f}s = "
                f"{result['articles_per_s']:.1f}/s, {result['cpu_per_article'] * 1000:.1f} ms "
                f"CPU/article, peak RSS {result['peak_rss_mb']:.0f} MB",
                flush=True,
            )
            if not args.memory_only:
                print(f"run {run}/{args.runs}: extraction, {meta['e_sample']} pages", flush=True)
                result |= measure_extract(folder, index, args.sample, config)
            result |= derive(result, hw["cores"])
            if not args.memory_only:
                print(
                    f"  e = {result['e'] * 1000:.1f} ms/page (zhengwen extract "
                    f"{result['e_zhengwen'] * 1000:.1f}); efficiency {result['efficiency']:.2f}, "
                    f"CPU ratio {result['cpu_ratio']:.2f}",
                    flush=True,
                )
            runs.append(result)
            if not args.keep:
                shutil.rmtree(work / f"archive-{run}", ignore_errors=True)
    finally:
        server.stop()
    mode = "memory only" if args.memory_only else f"{args.runs} runs"
    if args.crawl_max_pages:
        mode += f", crawl stopped at {args.crawl_max_pages} pages"
    meta["title"] = f"{args.pages} articles ({mode})"
    if args.json is not None:
        args.json.write_text(
            json.dumps({"meta": meta, "runs": runs}, ensure_ascii=False, indent=2, default=str),
            encoding="utf-8",
        )
    report(meta, runs, doc=not args.no_doc)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(meta: dict[str, Any], runs: list[dict[str, Any]], doc: bool) -> None:
    text = table(runs, meta)
    print()
    print(text)
    if doc:
        write_doc(meta["title"], text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")


def report_saved(path: Path, doc: bool) -> None:
    """The table of a saved run, its RSS readings recomputed from the saved samples (so a change
    of how they are read does not need another hour of crawling)."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    meta, runs = saved["meta"], saved["runs"]
    meta.setdefault("title", f"{meta['articles']} articles ({len(runs)} runs)")
    for run in runs:
        series = [tuple(s) for s in run.get("rss_series", [])]
        if not series:
            continue
        target = run["articles"]
        window = max(1, target // 20)
        early = rss_at(series, 10_000 if target >= 20_000 else max(1, target // 5), window)
        final = rss_at(series, target, window)
        run["rss_early_mb"], run["rss_early_at"] = early or (None, None)
        run["rss_end_mb"], run["rss_end_at"] = final or (None, None)
        run |= derive(run, meta["machine"]["cores"])
    report(meta, runs, doc)


if __name__ == "__main__":
    sys.exit(main())
