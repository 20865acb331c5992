"""Ingest benchmark (issue 19): `zhengwen ingest` on a large synthetic CC-NEWS-like WARC file.

    python bench/ingest.py                                   # 1.0 GB WARC, 3 runs, into docs/
    python bench/ingest.py --articles 200 --runs 1 --no-doc  # smoke run

**The file.** One WARC file, one gzip member per record (as Common Crawl writes CC-NEWS): a
warcinfo record, then a request and a response record per page, in a seeded random order. 10%
of the responses are the article pages of the crawl benchmark's portal (`bench/portal_static`:
the demo portal's GBK pages padded to 30-80 KB; each article once), the configured site; 90%
are real pages of every `../shared/evaldata/` set (English and Chinese news sites, blogs,
portals, in their original bytes and encodings) under 500 other hosts, which an ingest with
``--site`` reads and passes over. A response is sent chunked, gzip-encoded, both or neither in
turn. Built once into ``--work`` and reused.

**Measures, each run:**
- *parsing*: CPU seconds of reading every record of the file, in one process, with bare warcio
  (`ArchiveIterator`, each payload read), with FastWARC (where it is installed: the ``bench``
  extra) and with zhengwen's own reader (`storage.warc_in.read_archive` with the site's filter:
  records the ingest does not use passed over without inflating them, the others checked,
  bodies de-chunked and decoded), which is what `zhengwen ingest`'s main process does.
- *ingest*: ``python -m crawler.cli ingest FILE --site CONFIG --archive TMP --quiet`` in a
  subprocess, a fresh archive each run, default workers (one extraction process per core):
  records/s and articles/s over its wall time (start-up included), CPU per article (the
  process and its extraction workers, from ``wait4``). *Parsing share* = zhengwen's reader's
  CPU ÷ the ingest's CPU.
- *ceiling*: the extraction-bound rate, ``cores ÷ e``, with e the CPU per page of extraction
  measured as `bench/crawl.py` does (one process, warm, an evenly spaced sample of the article
  pages): plain ``trafilatura.extract`` (the crawl benchmark's *e*) and zhengwen's
  ``crawler.extract.extract`` (what the ingest must run). *Ceiling ratio* = ceiling ÷
  articles/s. And measured rather than computed: the same pages, their HTML in memory,
  through the crawl's extraction pool alone (default workers, the site's options), articles/s
  from the pool's start to its last result (`measure_pool`): what extraction on these cores
  reaches when nothing is read or stored; measured right before and right after the ingest
  (the machine's speed drifts within minutes) and averaged. *Measured ceiling ratio* = that ÷
  articles/s.
- *crawl*: ``zhengwen crawl`` of the same portal served on loopback (`bench/crawl.py`'s server
  and site config): CPU per article, against the ingest's.
- *news-please*: with ``--news-please-python PY`` (a Python with news-please installed), its
  ``NewsPlease.from_warc`` on the first ``--news-please-pages`` configured-site responses of the
  same file (300 by default: it is slow), one process: CPU per article with a main text.

Targets (issue 19): parsing share < 10%; articles/s within 1.1× of the extraction-bound ceiling
measured by the crawl benchmark (``cores ÷ e``, e of plain trafilatura: ceiling ratio ≤ 1.1).
The stricter readings, with zhengwen's own extractor's e and with the measured pool-only rate,
are reported beside it.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import crawl as bcrawl  # noqa: E402
from bench import machine as bench_machine  # noqa: E402
from bench import portal_static  # noqa: E402
from storage.warc_in import chunked  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Ingest from web archives (`bench/ingest.py`)"
BEGIN, END = "<!-- ingest:begin -->", "<!-- ingest:end -->"
EVALDATA = ROOT.parent / "shared" / "evaldata"
#: The portal's articles are this share of the responses.
ON_SITE_SHARE = 0.10
OTHER_HOSTS = 500
FILE_VERSION = 1
MB = 1024 * 1024
T0 = datetime(2024, 5, 1, tzinfo=UTC)


# --- the WARC file ------------------------------------------------------------------------------


def evaldata_pages() -> list[tuple[str, bytes]]:
    """(path, original bytes) of every page of every evaldata set."""
    pages = []
    for folder in sorted(p for p in EVALDATA.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            if f.name.endswith(".html"):
                pages.append((f"/{folder.name}/{f.stem}.html", f.read_bytes()))
            elif f.name.endswith(".html.gz"):
                pages.append((f"/{folder.name}/{f.name[:-3]}", gzip.decompress(f.read_bytes())))
    return pages


def _records(
    portal: Path, index: dict[str, Any], articles: int, seed: int
) -> Iterator[tuple[str, bytes, str]]:
    """(url, body, content type) of every response, in the file's order."""
    data = (portal / "pages.bin").read_bytes()
    on_site = sorted(p for p, v in index["pages"].items() if v[2] == "article")[:articles]
    others = evaldata_pages()
    rng = random.Random(seed)
    n_other = round(len(on_site) * (1 - ON_SITE_SHARE) / ON_SITE_SHARE)
    order = [("site", i) for i in range(len(on_site))] + [("other", i) for i in range(n_other)]
    rng.shuffle(order)
    for kind, i in order:
        if kind == "site":
            offset, length, _, ctype = index["pages"][on_site[i]]
            url = f"http://127.0.0.1:8000{on_site[i]}"
            yield url, data[offset : offset + length], f"{ctype}; charset=gb2312"
        else:
            path, body = others[i % len(others)]
            host = f"www.site{rng.randrange(OTHER_HOSTS)}.example"
            yield f"https://{host}{path.rsplit('.', 1)[0]}-{i}.html", body, "text/html"


