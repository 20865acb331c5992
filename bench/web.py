"""Web interface benchmark (issue 18): ``zhengwen serve`` on the query benchmark's archive.

    python bench/web.py                          # 1,000,000 articles (bench/query.py's archive)
    python bench/web.py --articles 20000 --seconds 10 --no-doc   # smoke run

The archive is `bench/query.py`'s (built once into ``--work`` and reused; building the million
takes hours). ``zhengwen serve`` runs as a user starts it, in its own process; the benchmark
is its client over loopback.

The server runs twice: first with ``--reuse-seconds 0`` (every search counted, faceted and
ranked on every request: the cost of a search nobody made in the last 30 s), then as users
start it (a search's tally and ranking reused for 30 s while no run starts or ends).

- **Search page:** each of `bench/query.py`'s searches (a rare and a common Chinese word, an
  English word, a mixed query) and a filtered listing (one site, one month) as a first page,
  ``--repeat`` times each after a warm-up, on both servers; server time from the
  ``Server-Timing`` header (from the request reaching the application, waiting for a page
  thread included, to the response starting), p50 and p95 over all. The target is judged on
  the first server's figures.
- **Article page:** ``--articles-sampled`` articles taken from the search results, each page
  fetched once after a warm-up pass; server time p50/p95.
- **Load:** on each server, ``--clients`` threads for ``--seconds`` each fetching, in turn, a
  search page (a random one of the searches above, a random page 1-5) and an article page;
  errors (any status but 200, any exception) and the client-side latency p95.
- **Memory:** the server's peak RSS (its processes together), sampled every 50 ms.

Targets: search p95 < 150 ms, article p95 < 50 ms, 50 clients for 60 s with no error and
p95 < 500 ms, peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import machine as bench_machine  # noqa: E402
from bench import query as qbench  # noqa: E402
from web.app import default_workers  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Web interface (`bench/web.py`)"
BEGIN, END = "<!-- web:begin -->", "<!-- web:end -->"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> tuple[int, float, float, bytes]:
    """(status, server ms, client ms, body)."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            body, status, timing = r.read(), r.status, r.headers.get("server-timing", "")
    except urllib.error.HTTPError as exc:
        body, status, timing = exc.read(), exc.code, exc.headers.get("server-timing", "")
    client = (time.perf_counter() - started) * 1000
    server = float(timing.split("dur=")[1]) if "dur=" in timing else float("nan")
    return status, server, client, body


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


class RssPeak(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            try:  # the server and its worker processes
                family = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in family))
            except Exception:
                return
            time.sleep(0.05)


def search_urls(base: str, p: Any) -> list[tuple[str, str]]:
    out = [(kind, f"{base}/?{urlencode({'q': q})}") for kind, q in p.searches]
    site, month = p.filters[1]
    out.append(
        ("site and month", f"{base}/?{urlencode({'site': site, 'since': month, 'until': month})}")
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20201003)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "zhengwen-bench-query"
    )
    ap.add_argument("--repeat", type=int, default=20, help="timed fetches of each search page")
    ap.add_argument("--articles-sampled", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)

    folder, _meta = qbench.archive(a.work, a.articles, a.seed, a.workers)
    p = qbench.plan(1, a.seed)
    figures: dict[str, Any] = {}
    # Every search computed: nothing reused between requests (the target's figure).
    with serving(folder, ["--reuse-seconds", "0"]) as (base, rss):
        searches = search_urls(base, p)
        figures["search"], ids = time_searches(searches, a.repeat)
        figures["load_computed"] = under_load(base, searches, ids, a.clients, a.seconds, a.seed)
    figures["peak_rss_computed_mb"] = rss.peak / 1024 / 1024
    # As users start it: counts, facets and rankings reused for 30 s.
    with serving(folder, []) as (base, rss):
        searches = search_urls(base, p)
        figures["search_reused"], ids = time_searches(searches, a.repeat)
        figures["article"] = time_articles(base, ids, a.articles_sampled, a.seed)
        figures["load"] = under_load(base, searches, ids, a.clients, a.seconds, a.seed)
    figures["peak_rss_mb"] = rss.peak / 1024 / 1024
    figures["archive"] = {"articles": a.articles, "folder": str(folder)}
    figures["server_processes"] = default_workers()
    report = text(figures, a)
    print(report)
    if a.json is not None:
        a.json.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    if not a.no_doc:
        write_doc(report)
    return 0


