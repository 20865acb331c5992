"""storage.export: each format read back and compared field by field, the card, determinism."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from storage import Archive
from storage.article import Article, field_names
from storage.export import FIELD_DOCS, ROWS_PER_BATCH, ExportError, export, targets
from storage.parquet import SCHEMA
from storage.query import QueryError
from tests.test_query import (  # noqa: F401  (the two fixtures: shared, not copied)
    ALPHA1,
    ALPHA2,
    ALPHA3,
    BETA1,
    BETA9,
    SEED_URL,
    archive_dir_fixture,
    archive_fixture,
)

EXPORT_TIME = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
#: The export order: site, then published_at (unknown last), then url_hash.
ORDER = [ALPHA1, ALPHA2, ALPHA3, BETA1, BETA9, SEED_URL]


def stored(archive: Archive, urls: list[str]) -> list[Article]:
    found = [archive.article(u) for u in urls]
    assert all(a is not None for a in found)
    return [a for a in found if a is not None]


def test_field_docs_cover_the_schema() -> None:
    assert list(FIELD_DOCS) == field_names()


def test_parquet_round_trip(archive: Archive, tmp_path: Path) -> None:
    result = export(archive, tmp_path / "news.parquet", "parquet", now=EXPORT_TIME)
    assert result.rows == 6
    table = pq.read_table(result.path)
    assert table.schema.equals(SCHEMA, check_metadata=False)
    assert table.to_pylist() == [a.to_dict() for a in stored(archive, ORDER)]
    meta = pq.ParquetFile(result.path).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_parquet_reads_in_duckdb_with_plain_types(archive: Archive, tmp_path: Path) -> None:
    result = export(archive, tmp_path / "news.parquet", "parquet")
    con = duckdb.connect()
    rows = con.execute(
        "SELECT url, site, tags, published_at, simhash FROM read_parquet(?) ORDER BY url",
        [str(result.path)],
    ).fetchall()
    con.close()
    by_url = {a.url: a for a in stored(archive, ORDER)}
    assert len(rows) == 6
    for url, site, tags, published, simhash in rows:
        article = by_url[url]
        assert (site, tuple(tags), simhash) == (article.site, article.tags, article.simhash)
        assert published == article.published_at


def test_parquet_row_groups_are_bounded(archive: Archive, tmp_path: Path) -> None:
    result = export(archive, tmp_path / "news.parquet", "parquet")
    meta = pq.ParquetFile(result.path).metadata
    assert all(meta.row_group(i).num_rows <= ROWS_PER_BATCH for i in range(meta.num_row_groups))


def test_jsonl_round_trip(archive: Archive, tmp_path: Path) -> None:
    result = export(archive, tmp_path / "news.jsonl", "jsonl")
    raw = result.path.read_bytes()
    assert "驻点招商".encode() in raw  # UTF-8, not \\u escapes
    lines = raw.decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert records == [a.to_json_dict() for a in stored(archive, ORDER)]
    seed = records[-1]
    assert seed["published_at"] == "2020-10-03T13:26:54+00:00"
    back = Article(**{**seed, "published_at": datetime.fromisoformat(seed["published_at"])})
    assert back.published_at == stored(archive, [SEED_URL])[0].published_at


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def test_csv_round_trip(archive: Archive, tmp_path: Path) -> None:
    result = export(archive, tmp_path / "news.csv", "csv")
    with result.path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == field_names()
    expected = [[_csv_cell(getattr(a, f)) for f in field_names()] for a in stored(archive, ORDER)]
    assert rows[1:] == expected
    assert json.loads(rows[1][field_names().index("tags")]) == ["扶贫", "深圳"]
    # Multi-line bodies survive CSV quoting.
    assert rows[1][field_names().index("body")].count("\n") == 1


def test_fields_subset_in_every_format(archive: Archive, tmp_path: Path) -> None:
    fields = ["title", "url", "tags"]
    pq_result = export(archive, tmp_path / "a.parquet", "parquet", fields=fields, site="beta")
    table = pq.read_table(pq_result.path)
    assert table.column_names == fields
    assert table.to_pylist() == [
        {"title": a.title, "url": a.url, "tags": list(a.tags)}
        for a in stored(archive, [BETA1, BETA9])
    ]
    js = export(archive, tmp_path / "a.jsonl", "jsonl", fields=fields, site="beta")
    assert [list(json.loads(line)) for line in js.path.read_text().splitlines()] == [fields] * 2
    cs = export(archive, tmp_path / "a.csv", "csv", fields=fields, site="beta")
    assert cs.path.read_text(encoding="utf-8").splitlines()[0] == "title,url,tags"
    # The card still counts per site and dates, though those fields are not exported.
    assert pq_result.per_site == {"beta": 2}
    assert pq_result.first_published_at == datetime(2019, 5, 1, 8, 0, tzinfo=UTC)


def test_unknown_field_lists_the_valid_ones(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(QueryError) as err:
        export(archive, tmp_path / "x.parquet", "parquet", fields=["url", "titel"])
    assert "unknown field titel" in str(err.value)
    assert "valid fields: url, site, body, title" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_filters_and_exclude_duplicates(archive: Archive, tmp_path: Path) -> None:
    result = export(
        archive,
        tmp_path / "x.jsonl",
        "jsonl",
        exclude_duplicates=True,
        since="2020-10",
        until="2020-11",
        tz="Asia/Shanghai",
    )
    urls = [json.loads(line)["url"] for line in result.path.read_text().splitlines()]
    assert urls == [ALPHA1, ALPHA2, SEED_URL]  # BETA9 is a copy of ALPHA1
    assert result.filters == {
        "since": "2020-10",
        "until": "2020-11",
        "tz": "Asia/Shanghai",
        "exclude_duplicates": True,
    }


def test_search_as_an_export_filter(archive: Archive, tmp_path: Path) -> None:
    result = export(archive, tmp_path / "x.jsonl", "jsonl", q="扶贫 Shenzhen")
    urls = [json.loads(line)["url"] for line in result.path.read_text().splitlines()]
    assert urls == [ALPHA1, BETA9]  # export order, not rank


def test_dataset_card(archive: Archive, tmp_path: Path) -> None:
    result = export(archive, tmp_path / "news.parquet", "parquet", site="alpha", now=EXPORT_TIME)
    assert result.card == tmp_path / "news.parquet.README.md"
    card = result.card.read_text(encoding="utf-8")
    assert card.startswith(
        "---\nconfigs:\n- config_name: default\n  data_files: news.parquet\n---\n"
    )
    assert "- Rows: 3\n" in card
    assert "| alpha | 3 |" in card
    assert "| beta |" not in card
    assert "2020-10-31T15:30:00+00:00 to 2020-10-31T16:30:00+00:00" in card
    assert "1 without a publication time" in card
    assert "- site: `alpha`" in card
    assert "- Exported at: 2026-12-01T12:00:00+00:00" in card
    from importlib.metadata import version

    assert f"- zhengwen version: {version('zhengwen')}" in card
    for name in field_names():
        assert f"| `{name}` |" in card
    assert "| `published_at` | timestamp (µs, UTC) | publication time" in card
    assert "| `tags` | list<string> |" in card


def test_card_without_filters(archive: Archive, tmp_path: Path) -> None:
    result = export(archive, tmp_path / "all.csv", "csv", fields=["url"])
    card = result.card.read_text(encoding="utf-8")
    assert "None: every article of the archive." in card
    assert "| fazhi-chenbao | 1 |" in card and "| beta | 2 |" in card
    assert "| `url` |" in card and "| `body` |" not in card


def test_two_exports_are_identical_apart_from_the_card_time(
    archive: Archive, tmp_path: Path
) -> None:
    for fmt in ("parquet", "jsonl", "csv"):
        first = export(archive, tmp_path / f"1.{fmt}", fmt, now=EXPORT_TIME)  # type: ignore[arg-type]
        second = export(archive, tmp_path / f"2.{fmt}", fmt, now=datetime(2027, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]
        assert first.path.read_bytes() == second.path.read_bytes(), fmt
        one = first.card.read_text().replace(f"1.{fmt}", "X").splitlines()
        two = second.card.read_text().replace(f"2.{fmt}", "X").splitlines()
        assert [a for a, b in zip(one, two, strict=True) if a != b] == [
            "- Exported at: 2026-12-01T12:00:00+00:00"
        ]


def test_folder_target_gets_a_hub_layout(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    out.mkdir()
    result = export(archive, out, "parquet")
    assert (result.path, result.card) == (out / "articles.parquet", out / "README.md")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "articles.parquet"]
    assert targets(f"{tmp_path}/new/", "csv") == (
        tmp_path / "new" / "articles.csv",
        tmp_path / "new" / "README.md",
    )


def test_a_failed_export_leaves_no_file(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "news.jsonl").write_text("an earlier export\n")

    def boom(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        export(archive, tmp_path / "news.jsonl", "jsonl", progress=boom)
    assert sorted(os.listdir(tmp_path)) == ["news.jsonl"]
    assert (tmp_path / "news.jsonl").read_text() == "an earlier export\n"


def test_missing_output_folder_is_a_clear_error(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no folder"):
        export(archive, tmp_path / "no" / "news.parquet", "parquet")
    with pytest.raises(QueryError, match="unknown format"):
        export(archive, tmp_path / "news.xml", "xml")  # type: ignore[arg-type]


def test_progress_reports_every_batch(archive: Archive, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    export(archive, tmp_path / "p.jsonl", "jsonl", progress=lambda d, t: seen.append((d, t)))
    assert seen == [(6, 6)]
    seen.clear()
    export(
        archive,
        tmp_path / "p.jsonl",
        "jsonl",
        site="nope",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == []
    assert (tmp_path / "p.jsonl").read_text() == ""


def test_export_streams_in_bounded_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More rows than one batch: every row arrives once, batches never exceed the bound.

    The bound is lowered so that a few hundred rows span several batches quickly."""
    import storage.export
    from storage.db import Database
    from storage.paths import ArchivePaths

    batch = 40
    monkeypatch.setattr(storage.export, "ROWS_PER_BATCH", batch)
    paths = ArchivePaths(tmp_path / "big").ensure()
    n = batch * 2 + 7
    with Database(paths.default_db_url) as db:
        db.create_schema()
        db.upsert_articles(
            Article(
                url=f"http://big.example/{i}",
                site="big",
                body=f"第{i}篇 body {i}",
                published_at=datetime(2021, 1, 1, tzinfo=UTC),
            )
            for i in range(n)
        )
    seen: list[int] = []
    with Archive(paths.root) as big:
        result = export(
            big, tmp_path / "big.parquet", "parquet", progress=lambda d, t: seen.append(d)
        )
    assert seen == [batch, 2 * batch, n]
    table = pq.read_table(result.path, columns=["url_hash"])
    hashes = table.column("url_hash").to_pylist()
    assert len(hashes) == n and hashes == sorted(hashes)  # same date: url_hash order
    assert pq.ParquetFile(result.path).metadata.num_row_groups == 3


@pytest.mark.postgres
def test_postgresql_export_matches_sqlite(archive: Archive, pg_url: str, tmp_path: Path) -> None:
    """The same articles in PostgreSQL (read through a server-side cursor) export the same bytes."""
    from storage.db import Database
    from tests.test_query import FIXED_NOW, sample_articles

    with Database(pg_url) as db:
        db.create_schema()
        db.upsert_articles(sample_articles(), seen_at=FIXED_NOW)
    with Archive(pg_url) as pg:
        for fmt in ("parquet", "jsonl"):
            from_pg = export(pg, tmp_path / f"pg.{fmt}", fmt, exclude_duplicates=True)  # type: ignore[arg-type]
            from_sqlite = export(archive, tmp_path / f"lite.{fmt}", fmt, exclude_duplicates=True)  # type: ignore[arg-type]
            assert from_pg.rows == 5
            assert from_pg.path.read_bytes() == from_sqlite.path.read_bytes(), fmt
