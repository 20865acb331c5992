"""The Parquet dataset: schema, partition layout, codec, atomic writes, crash safety."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import storage.parquet
from storage import Article, ParquetDataset
from storage.article import field_names
from storage.parquet import FILE_SCHEMA, SCHEMA

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


def make(n: int, site: str = "demo", **changes: Any) -> Article:
    article = Article(
        url=f"https://news.example.cn/a/{n}.html",
        site=site,
        title=f"新闻标题 {n}",
        body=f"正文第一段 {n}\n第二段「引号」",
        # 00:30 in Shanghai is still the previous day in UTC: the partition must follow the page.
        published_at=datetime(2024, 5, 2, 0, 30, tzinfo=SHANGHAI),
        tags=("经济", "上海"),
        fetched_at=datetime(2024, 5, 2, 3, 0, tzinfo=UTC),
    )
    return article.replace(**changes) if changes else article


def parts(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def temps(root: Path) -> list[Path]:
    return sorted(root.rglob(".tmp-*"))


def test_schema_is_derived_from_the_article_fields() -> None:
    assert SCHEMA.names == field_names()
    assert FILE_SCHEMA.names == [n for n in field_names() if n != "site"]
    assert SCHEMA.field("published_at").type == pa.timestamp("us", tz="UTC")
    assert SCHEMA.field("tags").type == pa.list_(pa.string())
    assert SCHEMA.field("extraction_version").type == pa.int64()
    assert not SCHEMA.field("url").nullable and SCHEMA.field("title").nullable


def test_partition_layout(tmp_path: Path) -> None:
    dataset = ParquetDataset(tmp_path)
    written = dataset.write_batch(
        [make(1), make(2), make(3, published_at=None), make(4, site="other")]
    )
    rel = sorted(str(p.parent.relative_to(tmp_path)) for p in written)
    assert rel == [
        "site=demo/date=2024-05-02",
        "site=demo/date=unknown",
        "site=other/date=2024-05-02",
    ]
    assert all(p.name.startswith("part-") and p.suffix == ".parquet" for p in written)
    assert pq.read_table(written[0]).num_rows + pq.read_table(written[1]).num_rows == 3


def test_fixed_partition_zone(tmp_path: Path) -> None:
    (path,) = ParquetDataset(tmp_path, partition_tz=UTC).write_batch([make(1)])
    assert path.parent.name == "date=2024-05-01"


def test_files_are_zstd_and_hold_no_partition_column(tmp_path: Path) -> None:
    (path,) = ParquetDataset(tmp_path).write_batch([make(1)])
    meta = pq.ParquetFile(path).metadata
    codecs = {
        meta.row_group(g).column(c).compression
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    }
    assert codecs == {"ZSTD"}
    file_schema = pq.read_schema(path)
    assert file_schema.names == FILE_SCHEMA.names
    assert file_schema.metadata[b"zhengwen.schema_version"] == b"1"


def test_each_batch_adds_a_new_part_and_never_rewrites_one(tmp_path: Path) -> None:
    dataset = ParquetDataset(tmp_path)
    (first,) = dataset.write_batch([make(1)])
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    (second,) = dataset.write_batch([make(2)])
    assert first != second and first.parent == second.parent
    assert hashlib.sha256(first.read_bytes()).hexdigest() == digest
    assert dataset.count() == 2


def test_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    ParquetDataset(tmp_path).write_batch([make(1), make(2, site="other")])
    assert temps(tmp_path) == []
    assert len(parts(tmp_path)) == 2


def test_failure_mid_write_leaves_no_visible_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = pq.write_table
    calls = 0

    def flaky_write(table: pa.Table, where: Any, **kwargs: Any) -> None:
        # The second partition dies half-way: the first is complete but not yet renamed.
        nonlocal calls
        calls += 1
        if calls == 2:
            Path(where).write_bytes(b"PAR1 half a file")
            raise OSError("disk full")
        real_write(table, where, **kwargs)

    monkeypatch.setattr(storage.parquet.pq, "write_table", flaky_write)
    dataset = ParquetDataset(tmp_path)
    with pytest.raises(OSError, match="disk full"):
        dataset.write_batch([make(1), make(2, site="other")])
    assert parts(tmp_path) == [] and temps(tmp_path) == []
    assert dataset.count() == 0


def test_crash_before_rename_leaves_only_an_ignored_temp(tmp_path: Path) -> None:
    # A real crash: the process dies between fsync and rename, so nothing can clean up.
    script = textwrap.dedent(
        f"""
        import os, sys
        from datetime import datetime, timezone
        from pathlib import Path
        from storage import Article, ParquetDataset
        os.replace = lambda *a: os._exit(3)
        art = Article(url="https://x.cn/1", site="demo", body="正文",
                      published_at=datetime(2024, 5, 1, tzinfo=timezone.utc))
        ParquetDataset(Path({str(tmp_path)!r})).write_batch([art])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=False)
    assert proc.returncode == 3
    (leftover,) = temps(tmp_path)
    assert not leftover.name.endswith(".parquet")
    assert parts(tmp_path) == []

    dataset = ParquetDataset(tmp_path)
    assert dataset.count() == 0 and dataset.read_table().num_rows == 0
    assert pq.read_table(tmp_path).num_rows == 0  # a plain pyarrow reader skips it too
    dataset.write_batch([make(1)])
    assert dataset.count() == 1

    assert dataset.cleanup_temp() == []  # young temp files may belong to a live writer
    an_hour_ago = leftover.stat().st_mtime - 7200
    os.utime(leftover, (an_hour_ago, an_hour_ago))
    assert dataset.cleanup_temp() == [leftover]
    assert temps(tmp_path) == []


