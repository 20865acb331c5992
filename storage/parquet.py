"""The Parquet dataset: an append-only, hive-partitioned, zstd-compressed copy of every version.

Layout: ``<root>/site=<site>/date=<YYYY-MM-DD|unknown>/part-<UTC stamp>-<uuid>.parquet``. The
partition columns live in the folder names only (``site`` is not stored in the files), which is
what pyarrow, pandas, DuckDB and polars expect of hive partitioning.

Each batch writes one new part per partition and never touches an existing file: parts are
written under ``.tmp-<uuid>`` in the target folder, fsynced, renamed with `os.replace` and the
folder fsynced, so a crash leaves at most a dot-file that every reader skips (pyarrow and pandas
ignore names starting with ``.``, and the temp name does not end in ``.parquet`` for glob-based
readers). The writer holds a ``flock`` on each temp file until it is renamed; the kernel drops
it when the writer dies, which is how `ParquetDataset.cleanup_temp` tells a dead writer's
leftovers from a live writer's files (`storage.tempfiles`, shared with exports). A URL appears once per content version it had when written; the SQL archive holds
the current version.
"""

from __future__ import annotations

import os
import types
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import fields
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Union, get_args, get_origin, get_type_hints

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from storage import testhooks
from storage.article import Article, field_names
from storage.tempfiles import TEMP_MARK, create_locked, sweep
from storage.tempfiles import TEMP_MIN_AGE as TEMP_MIN_AGE  # re-exported: the kill tests use it
from storage.validation import validate_article, validate_site

SCHEMA_VERSION: Final = "1"
TEMP_PREFIX: Final = TEMP_MARK
PARTITION_COLUMNS: Final = ("site", "date")
UNKNOWN_DATE: Final = "unknown"
COMPRESSION: Final = "zstd"
#: Part files a batch holds open at most (`ParquetDataset.write_batch`); fewer when the
#: process's descriptor limit is low (a quarter of it, for the crawl's own sockets and files).
MAX_OPEN_PARTS: Final = 1000


