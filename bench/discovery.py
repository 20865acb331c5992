"""Discovery benchmark (issue 16): how completely and how cheaply a crawl finds a portal's articles.

    python bench/discovery.py                       # 120 articles, 3 repeats, table into docs/
    python bench/discovery.py --articles 20 --new 2 --repeat 1 --no-doc   # smoke run

Each test portal (crawler.demo: (a) sitemaps, (b) feeds, (c) HTML lists with pagination only,
(d) misleading URL shapes, (e) broken inputs) is served on 127.0.0.1 and counts every request.
zhengwen crawls it twice in a subprocess into a fresh archive, with a site config and/or in
zero-config mode (``zhengwen crawl URL``); between the two runs the portal publishes new
articles. Beside it, on a fresh copy of the same portal, trafilatura's own discovery
(``sitemap_search``, ``find_feed_urls``, ``focused_crawler``) runs in this process. Portals and
modes that this checkout does not have are reported as such, never measured by a stand-in.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from configparser import ConfigParser
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import machine as bench_machine  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- discovery:begin -->", "<!-- discovery:end -->"
HEADING = "## Discovery: sitemaps, feeds and zero-config crawling (`bench/discovery.py`)"
NOT_AVAILABLE = "not available in this checkout"
#: The module that makes ``zhengwen crawl URL`` work; without it the zero-config rows are absent.
ZERO_CONFIG_MODULE = "crawler.discovery.zeroconfig"
SHAPES_MODULE = "crawler.demo.shapes_portal"
CRAWL_TIMEOUT = 600


@dataclass(frozen=True, slots=True)
class PortalSpec:
    letter: str
    name: str
    what: str
    modes: tuple[str, ...]
    """``config`` (the demo's site config pointed at the portal) and/or ``zero`` (crawl URL)."""


PORTALS = (
    PortalSpec("a", "sitemaps", "sitemap index of daily news sitemaps", ("config", "zero")),
    PortalSpec("b", "feeds", "RSS + Atom feeds only", ("config", "zero")),
    PortalSpec("c", "ids", "HTML lists with pagination only", ("zero",)),
    PortalSpec("d", "misleading", "misleading URL shapes", ("zero",)),
    PortalSpec("e", "broken", "broken sitemaps and feed", ("config",)),
)


@dataclass(slots=True)
class Served:
    """A running portal: its address, its request log, its truth, and a way to publish more."""

    url: str
    requests: Callable[[], list[str]]
    truth: Callable[[], set[str]]
    add: Callable[[int], None]
    stop: Callable[[], None]


def _recent(portal: Any, n: int) -> None:
    """Publish n articles dated minutes ago, i.e. after the first run started."""
    from crawler.demo.content import TZ

    now = datetime.now(TZ).replace(microsecond=0)
    for i in range(n):
        portal.add_article(published_at=now - timedelta(minutes=10 + i))


def start(spec: PortalSpec, articles: int, seed: int, name: str | None = None) -> Served | None:
    """Start portal ``spec`` on a free loopback port, or None when this checkout lacks it.
    ``name``: the host name the portal writes into its absolute URLs instead of 127.0.0.1."""
    from crawler.demo.content import Portal

    portal = Portal.generate(n_articles=articles, seed=seed)
    if spec.name in ("sitemaps", "feeds", "broken"):
        from crawler.demo.discovery_portals import serve_discovery

        server: Any = serve_discovery(portal, spec.name)  # type: ignore[arg-type]
        _rename(server, name)
        return Served(
            server.url,
            lambda: list(server.requests),
            lambda: {a.url(server.url) for a in portal.articles()},
            lambda n: _recent(portal, n),
            server.stop,
        )
    if importlib.util.find_spec(SHAPES_MODULE) is None:
        return None
    shapes: Any = importlib.import_module(SHAPES_MODULE)
    site = shapes.ShapesPortal(portal, spec.name)
    shaped: Any = shapes.serve_shapes(site)
    _rename(shaped, name)

    def add(n: int) -> None:
        # A shapes portal snapshots its articles when built: rebuild it in place over the
        # grown portal, so that the running server's handler serves the new state.
        _recent(portal, n)
        site.__dict__.update(vars(shapes.ShapesPortal(portal, spec.name, site.per_page)))

    return Served(
        shaped.url,
        lambda: list(shaped.requests),
        lambda: set(site.article_urls(shaped.url)),
        add,
        shaped.stop,
    )


def _rename(server: Any, name: str | None) -> None:
    """The portals build absolute URLs from the bound address; after binding, that address is
    only read for this, so naming it makes every absolute URL carry ``name``."""
    if name is not None:
        server._server.server_address = (name, server.port)
        server.url = f"http://{name}:{server.port}"


def zero_config_available() -> bool:
    return importlib.util.find_spec(ZERO_CONFIG_MODULE) is not None


# --- zhengwen ----------------------------------------------------------------------------------


def site_config(folder: Path, spec: PortalSpec, url: str) -> Path:
    """The demo's site config (its article patterns) pointed at the portal, as the tests do."""
    from crawler.demo import DEMO_TOML

    text = DEMO_TOML.read_text(encoding="utf-8").replace("http://127.0.0.1:8765/", url + "/")
    path = folder / f"{spec.name}.toml"
    path.write_text(text.replace('name = "demo"', f'name = "{spec.name}"'), encoding="utf-8")
    return path


def stored(archive: Path) -> set[str]:
    db = archive / "zhengwen.sqlite"
    if not db.exists():
        return set()
    with sqlite3.connect(db) as con:
        return {url for (url,) in con.execute("SELECT url FROM articles")}


def last_counters(archive: Path) -> dict[str, Any]:
    from storage.db import Database
    from storage.paths import ArchivePaths

    with Database(ArchivePaths(archive).default_db_url) as db:
        runs = db.runs(limit=1)
    return {"status": runs[0].status, **runs[0].counters} if runs else {}


def path_of(url: str) -> str:
    return urlsplit(url).path


def article_requests(requests: Sequence[str], truth: set[str]) -> int:
    """Requests of an article page (any query: a printer copy or a tracking parameter counts)."""
    paths = {path_of(u) for u in truth}
    return sum(1 for r in requests if r.split("?", 1)[0] in paths)


def crawl_once(
    served: Served, spec: PortalSpec, mode: str, archive: Path, folder: Path
) -> dict[str, Any]:
    target = str(site_config(folder, spec, served.url)) if mode == "config" else served.url + "/"
    cmd = [sys.executable, "-m", "crawler.cli", "crawl", target, "--archive", str(archive)]
    before, mark = stored(archive), len(served.requests())
    t = time.monotonic()
    done = subprocess.run(
        [*cmd, "--quiet"],
        cwd=folder,
        env={"PYTHONPATH": str(ROOT), **_env()},
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
    )
    wall = time.monotonic() - t
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["?"]
        return {"failed": f"exit {done.returncode}: {tail[0][:160]}"}
    requests, truth, after = served.requests()[mark:], served.truth(), stored(archive)
    new = after - before
    counters = last_counters(archive)
    return {
        "wall": wall,
        "truth": len(truth),
        "stored": len(after & truth),
        "extra": len(after - truth),
        "recall": len(after & truth) / len(truth),
        "new": len(new & truth),
        "requests": len(requests),
        "article_requests": article_requests(requests, truth),
        "per_new_article": article_requests(requests, truth) / max(1, len(new & truth)),
        "per_new_all": len(requests) / max(1, len(new & truth)),
        "discovered": counters.get("discovered", {}),
        "skipped": counters.get("skipped", {}),
        "errors": counters.get("errors", {}),
        "status": counters.get("status"),
    }


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def zhengwen_runs(
    spec: PortalSpec, mode: str, args: argparse.Namespace, folder: Path
) -> list[dict[str, Any]] | str:
    """Run 1 on the portal as generated, run 2 after ``--new`` articles were published."""
    if mode == "zero" and not zero_config_available():
        return NOT_AVAILABLE
    served = start(spec, args.articles, args.seed)
    if served is None:
        return NOT_AVAILABLE
    archive = folder / f"archive-{spec.letter}-{mode}"
    try:
        first = crawl_once(served, spec, mode, archive, folder)
        if "failed" in first:
            return [first]
        served.add(args.new)
        return [first, crawl_once(served, spec, mode, archive, folder)]
    finally:
        served.stop()


# --- trafilatura's discovery -------------------------------------------------------------------


#: trafilatura (through courlan's ``extract_domain``) takes no IP address for a site: its sitemap
#: and feed search return nothing for http://127.0.0.1:PORT/ ("invalid URL") and drop entries
#: whose host is an address. So its copy of the portal is served under this name, which this
#: process resolves to 127.0.0.1 (`resolving`).
TRAFILATURA_HOST = "portal.zhengwen-bench.com"


@contextmanager
def resolving(name: str) -> Iterator[None]:
    """Resolve ``name`` to 127.0.0.1 in this process (trafilatura's HTTP goes through urllib3,
    i.e. ``socket.getaddrinfo``)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == name else host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


def trafilatura_config() -> ConfigParser:
    """trafilatura's defaults, with the two settings a loopback portal needs: its SSRF guard
    (which refuses 127.0.0.1) off, and no sleep between requests (we count, not time)."""
    from trafilatura.settings import DEFAULT_CONFIG

    config = ConfigParser()
    config.read_dict({s: dict(DEFAULT_CONFIG[s]) for s in DEFAULT_CONFIG})
    config["DEFAULT"]["SSRF_PROTECTION"] = "off"
    config["DEFAULT"]["SLEEP_TIME"] = "0"
    return config


def trafilatura_methods(config: ConfigParser, budget: int) -> dict[str, Callable[[str], set[str]]]:
    from trafilatura import feeds, sitemaps, spider

    def crawler(home: str) -> set[str]:
        spider.URL_STORE.reset()
        _, known = spider.focused_crawler(
            home, max_seen_urls=budget, max_known_urls=budget * 10, config=config
        )
        return set(known)

    return {
        "sitemap_search": lambda home: set(
            sitemaps.sitemap_search(home, sleep_time=0, config=config)
        ),
        "find_feed_urls": lambda home: set(feeds.find_feed_urls(home, sleep_time=0, config=config)),
        "focused_crawler": crawler,
    }


def trafilatura_run(
    spec: PortalSpec, method: str, args: argparse.Namespace
) -> dict[str, Any] | str:
    """One trafilatura discovery method on a fresh copy of the portal: articles it names, and
    the pages it fetched plus the article pages still to fetch to have them."""
    served = start(spec, args.articles, args.seed, TRAFILATURA_HOST)
    if served is None:
        return NOT_AVAILABLE
    try:
        truth = served.truth()
        paths = {path_of(u) for u in truth}
        found_fn = trafilatura_methods(trafilatura_config(), budget=20 * args.articles)[method]
        with resolving(TRAFILATURA_HOST):
            found = {path_of(u) for u in found_fn(served.url + "/")} & paths
        requests = served.requests()
        fetched = {r.split("?", 1)[0] for r in requests} & paths
        return {
            "truth": len(truth),
            "found": len(found),
            "recall": len(found) / len(truth),
            "requests": len(requests),
            "pages": len(requests) + len(found - fetched),
        }
    finally:
        served.stop()


# --- report ------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def merge(repeats: list[Any]) -> Any:
    """Medians of the numeric figures over repeats; the first repeat's other values."""
    if not repeats or isinstance(repeats[0], str):
        return repeats[0] if repeats else NOT_AVAILABLE
    if isinstance(repeats[0], list):
        return [merge([r[i] for r in repeats if i < len(r)]) for i in range(len(repeats[0]))]
    out = dict(repeats[0])
    for key, value in repeats[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = median([r[key] for r in repeats if key in r])
    return out


def _counts(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "–"


def header(*columns: str) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def zhengwen_table(results: dict[str, Any]) -> list[str]:
    rows = header(
        *("portal", "mode", "run", "articles", "stored", "recall", "not articles stored"),
        *("article req. / new stored", "all req. / new stored", "found by", "skips", "errors"),
    )
    for spec in PORTALS:
        for mode in spec.modes:
            res = results["zhengwen"][f"{spec.letter}:{mode}"]
            label = f"({spec.letter}) {spec.name}"
            mode_name = "site config" if mode == "config" else "zero-config"
            if isinstance(res, str):
                rows.append(f"| {label} | {mode_name} | – | {res} |" + " |" * 8)
                continue
            for n, run in enumerate(res, start=1):
                if "failed" in run:
                    rows.append(
                        f"| {label} | {mode_name} | {n} | failed: {run['failed']} |" + " |" * 8
                    )
                    continue
                rows.append(
                    f"| {label} | {mode_name} | {n} | {run['truth']:.0f} | {run['stored']:.0f} | "
                    f"{run['recall']:.1%} | {run['extra']:.0f} | {run['per_new_article']:.2f} | "
                    f"{run['per_new_all']:.2f} | {_counts(run['discovered'])} | "
                    f"{_counts(run['skipped'])} | {_counts(run['errors'])} |"
                )
    return rows


def trafilatura_table(results: dict[str, Any]) -> list[str]:
    rows = header(
        *("portal", "trafilatura", "articles", "found", "recall", "requests"),
        *("pages incl. article fetches", "pages per found article"),
    )
    for spec in PORTALS:
        for method, res in results["trafilatura"][spec.letter].items():
            label = f"({spec.letter}) {spec.name}"
            if isinstance(res, str):
                rows.append(f"| {label} | `{method}` | {res} |" + " |" * 5)
                continue
            per = res["pages"] / res["found"] if res["found"] else math.inf
            rows.append(
                f"| {label} | `{method}` | {res['truth']:.0f} | {res['found']:.0f} | "
                f"{res['recall']:.1%} | {res['requests']:.0f} | {res['pages']:.0f} | "
                + (f"{per:.2f} |" if res["found"] else "– |")
            )
    return rows


def verdict(ok: bool | None) -> str:
    return NOT_AVAILABLE if ok is None else ("PASS" if ok else "FAIL")


def _runs(results: dict[str, Any], key: str) -> list[dict[str, Any]] | None:
    res = results["zhengwen"].get(key)
    if not isinstance(res, list) or any("failed" in r for r in res) or len(res) < 2:
        return None
    return res


def targets(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(target, verdict, the figure it was judged on) for each target of the issue."""
    out: list[tuple[str, bool | None, str]] = []
    for letter, mode, floor in (("a", "config", 1.0), ("b", "config", 1.0)):
        runs = _runs(results, f"{letter}:{mode}")
        out.append(
            (
                f"({letter}) recall 100 % (site config)",
                None if runs is None else runs[0]["recall"] >= floor,
                "" if runs is None else f"{runs[0]['recall']:.1%}",
            )
        )
    for letter in ("c", "d"):
        runs = _runs(results, f"{letter}:zero")
        out.append(
            (
                f"({letter}) recall >= 99 % (zero-config)",
                None if runs is None else runs[0]["recall"] >= 0.99,
                "" if runs is None else f"{runs[0]['recall']:.1%}",
            )
        )
    for letter in ("a", "b"):
        runs = _runs(results, f"{letter}:config")
        out.append(
            (
                f"({letter}) article pages per stored new article <= 1.05 on run 2",
                None if runs is None else runs[1]["per_new_article"] <= 1.05,
                ""
                if runs is None
                else f"{runs[1]['per_new_article']:.2f} (all requests: {runs[1]['per_new_all']:.2f})",
            )
        )
    runs = _runs(results, "c:zero")
    out.append(
        (
            "(c) all pages fetched per stored article <= 1.3 on run 1 (zero-config)",
            None if runs is None else runs[0]["per_new_all"] <= 1.3,
            "" if runs is None else f"{runs[0]['per_new_all']:.2f}",
        )
    )
    for spec in PORTALS:
        out.append(against_trafilatura(results, spec))
    out.append(broken_target(results))
    return out


def against_trafilatura(results: dict[str, Any], spec: PortalSpec) -> tuple[str, bool | None, str]:
    """zhengwen's run 1 (the portal's own mode: zero-config for c/d, site config otherwise)
    finds at least as many articles as each trafilatura method, at no more pages per article."""
    mode = "zero" if spec.letter in "cd" else "config"
    name = f"({spec.letter}) zhengwen finds >= trafilatura's discovery, no more pages per article"
    runs = _runs(results, f"{spec.letter}:{mode}")
    theirs = results["trafilatura"][spec.letter]
    if runs is None or any(isinstance(r, str) for r in theirs.values()):
        return name, None, ""
    ours = runs[0]
    ours_per = ours["requests"] / max(1, ours["stored"])
    ok, notes = True, [f"zhengwen {ours['stored']:.0f} in {ours['requests']:.0f} pages"]
    for method, r in theirs.items():
        per = r["pages"] / r["found"] if r["found"] else math.inf
        ok &= ours["stored"] >= r["found"] and ours_per <= per
        notes.append(f"{method} {r['found']:.0f} in {r['pages']:.0f}")
    return name, ok, "; ".join(notes)


def broken_target(results: dict[str, Any]) -> tuple[str, bool | None, str]:
    from crawler.demo.discovery_portals import BROKEN_REASONS

    name = "(e) each broken input a recorded skip with its reason, every other article stored"
    runs = _runs(results, "e:config")
    if runs is None:
        return name, None, ""
    skipped, missing = runs[0]["skipped"], []
    for reason in BROKEN_REASONS.values():
        if not skipped.get(reason):
            missing.append(reason)
    ok = not missing and runs[0]["recall"] == 1.0 and not runs[0]["errors"]
    note = f"recall {runs[0]['recall']:.1%}, " + (
        f"missing skips: {', '.join(missing)}" if missing else "all 6 reasons recorded"
    )
    return name, ok, note


def render(results: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"Measured {meta['date']} on {meta['machine']}; commit {meta['commit']}; command "
        f"`{meta['command']}`; {meta['articles']} articles per portal, {meta['new']} published "
        f"between run 1 and run 2; medians of {meta['repeat']} repeats.",
        "",
        "**zhengwen** (run 1: fresh archive; run 2: the same archive after the new articles; "
        "on run 1 *new stored* is every stored article)",
        "",
        *zhengwen_table(results),
        "",
        "**trafilatura's discovery** on a fresh copy of each portal",
        "",
        *trafilatura_table(results),
        "",
        "**Targets**",
        "",
        "| target | verdict | figure |",
        "|---|---|---|",
        *(f"| {t} | {verdict(ok)} | {fig} |" for t, ok, fig in targets(results)),
        "",
        f"**news-please:** {meta['news_please']}",
    ]
    return "\n".join(lines)


METHOD = """\
**Command:** `.venv/bin/python bench/discovery.py --repeat 3` (`--articles N`, `--new K`,
`--no-doc` to leave this file alone, `--json F` to save every figure).

**Portals** (`crawler/demo/discovery_portals.py`, and for (c)/(d) the shapes portals of the
zero-config work when the checkout has them): the demo portal's generated articles, reachable
(a) only through a sitemap index of monthly indexes of daily Google News sitemaps, every other
one gzipped; (b) only through an RSS and an Atom feed announced by the home page; (c) only
through HTML lists with pagination; (d) through misleading shapes (dated list pages, undated
articles, tag and author pages, printer copies, tracking parameters); (e) through a good sitemap
and a feed with bad dates beside broken inputs (an HTML sitemap, a truncated gzip, garbage, a
self-listing index, a 100,000-URL set). Each is a real HTTP server on 127.0.0.1 in the
benchmark's process that logs every request it answers.

**zhengwen:** `python -m crawler.cli crawl TARGET --archive TMP --quiet` in a subprocess, TARGET
being the demo's site config pointed at the portal (*site config*: its article patterns, default
`discover = true`) or the portal's URL (*zero-config*). Run 1 into a fresh archive; then the
portal publishes K articles dated minutes ago and run 2 crawls into the same archive. *Recall*:
stored article URLs that are the portal's articles ÷ the portal's articles; *not articles
stored*: stored URLs that are not. *Article req. / new stored*: requests of article pages during
the run (any query string) ÷ articles the run newly stored; *all req. / new stored*: every
request of the run (robots.txt, sitemaps, feeds, list pages, articles) ÷ the same. The issue's
target "pages fetched per stored article <= 1.05 on (a) and (b) on a second run (only the new
articles)" is judged on the article-page figure (run 2 should fetch nothing but the new
articles; the sitemap index, the current day's sitemap and the feeds are re-read each run and
shown in the all-requests figure); "<= 1.3 on (c) in zero-config mode" on all requests of
run 1, list pages included. *Found by* and *skips* are the run record's `discovered` and
`skipped` counters.