def test_reading_back_equals_what_was_written(tmp_path: Path) -> None:
    written = [
        make(1),
        make(2, lead="导读", source="新华社", images=("https://img.example.cn/图.jpg",)),
        make(3, site="other", published_at=None, tags=()),
        make(4, updated_at=datetime(2024, 5, 3, 8, 0, 0, 999999, tzinfo=SHANGHAI)),
    ]
    dataset = ParquetDataset(tmp_path)
    dataset.write_batch(written)
    back = sorted(dataset.iter_articles(), key=lambda a: a.url)
    assert back == written
    assert back[0].published_at is not None and back[0].published_at.tzinfo is not None


def test_read_table_has_partition_columns(tmp_path: Path) -> None:
    dataset = ParquetDataset(tmp_path)
    dataset.write_batch([make(1), make(2, site="other", published_at=None)])
    table = dataset.read_table()
    assert table.column_names == [*field_names(), "date"]
    assert sorted(zip(table["site"].to_pylist(), table["date"].to_pylist(), strict=True)) == [
        ("demo", "2024-05-02"),
        ("other", "unknown"),
    ]
    only = dataset.read_table("other")
    assert only.num_rows == 1 and only["url"][0].as_py() == make(2).url
    assert dataset.count("demo") == 1 and dataset.count("absent") == 0
    # Read as-is by a plain hive-partitioned reader, without our schema.
    plain = pq.read_table(tmp_path)
    assert {"site", "date"} <= set(plain.column_names) and plain.num_rows == 2


def test_keys(tmp_path: Path) -> None:
    dataset = ParquetDataset(tmp_path)
    a, b = make(1), make(1, body="改写后的正文")
    dataset.write_batch([a])
    dataset.write_batch([b])
    assert dataset.keys() == {(a.url_hash, a.content_hash), (b.url_hash, b.content_hash)}
    assert dataset.keys("other") == set()


def test_empty_or_missing_dataset(tmp_path: Path) -> None:
    dataset = ParquetDataset(tmp_path / "not-yet")
    assert dataset.write_batch([]) == []
    assert not dataset.root.exists()
    assert dataset.count() == 0
    assert dataset.read_table().column_names == [*field_names(), "date"]
    assert dataset.keys() == set() and dataset.cleanup_temp() == []


@pytest.mark.parametrize("site", ["../escape", "Demo", "a/b", "", ".hidden", "x" * 65, "新闻"])
def test_site_names_cannot_escape_the_root(tmp_path: Path, site: str) -> None:
    root = tmp_path / "parquet"
    with pytest.raises(ValueError, match="site name"):
        ParquetDataset(root).write_batch([make(1), make(2, site=site)])
    assert not root.exists()


def test_naive_datetimes_are_refused(tmp_path: Path) -> None:
    naive = make(1, fetched_at=datetime(2024, 5, 1) + timedelta(hours=1))
    with pytest.raises(ValueError, match="naive"):
        ParquetDataset(tmp_path).write_batch([naive])
    assert parts(tmp_path) == []


def test_a_batch_over_more_partitions_than_descriptors_is_written_whole(tmp_path: Path) -> None:
    # A backfill batch spans years of days: one held temp file per partition used to exhaust
    # the process's descriptors (EMFILE) and lose the whole batch.
    script = textwrap.dedent(
        f"""
        import resource
        from datetime import datetime, timedelta, timezone
        from pathlib import Path
        from storage import Article, ParquetDataset
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        day = datetime(2020, 1, 1, 8, tzinfo=timezone.utc)
        arts = [Article(url=f"https://x.cn/{{i}}", site="demo", body=f"正文 {{i}}",
                        published_at=day + timedelta(days=i)) for i in range(400)]
        print(len(ParquetDataset(Path({str(tmp_path)!r})).write_batch(arts)))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, check=False, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "400"
    assert len(parts(tmp_path)) == 400 and temps(tmp_path) == []
    assert ParquetDataset(tmp_path).count() == 400