def build_warc(work: Path, articles: int, seed: int) -> tuple[Path, Path, dict[str, Any]]:
    """The portal (for the crawl) and the WARC file; both reused when already built."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    portal = work / f"portal-{articles}-{seed}"
    index = portal_static.build(portal, articles, seed)
    warc = work / f"cc-news-like-{articles}-{seed}-v{FILE_VERSION}.warc.gz"
    meta_file = warc.with_suffix(".json")
    if warc.exists() and meta_file.exists():
        return portal, warc, json.loads(meta_file.read_text())
    tmp = warc.with_suffix(".tmp")
    responses = 0
    started = time.monotonic()
    with tmp.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(warc.name, {"software": "bench/ingest.py"})
        )
        for n, (url, body, ctype) in enumerate(_records(portal, index, articles, seed)):
            date = (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            request = StatusAndHeaders(
                f"GET {url} HTTP/1.1", [("User-Agent", "bench")], is_http_request=True
            )
            record = writer.create_warc_record(
                url, "request", http_headers=request, warc_headers_dict={"WARC-Date": date}
            )
            writer.write_record(record)
            record.raw_stream.close()
            headers = [("Content-Type", ctype)]
            payload = body
            if n % 3 == 0:
                payload = gzip.compress(payload, 6)
                headers.append(("Content-Encoding", "gzip"))
            if n % 2 == 0:
                payload = chunked(payload, 8192)
                headers.append(("Transfer-Encoding", "chunked"))
            else:
                headers.append(("Content-Length", str(len(payload))))
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(payload),
                length=None,
                http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
            writer.write_record(record)
            record.raw_stream.close()
            responses += 1
            if responses % 5000 == 0:
                print(
                    f"  {responses:,} responses, {out.tell() / MB:,.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
    tmp.replace(warc)
    meta = {
        "bytes": warc.stat().st_size,
        "responses": responses,
        "records": 2 * responses + 1,
        "on_site": min(articles, len([v for v in index["pages"].values() if v[2] == "article"])),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    meta_file.write_text(json.dumps(meta))
    return portal, warc, meta


# --- parsing --------------------------------------------------------------------------------------


def parse_warcio(warc: Path, inflate: Any) -> tuple[float, int]:
    """Every record of the file with bare warcio (each payload read, chunked and Content-Encoding
    undone by its ``content_stream``), gzip members inflated by ``inflate`` (a zlib module)."""
    import warcio.bufferedreaders
    from warcio.archiveiterator import ArchiveIterator

    loaded = warcio.bufferedreaders.zlib
    warcio.bufferedreaders.zlib = inflate
    try:
        t0, n = time.process_time(), 0
        with warc.open("rb") as fh:
            for record in ArchiveIterator(fh):
                record.content_stream().read()
                n += 1
        return time.process_time() - t0, n
    finally:
        warcio.bufferedreaders.zlib = loaded


def parse_fastwarc(warc: Path) -> tuple[float, int] | None:
    """As `parse_warcio`, with FastWARC (HTTP parsed, chunked transfer undone by FastWARC; its
    ``auto_decode="all"`` stops at the first chunked gzip body, so Content-Encoding is undone
    as zhengwen does it)."""
    try:
        from fastwarc.warc import ArchiveIterator  # type: ignore[import-not-found]
    except ImportError:
        return None
    from storage.raw_read import decode_content

    t0, n = time.process_time(), 0
    for record in ArchiveIterator(str(warc), parse_http=True, auto_decode="transfer"):
        body = record.reader.read()
        if record.is_http:
            decode_content(body, record.http_headers.get("Content-Encoding"))
        n += 1
    return time.process_time() - t0, n


def parse_zhengwen(warc: Path, config: Path) -> tuple[float, int]:
    """zhengwen's reader as the ingest's main process runs it: payloads read and decoded only
    for the configured site's pages."""
    from crawler.config import load_site_file
    from crawler.ingest import Sites
    from storage.warc_in import Position, read_archive

    sites = Sites([load_site_file(config)])

    def wanted(url: str, _date: datetime) -> str | None:
        matched = sites.match(url)
        return matched if isinstance(matched, str) else None

    t0, n = time.process_time(), 0
    for item in read_archive(warc, 0, wanted):
        n += isinstance(item, Position)
    return time.process_time() - t0, n