**trafilatura** (the installed version, in this process, on a fresh copy of the portal):
`sitemaps.sitemap_search(home)`, `feeds.find_feed_urls(home)` and
`spider.focused_crawler(home, max_seen_urls=20 × articles)`, each alone, with a copy of
trafilatura's default config whose `SSRF_PROTECTION` is off (it refuses 127.0.0.1 otherwise)
and `SLEEP_TIME` 0 (plus `sleep_time=0`); requests are counted, not timed. *Found*: returned
URLs (for the crawler: all known links) whose path is an article's path. *Pages incl. article
fetches*: the requests it made plus one fetch per found article it did not already fetch (what
it costs to have the articles, comparable with zhengwen's run 1, which fetches them). The
comparison target passes on a portal when zhengwen's run 1 stores at least as many articles as
each trafilatura method finds and spends no more pages per article.
"""


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    section = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        DOC.write_text(head + section + rest.split(END, 1)[1], encoding="utf-8")
    else:
        DOC.write_text(f"{doc.rstrip()}\n\n{HEADING}\n\n{METHOD}\n{section}\n", encoding="utf-8")


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


#: What running news-please here gave; it is not installable beside zhengwen (its own Scrapy and
#: newspaper4k pins), so it was tried by hand in a throwaway venv (see docs/benchmarks.md).
NEWS_PLEASE = (
    "no figure. news-please 1.6.16 installs into a separate venv (`python3 -m venv /tmp/np && "
    "/tmp/np/bin/pip install news-please`) and runs (`news-please -c DIR -no-confirm` with a "
    "sitelist.hjson naming `http://127.0.0.1:PORT/` and `SitemapCrawler` on portal (a)), but "
    "crawls 0 pages: Scrapy's offsite middleware drops its first request "
    "(`offsite/filtered: 1`, `offsite/domains: 1`) and the portal sees no request; why its "
    "allowed domain excludes 127.0.0.1 was not investigated further."
)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=120, help="articles per portal (120)")
    ap.add_argument("--new", type=int, default=10, help="articles published before run 2 (10)")
    ap.add_argument("--repeat", type=int, default=3, help="repeats; medians are reported")
    ap.add_argument("--seed", type=int, default=1616)
    ap.add_argument("--portals", default="abcde", help="which portals, by letter (default: abcde)")
    ap.add_argument("--no-trafilatura", action="store_true", help="skip trafilatura's discovery")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure as JSON")
    args = ap.parse_args(argv)
    if args.articles < 2 or args.new < 1 or args.repeat < 1:
        ap.error("--articles must be >= 2, --new and --repeat >= 1")
    chosen = [s for s in PORTALS if s.letter in args.portals]
    repeats: list[dict[str, Any]] = []
    for n in range(1, args.repeat + 1):
        one: dict[str, Any] = {"zhengwen": {}, "trafilatura": {}}
        with tempfile.TemporaryDirectory(prefix="zhengwen-bench-discovery-") as tmp:
            for spec in chosen:
                for mode in spec.modes:
                    print(
                        f"repeat {n}/{args.repeat}: ({spec.letter}) {spec.name}, {mode}", flush=True
                    )
                    res = zhengwen_runs(spec, mode, args, Path(tmp))
                    one["zhengwen"][f"{spec.letter}:{mode}"] = res
                    print(f"  {_brief(res)}", flush=True)
                one["trafilatura"][spec.letter] = {}
                for method in ("sitemap_search", "find_feed_urls", "focused_crawler"):
                    if args.no_trafilatura:
                        continue
                    r = trafilatura_run(spec, method, args)
                    one["trafilatura"][spec.letter][method] = r
                    print(f"  trafilatura {method}: {_brief(r)}", flush=True)
        repeats.append(one)
    results: dict[str, Any] = {
        part: {
            key: merge([r[part][key] for r in repeats])
            if part == "zhengwen"
            else {m: merge([r[part][key][m] for r in repeats]) for m in repeats[0][part][key]}
            for key in repeats[0][part]
        }
        for part in ("zhengwen", "trafilatura")
    }
    for spec in PORTALS:
        if spec not in chosen:
            for mode in spec.modes:
                results["zhengwen"][f"{spec.letter}:{mode}"] = "not measured (--portals)"
            results["trafilatura"][spec.letter] = {}
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": bench_machine.describe(),
        "commit": commit(),
        "command": "python bench/discovery.py " + " ".join(argv or sys.argv[1:]),
        "articles": args.articles,
        "new": args.new,
        "repeat": args.repeat,
        "news_please": NEWS_PLEASE,
    }
    text = render(results, meta)
    print()
    print(text)
    if args.json is not None:
        args.json.write_text(
            json.dumps({"meta": meta, "results": results, "repeats": repeats}, indent=2),
            encoding="utf-8",
        )
    if not args.no_doc:
        write_doc(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


def _brief(res: Any) -> str:
    if isinstance(res, str):
        return res
    if isinstance(res, list):
        return "; ".join(_brief(r) for r in res)
    if "failed" in res:
        return f"failed: {res['failed']}"
    if "found" in res:
        return f"found {res['found']}/{res['truth']} in {res['requests']} requests"
    return (
        f"stored {res['stored']}/{res['truth']}, {res['requests']} requests "
        f"({res['article_requests']} article), {res['new']} new, {res['wall']:.1f}s"
    )


if __name__ == "__main__":
    sys.exit(main())