def max_open_parts() -> int:
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # no resource module (Windows)
        return MAX_OPEN_PARTS
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_OPEN_PARTS
    return max(1, min(MAX_OPEN_PARTS, soft // 4))


def _arrow_type(hint: Any) -> tuple[pa.DataType, bool]:
    """(Arrow type, nullable) for an `Article` field's type hint; new hint kinds fail loudly."""
    nullable = False
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {hint!r}")
        hint, nullable = args[0], True
    if hint is str:
        return pa.string(), nullable
    if hint is int:
        return pa.int64(), nullable
    if hint is datetime:
        return pa.timestamp("us", tz="UTC"), nullable
    if get_origin(hint) is tuple and get_args(hint) == (str, ...):
        return pa.list_(pa.string()), nullable
    raise TypeError(f"no Parquet type for {hint!r}: extend storage.parquet._arrow_type")


def _build_schema() -> pa.Schema:
    hints = get_type_hints(Article)
    columns = []
    for f in fields(Article):
        arrow_type, nullable = _arrow_type(hints[f.name])
        columns.append(pa.field(f.name, arrow_type, nullable=nullable))
    return pa.schema(columns, metadata={"zhengwen.schema_version": SCHEMA_VERSION})


#: Every `Article` field in declaration order: the logical schema of the dataset.
SCHEMA: Final[pa.Schema] = _build_schema()
#: What a part file holds: `SCHEMA` without ``site``, which its folder name carries.
FILE_SCHEMA: Final[pa.Schema] = SCHEMA.remove(SCHEMA.get_field_index("site"))
_PARTITIONING: Final = ds.partitioning(
    pa.schema([("site", pa.string()), ("date", pa.string())]), flavor="hive"
)
_READ_SCHEMA: Final[pa.Schema] = pa.schema(
    [*FILE_SCHEMA, pa.field("site", pa.string()), pa.field("date", pa.string())],
    metadata=SCHEMA.metadata,
)
_READ_COLUMNS: Final = [*field_names(), "date"]


class ParquetDataset:
    """One dataset folder. ``partition_tz`` picks the zone of the ``date=`` folders.

    By default an article goes under the calendar date of its ``published_at`` in the offset
    the page gave (what a reader of that portal calls its date); pass a zone (e.g.
    ``ZoneInfo("Asia/Shanghai")``) to partition by one fixed zone instead, which matters when
    writing articles read back from SQL, where times come back in UTC.
    """

    def __init__(self, root: Path, *, partition_tz: tzinfo | None = None) -> None:
        self.root = Path(root)
        self.partition_tz = partition_tz

    def __repr__(self) -> str:
        return f"ParquetDataset({str(self.root)!r})"

    def partition_date(self, article: Article) -> str:
        published = article.published_at
        if published is None:
            return UNKNOWN_DATE
        local = published.astimezone(self.partition_tz) if self.partition_tz else published
        return local.date().isoformat()

    def partition_dir(self, site: str, date: str) -> Path:
        return self.root / f"site={validate_site(site)}" / f"date={date}"

    def write_batch(self, articles: Iterable[Article]) -> list[Path]:
        """Write one new part file per partition; returns the final paths.

        All parts are written and fsynced before the first rename, so a failure while writing
        leaves none of the batch visible; only a failure between renames (a crash in a window
        of a few syscalls) can leave part of a batch, each part whole. A batch spanning more
        than `MAX_OPEN_PARTS` partitions (a backfill of years of many sites) is written that
        many parts at a time, each group as above: each temp file is held open and locked until
        renamed, and a process may hold only so many descriptors.
        """
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for article in articles:
            validate_article(article)
            row = article.to_dict()
            del row["site"]
            groups.setdefault((article.site, self.partition_date(article)), []).append(row)
        if not groups:
            return []
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        items = list(groups.items())
        bound = max_open_parts()
        written: list[Path] = []
        for start in range(0, len(items), bound):
            written += self._write_parts(items[start : start + bound], stamp)
        return written

    def _write_parts(
        self, parts: list[tuple[tuple[str, str], list[dict[str, Any]]]], stamp: str
    ) -> list[Path]:
        pending: list[tuple[Path, Path]] = []
        to_sync: set[Path] = set()
        held: list[int] = []  # temp files' descriptors, locked until renamed
        try:
            for (site, date), rows in parts:
                folder = self.partition_dir(site, date)
                for created in _make_dirs(folder):
                    to_sync.add(created.parent)
                to_sync.add(folder)
                tmp = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
                final = folder / f"part-{stamp}-{uuid.uuid4().hex}.parquet"
                fd = create_locked(tmp)
                held.append(fd)
                pending.append((tmp, final))
                table = pa.Table.from_pylist(rows, schema=FILE_SCHEMA)
                pq.write_table(table, tmp, compression=COMPRESSION)  # the same, locked inode
                os.fsync(fd)
            testhooks.crashpoint("parquet.before_rename")
            for i, (tmp, final) in enumerate(pending):
                os.replace(tmp, final)
                if i == 0 and len(pending) > 1:
                    testhooks.crashpoint("parquet.between_renames")
        except BaseException:
            for tmp, _final in pending:
                tmp.unlink(missing_ok=True)
            raise
        finally:
            for fd in held:
                os.close(fd)
        for folder in sorted(to_sync, key=lambda p: len(p.parts), reverse=True):
            _fsync_path(folder)
        return [final for _tmp, final in pending]

    def _dataset(self) -> ds.Dataset:
        return ds.dataset(
            self.root,
            format="parquet",
            schema=_READ_SCHEMA,
            partitioning=_PARTITIONING,
            ignore_prefixes=[".", "_"],
        )

    def read_table(
        self,
        site: str | None = None,
        columns: list[str] | None = None,
        *,
        exclude_duplicates: bool = False,
    ) -> pa.Table:
        """All rows (of one site) with ``site`` and ``date`` as columns, in `SCHEMA` order.

        ``exclude_duplicates`` drops rows written as exact or near copies (``duplicate_of``
        set when written; SQL holds the current links, see docs/duplicates.md).
        """
        wanted = _READ_COLUMNS if columns is None else columns
        if not self.root.is_dir():
            return _READ_SCHEMA.empty_table().select(wanted)
        filt = None if site is None else ds.field("site") == validate_site(site)
        if exclude_duplicates:
            originals = ds.field("duplicate_of").is_null()
            filt = originals if filt is None else filt & originals
        return self._dataset().to_table(columns=wanted, filter=filt)

    def count(self, site: str | None = None) -> int:
        if not self.root.is_dir():
            return 0
        filt = None if site is None else ds.field("site") == validate_site(site)
        return int(self._dataset().count_rows(filter=filt))

    def keys(self, site: str | None = None) -> set[tuple[str, str]]:
        """(url_hash, content_hash) of every stored row: what a restarted run must not rewrite."""
        table = self.read_table(site, columns=["url_hash", "content_hash"])
        return set(
            zip(table["url_hash"].to_pylist(), table["content_hash"].to_pylist(), strict=True)
        )

    def iter_articles(
        self, site: str | None = None, *, exclude_duplicates: bool = False
    ) -> Iterator[Article]:
        """Rows rebuilt as `Article` values (times in UTC)."""
        for row in self.read_table(site, exclude_duplicates=exclude_duplicates).to_pylist():
            del row["date"]
            row["tags"] = tuple(row["tags"] or ())
            row["images"] = tuple(row["images"] or ())
            yield Article(**row)

    def cleanup_temp(self) -> list[Path]:
        """Delete temp files left by crashed writers; returns what was removed.

        A temp file goes when no process holds its lock (its writer died: a crawl of another
        site writing into the same dataset right now keeps its in-flight files, however old)
        and it is older than `TEMP_MIN_AGE` (`storage.tempfiles.sweep`).
        """
        return sweep(self.root, recursive=True)


def _make_dirs(folder: Path) -> list[Path]:
    """mkdir -p that reports which folders it created (their parents need an fsync)."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _fsync_path(path: Path) -> None:
    # A directory fsync makes a rename or new entry durable (POSIX); Windows cannot open
    # directories this way, and its NTFS journal covers metadata.
    flags = os.O_RDONLY if path.is_dir() else os.O_RDWR
    try:
        fd = os.open(path, flags)
    except (IsADirectoryError, PermissionError):
        if os.name == "nt":
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