# --- ingest, ceiling, crawl, news-please -------------------------------------------------------------


def measure_pool(portal: Path, index: dict[str, Any], config: Path) -> dict[str, Any]:
    """The measured extraction-bound rate: every configured-site page of the file, its HTML
    already in memory, through the crawl's extraction pool alone (default workers, the site's
    options), from the pool's start to its last result; nothing read, nothing stored."""
    import resource

    from crawler.config import load_site_file
    from crawler.extract import ExtractionError, ExtractOptions
    from crawler.pool import ExtractionPool, Task

    data = (portal / "pages.bin").read_bytes()
    pages = [
        ("http://127.0.0.1:8000" + path, data[offset : offset + length])
        for path, (offset, length, kind, _) in index["pages"].items()
        if kind == "article"
    ]
    del data
    options = ExtractOptions.from_site(load_site_file(config))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    ok = 0
    with ExtractionPool(ExtractOptions()) as pool:
        futures = [pool.submit(Task(html, url, options=options)) for url, html in pages]
        for future in futures:
            try:
                future.result()
                ok += 1
            except ExtractionError:
                pass
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "pool_wall": wall,
        "pool_articles": ok,
        "pool_articles_per_s": ok / wall,
        "pool_cpu_per_article": cpu / max(1, ok),
    }


def measure_ingest(warc: Path, config: Path, work: Path, run: int) -> dict[str, Any]:
    archive = work / f"ingest-archive-{run}"
    shutil.rmtree(archive, ignore_errors=True)
    out = work / f"ingest-{run}.out"
    m = bcrawl.measure(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "ingest",
            str(warc),
            "--site",
            str(config),
            "--archive",
            str(archive),
            "--quiet",
        ],
        out,
        timeout=3600,
        db=archive / "zhengwen.sqlite",
    )
    text = out.read_text(encoding="utf-8", errors="replace")
    if m.returncode != 0:
        raise RuntimeError(f"zhengwen ingest failed ({m.returncode}): {text[-2000:]}")
    stored = bcrawl._archive_count(archive / "zhengwen.sqlite")
    return {
        "wall": m.wall,
        "cpu": m.cpu,
        "articles": stored,
        "articles_per_s": stored / m.wall,
        "cpu_per_article": m.cpu / max(1, stored),
        "peak_rss_mb": m.peak_rss / MB,
        "summary": next((line for line in text.splitlines() if line.startswith("ingest:")), ""),
    }


NEWS_PLEASE = r"""
import sys, time
from warcio.archiveiterator import ArchiveIterator
from newsplease import NewsPlease
warc, prefix, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
n = ok = 0
t0 = time.process_time()
with open(warc, "rb") as fh:
    for record in ArchiveIterator(fh):
        if record.rec_type != "response" or not record.rec_headers.get_header("WARC-Target-URI").startswith(prefix):
            continue
        if n == limit:
            break
        n += 1
        try:
            article = NewsPlease.from_warc(record)
            ok += bool(article.maintext)
        except Exception:
            pass
print(time.process_time() - t0, n, ok)
"""


