"""Exact and near copies across sites on real SQLite/PostgreSQL and Parquet files."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import inspect

from pipelines.dedupe import DedupePipeline
from storage import Article, Database, ParquetDataset
from storage.duplicates import _with_copies, copies_of
from storage.parquet import FILE_SCHEMA
from storage.simhash import hamming

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
STORY = (
    "光明网讯 记者从国家林业和草原局获悉，今年以来各地扎实推进国土绿化行动，累计完成造林"
    "三千二百万亩，种草改良四千六百万亩，防沙治沙两千一百万亩。\n据介绍，各地坚持因地制宜、"
    "适地适树，科学选择绿化树种草种，优先使用乡土树种，提高造林种草质量，并加强对新造林地"
    "的抚育管护，巩固绿化成果。\n国家林草局有关负责人表示，下一步将继续推进山水林田湖草沙"
    "一体化保护和系统治理，加快实施重要生态系统保护和修复重大工程，持续开展全民义务植树，"
    "不断提升生态系统多样性、稳定性和持续性。"
)
EDITED = STORY.replace("三千二百万亩", "三千三百万亩") + "\n（完）"


def unrelated(n: int) -> str:
    """A different article per n: random draws from a character pool of news text."""
    rng = random.Random(n)
    pool = STORY.replace("\n", "")
    return "".join(rng.choice(pool) for _ in range(300))


def art(site: str, n: int, body: str, published: datetime | None, **kw: Any) -> Article:
    kw.setdefault("title", f"{site} {n}")
    return Article(
        url=f"https://{site}.example.cn/a/{n}.html",
        site=site,
        body=body,
        published_at=published,
        **kw,
    )


def links(db: Database) -> dict[str, str | None]:
    return {a.url: a.duplicate_of for a in db.iter_articles()}


def test_copies_on_other_sites_link_to_the_earliest(db: Database) -> None:
    original = art("gmw", 1, STORY, T0)
    exact = art("sina", 7, STORY, T0 + timedelta(hours=2))
    near = art("qq", 3, EDITED, T0 + timedelta(hours=1))
    other = art("qq", 4, unrelated(4), T0)
    assert hamming(original.simhash, near.simhash) <= 3 and original.body != near.body
    db.upsert_articles([original], seen_at=T0)
    db.upsert_articles([exact, near, other], seen_at=T0 + timedelta(days=1))
    assert links(db) == {
        original.url: None,
        exact.url: original.url_hash,
        near.url: original.url_hash,
        other.url: None,
    }
    assert db.count_articles() == 4
    assert db.count_articles(exclude_duplicates=True) == 2
    assert {a.url for a in db.iter_articles(exclude_duplicates=True)} == {original.url, other.url}
    assert db.count_articles("qq", exclude_duplicates=True) == 1
    # Re-upserting (unchanged text) keeps the links.
    db.upsert_articles([exact, near])
    assert links(db)[near.url] == original.url_hash


def test_an_earlier_copy_found_later_relinks_the_group(db: Database) -> None:
    first_seen = art("sina", 1, STORY, T0 + timedelta(hours=3))
    second = art("qq", 2, EDITED, T0 + timedelta(hours=5))
    db.upsert_articles([first_seen, second], seen_at=T0)
    assert links(db)[second.url] == first_seen.url_hash
    earliest = art("gmw", 9, STORY + "\n光明网", T0)
    db.upsert_articles([earliest], seen_at=T0 + timedelta(days=2))
    assert links(db) == {
        earliest.url: None,
        first_seen.url: earliest.url_hash,
        second.url: earliest.url_hash,
    }


def test_same_time_falls_back_to_first_seen_then_url(db: Database) -> None:
    a = art("aaa", 1, STORY, None)
    b = art("bbb", 1, STORY, None)
    db.upsert_articles([b], seen_at=T0)
    db.upsert_articles([a], seen_at=T0 + timedelta(minutes=1))
    assert links(db) == {a.url: b.url_hash, b.url: None}  # no dates: first seen wins
    dated = art("ccc", 1, STORY, T0 + timedelta(days=300))
    db.upsert_articles([dated], seen_at=T0 + timedelta(days=400))
    assert links(db)[b.url] == dated.url_hash  # a dated copy beats undated ones


def test_a_changed_text_leaves_its_group(db: Database) -> None:
    original = art("gmw", 1, STORY, T0)
    copy = art("qq", 2, EDITED, T0 + timedelta(hours=1))
    db.upsert_articles([original, copy])
    assert links(db)[copy.url] == original.url_hash
    db.upsert_articles([copy.replace(body=unrelated(99))])
    assert links(db)[copy.url] is None


def test_band_lookup_finds_the_near_copy_among_many(db: Database) -> None:
    noise = [art("noise", n, unrelated(n), T0) for n in range(300)]
    original = art("gmw", 1, STORY, T0)
    db.upsert_articles([*noise, original])
    probe = art("qq", 5, EDITED, T0)
    with db.sessions() as s:
        found = copies_of(s, probe)
    assert [r.url_hash for r in found] == [original.url_hash]
    assert db.count_articles(exclude_duplicates=True) == 301
    with db.engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("simhash_bands")}
    assert "ix_simhash_bands_band_value" in indexes


def test_the_batch_lookup_finds_the_articles_copies_of_finds(db: Database) -> None:
    """Which articles of a batch have a copy is found by a few queries for the batch; it must
    be exactly the articles `copies_of` finds a copy of, relation by relation."""
    noise = [art("noise", n, unrelated(n), T0) for n in range(60)]
    stored = art("gmw", 1, STORY, T0)
    named = art("xinhua", 8, unrelated(1000), T0)
    db.upsert_articles([*noise, stored, named])
    batch = [
        art("qq", 2, EDITED, T0),  # near copy of a stored one
        art("sina", 3, STORY, T0),  # exact copy
        art("ifeng", 4, unrelated(2000), T0, canonical_url=named.url),  # names a stored URL
        art("sohu", 5, unrelated(3000), T0),  # alone...
        art("people", 6, unrelated(4000), T0, canonical_url=art("sohu", 5, "", T0).url),
        art("cctv", 7, unrelated(5000), T0, canonical_url="https://nowhere.example.cn/x"),
        art("163", 8, unrelated(6000), T0),  # alone
        art("163", 9, unrelated(7000), T0),  # two in the batch with one text
        art("163", 10, unrelated(7000), T0),
    ]
    db.upsert_articles(batch)
    with db.sessions() as s:
        expected = {a.url_hash for a in [*batch, *noise] if copies_of(s, a)}
        found = _with_copies(s, [*batch, *noise])
    names = {a.url_hash: a.url for a in [*batch, *noise]}
    assert {names[h] for h in found} == {names[h] for h in expected}
    assert {names[h] for h in found} == {
        batch[i].url for i in (0, 1, 2, 3, 4, 7, 8)
    }  # sohu 5 is named by people 6: both are copies


def test_an_archive_from_before_the_columns_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    original = art("gmw", 1, STORY, T0)
    copy = art("qq", 2, EDITED, T0 + timedelta(hours=1))
    with Database(url) as db:
        db.create_schema()
        db.upsert_articles([original, copy])
    # Make it look like an archive written before near-duplicate detection.
    conn = sqlite3.connect(tmp_path / "old.sqlite")
    conn.executescript(
        "DROP TABLE simhash_bands; DROP INDEX ix_articles_duplicate_of;"
        "DROP INDEX ix_articles_url_hash_cover;"
        "ALTER TABLE articles DROP COLUMN duplicate_of; ALTER TABLE articles DROP COLUMN simhash;"
    )
    conn.close()
    with Database(url) as db:
        db.create_schema()
        stored = {a.url: a for a in db.iter_articles()}
        cols = [c["name"] for c in inspect(db.engine).get_columns("articles")]
    assert cols[-2:] == ["simhash", "duplicate_of"]
    assert stored[copy.url].duplicate_of == original.url_hash
    assert stored[original.url].simhash == original.simhash
    conn = sqlite3.connect(tmp_path / "old.sqlite")
    assert conn.execute("SELECT count(*) FROM simhash_bands").fetchone() == (8,)
    assert conn.execute("SELECT count(*) FROM articles WHERE simhash = 0").fetchone() == (0,)
    conn.close()


def test_parquet_reads_can_exclude_copies_and_old_files_still_read(tmp_path: Path) -> None:
    dataset = ParquetDataset(tmp_path)
    original = art("gmw", 1, STORY, T0)
    copy = art("qq", 2, EDITED, T0, duplicate_of=original.url_hash)
    dataset.write_batch([original, copy])
    assert dataset.read_table().num_rows == 2
    kept = dataset.read_table(exclude_duplicates=True)
    assert kept.column("url").to_pylist() == [original.url]
    assert [a.url for a in dataset.iter_articles("qq", exclude_duplicates=True)] == []
    # A part written before the columns existed: simhash is recomputed, the row is an original.
    old_schema = FILE_SCHEMA.remove(FILE_SCHEMA.get_field_index("simhash"))
    old_schema = old_schema.remove(old_schema.get_field_index("duplicate_of"))
    row = art("old", 3, unrelated(3), T0).to_dict()
    del row["site"], row["simhash"], row["duplicate_of"]
    folder = tmp_path / "site=old" / "date=2024-05-01"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=old_schema), folder / "part-old.parquet")
    old = list(ParquetDataset(tmp_path).iter_articles("old"))
    assert [a.simhash for a in old] == [art("old", 3, unrelated(3), T0).simhash]
    assert ParquetDataset(tmp_path).read_table(exclude_duplicates=True).num_rows == 2


class Stats:
    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] += count


def test_dedupe_stage_links_copies_of_other_sites_and_counts_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'z.sqlite'}"
    original = art("gmw", 1, STORY, T0)
    with Database(url) as db:
        db.create_schema()
        db.upsert_articles([original])
    stats = Stats()
    pipe = DedupePipeline(stats, url, "qq")
    pipe.open_spider()
    try:
        near = pipe.process_item(art("qq", 1, EDITED, T0 + timedelta(hours=1)))
        # Exact: the same title and body (content_hash); another title makes a near copy.
        exact = pipe.process_item(art("qq", 2, STORY, T0, title=original.title))
        earlier = pipe.process_item(art("qq", 3, STORY + "\n早", T0 - timedelta(hours=1)))
        fresh = pipe.process_item(art("qq", 4, unrelated(4), T0))
    finally:
        pipe.close_spider()
    assert near.duplicate_of == exact.duplicate_of == original.url_hash
    assert earlier.duplicate_of is None  # earlier than what is stored: it is the original
    assert fresh.duplicate_of is None
    assert stats.values["zhengwen/dedupe/near_duplicates"] == 1
    assert stats.values["zhengwen/dedupe/exact_duplicates"] == 1
