"""The archive's invariant, checked: SQL's current articles, Parquet's rows and the raw WARC
archive tell the same story (``zhengwen check-archive``).

What must hold (docs/schema.md):

- every version SQL holds (``article_versions``, and the current article) has a Parquet row
  (same ``url_hash``, same ``content_hash``) under the article's site: each archive folder's
  Parquet holds the whole history, also when several folders share one database;
- every ``url_hash`` in Parquet is a SQL article of the same site (Parquet keeps every version,
  SQL the current one: a URL known to Parquet only is an article SQL lost);
- where the site has a raw archive, every SQL article's fetched URL has a record in it.

`repair` restores what can be restored from the other store: a missing Parquet version is
written from SQL (a page of `VERSION_PAGE` at a time), a missing SQL article is upserted from its newest Parquet row. A site mismatch
or a missing raw record is only reported: nothing holds the truth to restore it from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.article import Article
from storage.db import VERSION_PAGE, Database, VersionKey
from storage.models import Base
from storage.parquet import ParquetDataset
from storage.raw import iter_warc_files
from storage.raw_read import scan_file

_A = Base.metadata.tables["articles"]

#: Kinds of difference, in the order they are reported.
KINDS = (
    "missing_in_parquet",
    "missing_in_sql",
    "site_mismatch",
    "missing_in_raw",
    "raw_unreadable",
)


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    site: str
    url: str
    detail: str = ""

    def line(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.kind}: {self.site} {self.url}{extra}"


@dataclass(slots=True)
class CheckResult:
    sql_articles: int = 0
    parquet_rows: int = 0
    raw_sites: int = 0
    differences: list[Difference] = field(default_factory=list)
    repaired: int = 0

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for d in self.differences:
            out[d.kind] += 1
        return out

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items())
        return (
            f"check-archive: {self.sql_articles} SQL articles, {self.parquet_rows} Parquet rows, "
            f"{self.raw_sites} sites with a raw archive; {len(self.differences)} differences "
            f"({counts}); repaired {self.repaired}"
        )


def check_archive(
    db: Database,
    parquet: ParquetDataset,
    raw_dir: Path | None = None,
    *,
    site: str | None = None,
    repair: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CheckResult:
    """Compare the stores (of one site); with `repair`, restore what one store can give the
    other. Differences left after a repair are still reported (`CheckResult.differences`)."""
    say = progress or (lambda _message: None)
    result = CheckResult()
    say("reading SQL articles ...")
    sql: dict[str, tuple[str, str, str, str | None]] = {}
    stmt = select(_A.c.url_hash, _A.c.site, _A.c.url, _A.c.content_hash, _A.c.fetched_url)
    if site is not None:
        stmt = stmt.where(_A.c.site == site)
    with db.sessions() as s:
        for key, row_site, url, content, fetched in s.execute(stmt):
            sql[key] = (row_site, url, content, fetched)
    result.sql_articles = len(sql)

    say("reading Parquet rows ...")
    table = parquet.read_table(site, ["url_hash", "site", "url", "content_hash", "fetched_at"])
    result.parquet_rows = table.num_rows
    versions: dict[str, set[tuple[str, str]]] = {}
    newest: dict[str, tuple[datetime | None, str]] = {}
    columns = table.to_pydict()
    for key, row_site, _url, content, fetched in zip(
        columns["url_hash"],
        columns["site"],
        columns["url"],
        columns["content_hash"],
        columns["fetched_at"],
        strict=True,
    ):
        versions.setdefault(key, set()).add((row_site, content))
        best = newest.get(key)
        if best is None or _later(fetched, best[0]):
            newest[key] = (fetched, row_site)

    missing_parquet: list[VersionKey] = []
    mismatched: set[str] = set()
    for key, (row_site, url, content, _fetched) in sql.items():
        held = versions.get(key)
        if held and not any(s == row_site for s, _ in held):
            mismatched.add(key)
            sites = ", ".join(sorted({s for s, _ in held}))
            result.differences.append(
                Difference("site_mismatch", row_site, url, f"Parquet has it under {sites}")
            )
        elif (row_site, content) not in (held or ()):
            missing_parquet.append(VersionKey(key, content, None))
            detail = "no row of the current version" if held else "no row"
            result.differences.append(Difference("missing_in_parquet", row_site, url, detail))
    say("reading SQL versions ...")
    for page in db.version_pages(site):
        for v in page:
            info = sql.get(v.url_hash)
            if info is None or v.url_hash in mismatched or v.content_hash == info[2]:
                continue  # written since the articles were read, or checked above
            if (info[0], v.content_hash) not in versions.get(v.url_hash, ()):
                missing_parquet.append(v)
                result.differences.append(
                    Difference(
                        "missing_in_parquet", info[0], info[1], f"no row of version {v.version}"
                    )
                )
    missing_sql = sorted(k for k in versions if k not in sql)
    urls = {k: u for k, u in zip(columns["url_hash"], columns["url"], strict=True)}
    for key in missing_sql:
        result.differences.append(Difference("missing_in_sql", newest[key][1], urls[key]))

    if raw_dir is not None and raw_dir.is_dir():
        say("reading the raw archive ...")
        _check_raw(raw_dir, sql, site, result)

    if repair and (missing_parquet or missing_sql):
        say("repairing ...")
        result.repaired = _repair(db, parquet, missing_parquet, missing_sql)
        if result.repaired:
            again = check_archive(db, parquet, raw_dir, site=site)
            again.repaired = result.repaired
            return again
    return result


def _later(a: datetime | None, b: datetime | None) -> bool:
    if a is None:
        return b is None
    return b is None or a >= b


def _check_raw(
    raw_dir: Path,
    sql: dict[str, tuple[str, str, str, str | None]],
    site: str | None,
    result: CheckResult,
) -> None:
    """Every SQL article of a site with raw WARC files has a record of its fetched URL."""
    fetched_by_site: dict[str, set[str]] = {}
    sites = sorted({s for s, *_ in sql.values()} if site is None else {site})
    for name in sites:
        files = list(iter_warc_files(raw_dir, name))
        if not files:
            continue
        seen: set[str] = set()
        for path in files:
            scan = scan_file(path)
            seen.update(h.url for h in scan.records if h.warc_type in ("response", "revisit"))
            if scan.problem is not None:
                result.differences.append(
                    Difference("raw_unreadable", name, str(path), scan.problem.message)
                )
        fetched_by_site[name] = seen
    result.raw_sites = len(fetched_by_site)
    for row_site, url, _content, fetched in sql.values():
        seen_urls = fetched_by_site.get(row_site)
        if seen_urls is not None and (fetched or url) not in seen_urls:
            result.differences.append(Difference("missing_in_raw", row_site, fetched or url))


def _repair(
    db: Database,
    parquet: ParquetDataset,
    missing_parquet: list[VersionKey],
    missing_sql: list[str],
) -> int:
    repaired = 0
    for i in range(0, len(missing_parquet), VERSION_PAGE):
        articles = db.versions_as_articles(missing_parquet[i : i + VERSION_PAGE])
        if articles:
            parquet.write_batch(articles)
            repaired += len(articles)
    if missing_sql:
        wanted = set(missing_sql)
        best: dict[str, Article] = {}
        for article in parquet.iter_articles():
            if article.url_hash in wanted and _newer(article, best.get(article.url_hash)):
                best[article.url_hash] = article
        if best:
            db.upsert_articles(list(best.values()))
            repaired += len(best)
    return repaired


def _newer(article: Article, other: Article | None) -> bool:
    return other is None or _later(article.fetched_at, other.fetched_at)


def as_dict(result: CheckResult) -> dict[str, Any]:
    return {
        "sql_articles": result.sql_articles,
        "parquet_rows": result.parquet_rows,
        "raw_sites": result.raw_sites,
        "counts": result.counts(),
        "repaired": result.repaired,
        "differences": [
            {"kind": d.kind, "site": d.site, "url": d.url, "detail": d.detail}
            for d in result.differences
        ],
    }