def measure_news_please(python: str, warc: Path, limit: int) -> dict[str, Any] | None:
    done = subprocess.run(
        [python, "-c", NEWS_PLEASE, str(warc), "http://127.0.0.1:8000/", str(limit)],
        capture_output=True,
        text=True,
        timeout=7200,
        check=False,
    )
    if done.returncode != 0:
        print(f"news-please did not run: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    cpu, pages, ok = done.stdout.split()[-3:]
    return {
        "cpu": float(cpu),
        "pages": int(pages),
        "with_text": int(ok),
        "cpu_per_article": float(cpu) / max(1, int(ok)),
    }


def one_run(
    portal: Path,
    index: dict[str, Any],
    warc: Path,
    meta: dict[str, Any],
    work: Path,
    run: int,
    a: argparse.Namespace,
) -> dict[str, Any]:
    cores = bcrawl.machine()["cores"]
    r: dict[str, Any] = {}
    import zlib

    from zlib_ng import zlib_ng

    r["parse_warcio_stdlib"], _ = parse_warcio(warc, zlib)
    r["parse_warcio"], _ = parse_warcio(warc, zlib_ng)
    fast = parse_fastwarc(warc)
    r["parse_fastwarc"] = fast[0] if fast else None
    r["warcio_vs_fastwarc"] = r["parse_warcio"] / fast[0] if fast else None
    r["parse_zhengwen"], records = parse_zhengwen(warc, a.config)
    assert records == meta["records"], (records, meta["records"])
    # The machine's speed drifts within minutes: the measured ceiling is taken right before
    # and right after the ingest, and their mean is what the ingest is compared with.
    before = measure_pool(portal, index, a.config)
    ingest = measure_ingest(warc, a.config, work, run)
    r.update({f"ingest_{k}": v for k, v in ingest.items()})
    r["records_per_s"] = meta["records"] / ingest["wall"]
    r["parsing_share"] = r["parse_zhengwen"] / ingest["cpu"]
    after = measure_pool(portal, index, a.config)
    r["pool_before_articles_per_s"] = before["pool_articles_per_s"]
    r["pool_after_articles_per_s"] = after["pool_articles_per_s"]
    r.update({k: (before[k] + after[k]) / 2 for k in after if k != "pool_articles"})
    r["pool_articles"] = after["pool_articles"]
    r["pool_ratio"] = r["pool_articles_per_s"] / ingest["articles_per_s"]
    e = bcrawl.measure_extract(portal, index, a.sample, a.config)
    r.update(e)
    r["ceiling_trafilatura"] = cores / e["e"]
    r["ceiling_zhengwen"] = cores / e["e_zhengwen"]
    r["ceiling_ratio"] = r["ceiling_zhengwen"] / ingest["articles_per_s"]
    r["ceiling_ratio_trafilatura"] = r["ceiling_trafilatura"] / ingest["articles_per_s"]
    if not a.no_crawl:
        server = bcrawl.Server(portal)
        try:
            config = bcrawl.site_config(work / "crawl-site.toml", server.url)
            crawl = bcrawl.measure_crawl(server, work, config, meta["on_site"], run, None)
        finally:
            server.stop()
        r["crawl_cpu_per_article"] = crawl["cpu_per_article"]
        r["crawl_articles_per_s"] = crawl["articles_per_s"]
        r["crawl_articles"] = crawl["articles"]
        r["cpu_vs_crawl"] = ingest["cpu_per_article"] / crawl["cpu_per_article"]
    return r


# --- report ---------------------------------------------------------------------------------------


def median(runs: Sequence[dict[str, Any]], key: str) -> Any:
    """The median of a figure over the runs; for anything else (a summary line), the last."""
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return None
    if not all(isinstance(v, int | float) for v in values):
        return values[-1]
    return statistics.median(values)


def text(runs: list[dict[str, Any]], meta: dict[str, Any], extra: dict[str, Any]) -> str:
    m = bcrawl.machine()
    med = {k: median(runs, k) for k in runs[0]}

    def f(key: str, fmt: str = "{:,.2f}") -> str:
        v = med.get(key)
        return "n/a" if v is None else fmt.format(v)

    def ms(key: str) -> str:
        v = med.get(key)
        return "n/a" if v is None else f"{v * 1000:,.1f} ms"

    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, {m['system']}.",
        f"File: {meta['bytes'] / 1e9:.2f} GB, {meta['records']:,} records ({meta['responses']:,} responses, "
        f"{meta['on_site']:,} on the configured site). Median of {len(runs)} run(s).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| parsing, bare warcio, stdlib zlib (CPU s, whole file) | {f('parse_warcio_stdlib')} |",
        f"| parsing, bare warcio, zlib-ng (CPU s, whole file) | {f('parse_warcio')} |",
        f"| parsing, FastWARC (CPU s, whole file) | {f('parse_fastwarc')} |",
        f"| parsing, warcio with zlib-ng ÷ FastWARC | {f('warcio_vs_fastwarc')} |",
        f"| parsing, zhengwen's reader: records not used passed over uninflated, the others read by warcio with zlib-ng (CPU s) | {f('parse_zhengwen')} |",
        f"| ingest wall (s) | {f('ingest_wall', '{:,.1f}')} |",
        f"| records/s | {f('records_per_s', '{:,.0f}')} |",
        f"| articles stored | {f('ingest_articles', '{:,.0f}')} |",
        f"| articles/s | {f('ingest_articles_per_s')} |",
        f"| ingest CPU per article | {ms('ingest_cpu_per_article')} |",
        f"| **parsing share of the ingest's CPU** (target < 10%) | **{f('parsing_share', '{:.1%}')}** |",
        f"| e, plain trafilatura (CPU per page) | {ms('e')} |",
        f"| e, zhengwen's extractor (CPU per page) | {ms('e_zhengwen')} |",
        f"| ceiling as the crawl benchmark measures it, cores ÷ e (articles/s) | {f('ceiling_trafilatura')} |",
        f"| **that ceiling ÷ ingest articles/s** (target ≤ 1.1) | **{f('ceiling_ratio_trafilatura')}** |",
        f"| ceiling with zhengwen's extractor, cores ÷ e zhengwen (articles/s) | {f('ceiling_zhengwen')} |",
        f"| **that ceiling ÷ ingest articles/s** (stricter reading) | **{f('ceiling_ratio')}** |",
        f"| extraction alone in the pool, same pages (measured ceiling: mean of right before and right after the ingest, articles/s) | {f('pool_articles_per_s')} |",
        f"| extraction alone in the pool: workers' CPU per page | {ms('pool_cpu_per_article')} |",
        f"| **measured ceiling ÷ ingest articles/s** (strictest reading) | **{f('pool_ratio')}** |",
        f"| `zhengwen crawl` of the same portal: CPU per article | {ms('crawl_cpu_per_article')} |",
        f"| ingest CPU per article ÷ crawl's | {f('cpu_vs_crawl')} |",
        f"| ingest peak RSS (MB, process tree) | {f('ingest_peak_rss_mb', '{:,.0f}')} |",
    ]
    if extra.get("news_please"):
        np = extra["news_please"]
        lines.append(
            f"| news-please `from_warc`, one process: CPU per article | {np['cpu_per_article'] * 1000:,.1f} ms "
            f"({np['with_text']:,} of {np['pages']:,} pages with text) |"
        )
    else:
        lines.append(f"| news-please | {extra.get('news_please_note', 'not run')} |")
    lines += ["", f"Ingest summary line (last run): `{runs[-1].get('ingest_summary', '')}`"]
    return "\n".join(lines)