@contextmanager
def serving(folder: Path, options: list[str]) -> Iterator[tuple[str, RssPeak]]:
    """``zhengwen serve`` on the archive, as a user starts it, with its RSS sampled."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = ["serve", "--archive", str(folder), "--port", str(port), *options]
    server = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *command],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    rss = RssPeak(server.pid)
    rss.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise SystemExit(f"zhengwen serve exited: {server.communicate()[1]}")
            try:
                if fetch(base + "/api")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("zhengwen serve did not answer")
            time.sleep(0.2)
        yield base, rss
    finally:
        rss.stop = True
        server.terminate()
        server.communicate(timeout=60)


def time_searches(searches: list[tuple[str, str]], repeat: int) -> tuple[dict[str, Any], list[str]]:
    """Server times of each search's first page, ``repeat`` times after a warm-up; and the
    ids of the articles found."""
    per_kind: dict[str, list[float]] = {}
    ids: list[str] = []
    for _kind, url in searches:  # warm-up, and the article ids
        status, _, _, body = fetch(url + "&format=json")
        assert status == 200, (url, body[:300])
        ids += [r["id"] for r in json.loads(body)["results"]]
    for _ in range(repeat):
        for kind, url in searches:
            status, server, _, _ = fetch(url)
            assert status == 200, url
            per_kind.setdefault(kind, []).append(server)
    every = [v for vs in per_kind.values() for v in vs]
    kinds = {k: {"p50": pct(v, 50), "p95": pct(v, 95)} for k, v in per_kind.items()}
    return {"kinds": kinds, "p50": pct(every, 50), "p95": pct(every, 95)}, ids


def time_articles(base: str, ids: list[str], sampled: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    sample = rng.sample(ids, min(sampled, len(ids))) if ids else []
    for i in sample:  # warm-up
        fetch(f"{base}/article/{i}")
    article_ms = []
    for i in sample:
        status, server, _, _ = fetch(f"{base}/article/{i}")
        assert status == 200, i
        article_ms.append(server)
    return {"p50": pct(article_ms, 50), "p95": pct(article_ms, 95), "sampled": len(article_ms)}


def under_load(
    base: str,
    searches: list[tuple[str, str]],
    ids: list[str],
    clients: int,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(f"{seed}/{n}")
        while time.monotonic() < end:
            _, url = rng.choice(searches)
            for target in (f"{url}&page={rng.randint(1, 5)}", f"{base}/article/{rng.choice(ids)}"):
                try:
                    status, _, ms, _ = fetch(target)
                    problem = None if status == 200 else f"HTTP {status}"
                except Exception as exc:
                    problem, ms = f"{type(exc).__name__}: {exc}", float("nan")
                with lock:
                    if problem:
                        errors.append(problem)
                    else:
                        latencies.append(ms)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return {
        "clients": clients,
        "seconds": wall,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "per_second": (len(latencies) + len(errors)) / wall if wall else 0.0,
    }


def _ok(value: float, limit: float) -> str:
    return "met" if value < limit else "NOT met"


def _load_line(name: str, load: dict[str, Any]) -> str:
    return (
        f"{name}: {load['clients']} clients for {load['seconds']:.0f} s: "
        f"{load['requests']:,} requests ({load['per_second']:.1f}/s), {load['errors']} errors, "
        f"client latency p50 {load['p50']:.0f} ms, p95 {load['p95']:.0f} ms."
    )


def _load_ok(load: dict[str, Any]) -> str:
    return "met" if load["errors"] == 0 and load["p95"] < 500 else "NOT met"


def text(f: dict[str, Any], a: Any) -> str:
    from bench.machine import describe

    computed, reused, article = f["search"], f["search_reused"], f["article"]
    load, cold = f["load"], f["load_computed"]
    rss = max(f["peak_rss_mb"], f["peak_rss_computed_mb"])
    lines = [
        f"Machine: {describe()}. Archive: {f['archive']['articles']:,} articles "
        f"(bench/query.py's). Run on {time.strftime('%Y-%m-%d')}.",
        "",
        "| page | computed p50 (ms) | computed p95 (ms) | reused p50 (ms) | reused p95 (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, v in computed["kinds"].items():
        w = reused["kinds"][kind]
        lines.append(
            f"| search: {kind} | {v['p50']:.1f} | {v['p95']:.1f} | {w['p50']:.1f} | "
            f"{w['p95']:.1f} |"
        )
    lines.append(
        f"| **search, all** (target p95 < 150) | {computed['p50']:.1f} | {computed['p95']:.1f} "
        f"| {reused['p50']:.1f} | {reused['p95']:.1f} |"
    )
    lines.append(
        f"| **article page** ({article['sampled']} articles; target p95 < 50) | | | "
        f"{article['p50']:.1f} | {article['p95']:.1f} |"
    )
    lines += [
        "",
        "*Computed*: `zhengwen serve --reuse-seconds 0`, every search counted, faceted and "
        "ranked on every request. *Reused*: the default server (a search's tally and ranking "
        "reused for 30 s), timed after the warm-up fetch.",
        "",
        _load_line("Load, default server", load),
        _load_line("Load, every search computed (`--reuse-seconds 0`)", cold),
        f"The server ran as users start it: {f.get('server_processes', 1)} process(es) "
        "(`--workers`' default on this machine). "
        f"Peak RSS of the server, its processes together: {f['peak_rss_mb']:.0f} MB (default), "
        f"{f['peak_rss_computed_mb']:.0f} MB (`--reuse-seconds 0`).",
        "",
        f"- search p95 < 150 ms (computed): {computed['p95']:.1f} ms ({_ok(computed['p95'], 150)})",
        f"- article p95 < 50 ms: {article['p95']:.1f} ms ({_ok(article['p95'], 50)})",
        f"- {load['clients']} clients, no error and p95 < 500 ms (default server): "
        f"{load['errors']} errors, p95 {load['p95']:.0f} ms ({_load_ok(load)}); every search "
        f"computed: {cold['errors']} errors, p95 {cold['p95']:.0f} ms ({_load_ok(cold)})",
        f"- peak RSS < 300 MB: {rss:.0f} MB ({_ok(rss, 300)})",
    ]
    return "\n".join(lines)


def write_doc(report: str) -> None:
    bench_machine.write_block(DOC, HEADING, BEGIN, END, report, (__doc__ or "").strip())


if __name__ == "__main__":
    raise SystemExit(main())
