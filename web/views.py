"""The pages: each view reads the archive and returns its data (what ``?format=json`` answers)
and the template that renders it."""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from storage.article import Article
from storage.browse import MARKS, ArchiveBrowser
from storage.db import ArticleVersion, RunInfo
from storage.query import SearchHit
from web import chart, params
from web.params import BadRequest

#: Days of the articles-per-day chart of a site page.
CHART_DAYS: Final = 90
#: Runs listed on a site page.
SITE_RUNS: Final = 20
#: The raw capture is shown up to this size (a page of 10 MB is a download, not a preview).
RAW_MAX_BYTES: Final = 5 * 1024 * 1024
#: What a raw capture may do in the browser: nothing (no script, no request, no form).
RAW_CSP: Final = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
EXPORT_TYPES: Final = {
    "jsonl": "application/x-ndjson; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


class NotFound(LookupError):
    """No such article, site or run: a 404 page."""


@dataclass(slots=True)
class Result:
    template: str
    data: dict[str, Any]
    #: Only for the HTML page (links, the chart): not part of the JSON.
    extra: dict[str, Any] = field(default_factory=dict)


# --- search ---------------------------------------------------------------------------------


def search(archive: ArchiveBrowser, request: Request, **_: Any) -> Result:
    wanted = params.search(request.query_params)
    data: dict[str, Any] = {
        "query": wanted.values,
        "order": wanted.order,
        "page": wanted.page,
        "page_size": params.PAGE_SIZE,
    }
    if not wanted.values or set(wanted.values) <= {"tz", "order", "page"}:
        # The front page: what the archive holds, no listing of everything.
        data.update(total=None, results=[], facets=None, sites=[_site(s) for s in archive.sites()])
        return Result("search.html", data, {"search": wanted})
    items = archive.page(
        wanted.filters, page=wanted.page, size=params.PAGE_SIZE, order=wanted.order
    )
    tally = archive.tally(wanted.filters)
    data.update(
        total=tally.total,
        total_is_lower_bound=tally.capped,
        pages=min(tally.pages(params.PAGE_SIZE), params.MAX_PAGE),
        results=[_result(item) for item in items],
        facets={
            "site": [{"value": s, "count": n} for s, n in tally.sites],
            "month": [{"value": m, "count": n} for m, n in tally.months],
            "undated": tally.undated,
            "sampled": tally.capped,
            "window": tally.total,
        },
    )
    exports = {fmt: f"/export.{fmt}?{_export_query(wanted)}" for fmt in EXPORT_TYPES}
    data["exports"] = exports
    return Result("search.html", data, {"search": wanted})


def _export_query(wanted: params.Search) -> str:
    return wanted.query(page=None, order=None)


def _result(item: Article | SearchHit) -> dict[str, Any]:
    article = item.article if isinstance(item, SearchHit) else item
    out = _summary(article)
    out["snippet"] = item.snippet if isinstance(item, SearchHit) else _lead(article)
    out["snippet_html"] = str(mark_snippet(out["snippet"]))
    if isinstance(item, SearchHit):
        out["rank"] = item.rank
    return out


def _summary(article: Article) -> dict[str, Any]:
    return {
        "id": article.url_hash,
        "url": article.url,
        "site": article.site,
        "title": article.title,
        "published_at": article.published_at,
        "source": article.source,
        "author": article.author,
        "category": article.category,
        "duplicate_of": article.duplicate_of,
    }


def _lead(article: Article) -> str:
    text = article.lead or article.body
    return text[:160] + ("…" if len(text) > 160 else "")


def export(archive: ArchiveBrowser, request: Request, **_: Any) -> Response:
    """The search's articles as the file ``zhengwen export`` writes, streamed."""
    fmt = request.path_params["fmt"]
    if fmt not in EXPORT_TYPES:
        raise NotFound(f"no export format {fmt!r}: one of {', '.join(EXPORT_TYPES)}")
    query = {k: v for k, v in request.query_params.items() if k != "format"}
    wanted = params.search(query)
    from storage import export as exporting
    from storage.query import FIELDS

    fields = list(FIELDS)
    name = f"zhengwen-export.{fmt}"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if fmt == "parquet":
        return StreamingResponse(
            _parquet_stream(archive, wanted), media_type=EXPORT_TYPES[fmt], headers=headers
        )
    batches = archive.batches(wanted.filters, fields, order="site")
    lines = (
        exporting.jsonl_lines(batches, fields)
        if fmt == "jsonl"
        else exporting.csv_lines(batches, fields)
    )
    return StreamingResponse(
        (line.encode("utf-8") for line in lines), media_type=EXPORT_TYPES[fmt], headers=headers
    )


def _parquet_stream(archive: ArchiveBrowser, wanted: params.Search) -> Iterator[bytes]:
    """Parquet is written whole (its footer comes last): into a temporary folder by
    `storage.export.export`, then sent in chunks and removed."""
    import tempfile

    from storage.export import export

    with tempfile.TemporaryDirectory(prefix="zhengwen-web-export-") as folder:
        out = Path(folder) / "articles.parquet"
        export(archive, out, "parquet", **wanted.filters.args())
        with out.open("rb") as fh:
            while chunk := fh.read(1 << 16):
                yield chunk


# --- one article ----------------------------------------------------------------------------


def _article(archive: ArchiveBrowser, request: Request) -> Article:
    wanted = params.article_id(request.path_params["id"])
    article = archive.article_by_id(wanted)
    if article is None:
        raise NotFound("the archive has no such article")
    return article


def article(archive: ArchiveBrowser, request: Request, raw_dir: Path | None = None) -> Result:
    current = _article(archive, request)
    versions = archive.versions(current.url)
    original = archive.article_by_id(current.duplicate_of) if current.duplicate_of else None
    copies = archive.copies(current)
    capture = archive.capture(current, raw_dir)
    data = {
        "article": current.to_json_dict(),
        "id": current.url_hash,
        "removed_at": archive.removed_at(current),
        "versions": [_version(v) for v in versions],
        "duplicate_of": None if original is None else _summary(original),
        "copies": [_summary(c) for c in copies],
        "raw": None
        if capture is None
        else {"url": f"/article/{current.url_hash}/raw", "captured_at": capture.warc_date},
    }
    return Result("article.html", data)


def _version(v: ArticleVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "content_hash": v.content_hash,
        "title": v.title,
        "first_seen": v.first_seen,
        "last_seen": v.last_seen,
        "crawl_run_id": v.crawl_run_id,
        "extraction_version": v.extraction_version,
        "characters": len(v.body),
    }


def diff(archive: ArchiveBrowser, request: Request, **_: Any) -> Result:
    current = _article(archive, request)
    versions = archive.versions(current.url)
    if len(versions) < 2:
        raise NotFound("this article has one version: nothing to compare")
    by_number = {v.version: v for v in versions}
    old_n = params.version(request.query_params, "from") or versions[-2].version
    new_n = params.version(request.query_params, "to") or versions[-1].version
    if old_n not in by_number or new_n not in by_number:
        raise NotFound(f"versions are numbered {versions[0].version} to {versions[-1].version}")
    old, new = by_number[old_n], by_number[new_n]
    rows = side_by_side(old, new)
    data = {
        "id": current.url_hash,
        "url": current.url,
        "title": current.title,
        "from": _version(old),
        "to": _version(new),
        "versions": [v.version for v in versions],
        "rows": rows,
        "unified": _unified(old, new),
    }
    return Result("diff.html", data)


def _lines(v: ArticleVersion) -> list[str]:
    return [f"# {v.title or ''}", *v.body.splitlines()]


def side_by_side(old: ArticleVersion, new: ArticleVersion) -> list[dict[str, Any]]:
    """Rows of (kind, left, right): equal, changed, removed (left only), added (right only)."""
    a, b = _lines(old), _lines(new)
    rows: list[dict[str, Any]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [{"kind": "equal", "left": x, "right": x} for x in a[i1:i2]]
        elif tag == "replace":
            for x, y in itertools.zip_longest(a[i1:i2], b[j1:j2]):
                kind = (
                    "changed"
                    if x is not None and y is not None
                    else ("removed" if y is None else "added")
                )
                rows.append({"kind": kind, "left": x, "right": y})
        elif tag == "delete":
            rows += [{"kind": "removed", "left": x, "right": None} for x in a[i1:i2]]
        else:
            rows += [{"kind": "added", "left": None, "right": y} for y in b[j1:j2]]
    return rows


def _unified(old: ArticleVersion, new: ArticleVersion) -> list[str]:
    return list(
        difflib.unified_diff(
            _lines(old),
            _lines(new),
            f"version {old.version}",
            f"version {new.version}",
            lineterm="",
            n=1,
        )
    )


def raw(archive: ArchiveBrowser, request: Request, raw_dir: Path | None = None) -> Response:
    """The page as captured, from the WARC archive, under a sandbox policy: the browser runs
    no script of it, sends no request for it and treats it as a foreign origin."""
    current = _article(archive, request)
    capture = archive.capture(current, raw_dir)
    if capture is None:
        raise NotFound("no raw capture of this page in the archive")
    from storage.raw_read import RawReadError, read_payload

    try:
        body = read_payload(capture.file, capture.offset)
    except RawReadError as exc:
        raise NotFound(f"the raw capture cannot be read: {exc}") from None
    if len(body) > RAW_MAX_BYTES:
        raise BadRequest(f"the capture is {len(body):,} bytes; previews stop at {RAW_MAX_BYTES:,}")
    return Response(
        body,
        media_type="text/html",  # bytes as captured: the page's own charset declaration applies
        headers={
            "content-security-policy": RAW_CSP,
            "x-frame-options": "SAMEORIGIN",
            "cache-control": "private, max-age=300",
        },
    )


# --- sites and runs -------------------------------------------------------------------------


def _site(s: Any) -> dict[str, Any]:
    return dataclasses.asdict(s)


def sites(archive: ArchiveBrowser, request: Request, **_: Any) -> Result:
    return Result("sites.html", {"sites": [_site(s) for s in archive.sites()]})


def site(archive: ArchiveBrowser, request: Request, **_: Any) -> Result:
    name = params.one({"site": request.path_params["site"]}, "site")
    summary = next((s for s in archive.sites() if s.site == name), None)
    if summary is None:
        raise NotFound(f"the archive has no site {name!r}")
    days = archive.per_day(summary.site, CHART_DAYS)
    runs = archive.runs(summary.site, limit=SITE_RUNS)
    data = {
        "site": _site(summary),
        "per_day": [{"day": d, "articles": n} for d, n in days],
        "runs": [_run(r) for r in runs],
    }
    svg = Markup(chart.bars(days, f"{summary.site}: articles published per day (UTC)"))
    return Result("site.html", data, {"chart": svg})


def _run(r: RunInfo) -> dict[str, Any]:
    counters = r.counters or {}
    return {
        "id": r.id,
        "site": r.site,
        "trigger": r.trigger,
        "status": r.status,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "pages": counters.get("pages"),
        "articles_new": counters.get("articles_new"),
        "articles_changed": counters.get("articles_updated", counters.get("articles_changed")),
        "drift": list(counters.get("drift") or []),
    }


def run(archive: ArchiveBrowser, request: Request, **_: Any) -> Result:
    wanted = params.run_id(request.path_params["run_id"])
    found = archive.run(wanted)
    if found is None:
        raise NotFound("the archive has no such run")
    counters = found.counters or {}
    data = {
        "run": _run(found),
        "counters": counters,
        "dropped": _by_reason(counters.get("dropped")),
        "errors": _by_reason(counters.get("errors")),
        "skipped": _by_reason(counters.get("skipped")),
    }
    return Result("run.html", data)


def _by_reason(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    return [
        {"reason": str(k), "count": v}
        for k, v in sorted(value.items(), key=lambda kv: (-_number(kv[1]), str(kv[0])))
    ]


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def api(archive: ArchiveBrowser, request: Request, **_: Any) -> Result:
    return Result("api.html", {"pages": API_PAGES})


API_PAGES: Final = [
    {
        "path": "/?q=…&site=…&since=…&until=…&tz=…&source=…&author=…&category=…&dups=exclude&order=rank|published&page=N",
        "what": "search: total, results (id, url, site, title, published_at, snippet, rank), facets per site and month, export links",
    },
    {
        "path": "/article/ID",
        "what": "one article: every field, removed_at, versions, duplicate_of, copies, raw capture link",
    },
    {
        "path": "/article/ID/diff?from=N&to=M",
        "what": "two versions side by side (rows) and as a unified diff",
    },
    {"path": "/sites", "what": "per site: articles, first/last published, last run"},
    {
        "path": "/sites/SITE",
        "what": "one site: articles per day (last 90 days), last runs with drift alerts",
    },
    {"path": "/runs/RUN_ID", "what": "one run: counters, drops by reason, errors by kind"},
    {
        "path": "/export.jsonl|csv|parquet?(search parameters)",
        "what": "the search's articles as zhengwen export writes them",
    },
]


# --- helpers for templates and JSON ---------------------------------------------------------


def mark_snippet(text: str | None) -> Markup:
    """A snippet with its match marks (`storage.browse.MARKS`) as <mark>, all else escaped."""
    if not text:
        return Markup("")
    escaped = str(escape(text))
    return Markup(escaped.replace(MARKS[0], "<mark>").replace(MARKS[1], "</mark>"))


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str):
        return value.replace(MARKS[0], "").replace(MARKS[1], "")
    return value