def write_doc(report: str) -> None:
    intro = "Method: the docstring of `bench/ingest.py`."
    bench_machine.write_block(DOC, HEADING, BEGIN, END, report, intro)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--articles",
        type=int,
        default=3300,
        help="portal articles in the file (10%% of its responses)",
    )
    ap.add_argument("--seed", type=int, default=20201003)
    ap.add_argument("--runs", type=int, default=3, help="0: build the file only")
    ap.add_argument("--sample", type=int, default=300, help="pages timed for e")
    ap.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "zhengwen-bench-ingest"
    )
    ap.add_argument("--no-crawl", action="store_true", help="skip the crawl of the same portal")
    ap.add_argument("--news-please-python", default=None, metavar="PY")
    ap.add_argument(
        "--news-please-pages", type=int, default=300, help="configured-site pages it extracts"
    )
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    print(f"building the file in {a.work} (reused when there) ...", file=sys.stderr, flush=True)
    portal, warc, meta = build_warc(a.work, a.articles, a.seed)
    index = json.loads((portal / "index.json").read_text(encoding="utf-8"))
    a.config = bcrawl.site_config(a.work / "site.toml", "http://127.0.0.1:8000")
    print(f"{warc}: {meta['bytes'] / 1e9:.2f} GB, {meta['records']:,} records", file=sys.stderr)
    if a.runs == 0:  # build only
        return 0
    runs = []
    for run in range(a.runs):
        print(f"run {run + 1}/{a.runs} ...", file=sys.stderr, flush=True)
        runs.append(one_run(portal, index, warc, meta, a.work, run, a))
        print(
            json.dumps({k: v for k, v in runs[-1].items() if k != "ingest_summary"}, default=str),
            file=sys.stderr,
            flush=True,
        )
    extra: dict[str, Any] = {}
    if a.news_please_python:
        extra["news_please"] = measure_news_please(a.news_please_python, warc, a.news_please_pages)
        if extra["news_please"] is None:
            extra["news_please_note"] = "did not run (see stderr)"
    else:
        extra["news_please_note"] = "not run (no --news-please-python)"
    report = text(runs, meta, extra)
    print(report)
    if a.json is not None:
        a.json.write_text(json.dumps({"meta": meta, "runs": runs, **extra}, indent=2, default=str))
    if not a.no_doc:
        write_doc(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
