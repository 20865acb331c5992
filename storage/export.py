"""Datasets cut out of the archive: Parquet, JSON Lines or CSV, with a dataset card.

Streaming: rows come from `Archive.batches` in batches of `ROWS_PER_BATCH` and go straight to
the output, so memory stays flat whatever the archive's size. The order is deterministic
(site, published_at with unknown dates last, url_hash): two exports of the same archive with the
same filters are byte-identical; only the card's export time differs.

Atomic: the data file and the card are written under temp names (``.<name>.tmp-<uuid>``) in
the target folder, fsynced and renamed, so a failure leaves no half file and never replaces an
earlier export with a broken one. The export holds a ``flock`` on its temp files while it writes
them (`storage.tempfiles`), and starts by removing those of an export killed in the same folder
(unlocked, older than `storage.tempfiles.TEMP_MIN_AGE`); an exception, or a SIGTERM/SIGINT that
``zhengwen export`` turns into one, removes its own.

Where the files go: ``out`` is the data file (``news.parquet``) and the card is written beside
it as ``<name>.README.md`` (``news.parquet.README.md``: exports of one selection in several
formats keep one card each). When ``out`` is an existing folder (or a path
ending in ``/``), the data goes to ``<out>/articles.<format>`` and the card to
``<out>/README.md``: the layout a dataset hub expects, so the folder can be shared as it is.

Formats: Parquet uses the archive's schema (`storage.parquet.SCHEMA`, ``site`` included, plain
Arrow types: string, int64, timestamp[us, UTC], list<string>), zstd, row groups of
`ROWS_PER_BATCH`. JSON Lines: one object per line, UTF-8 (Chinese unescaped), times in ISO 8601
with their offset (UTC). CSV: a header row, lists as JSON text, null as an empty cell.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal, Unpack

from storage import tempfiles, testhooks
from storage.parquet import COMPRESSION
from storage.query import Archive, FilterArgs, Filters, QueryError, arrow_schema, check_fields

if TYPE_CHECKING:
    import pyarrow as pa

Format = Literal["parquet", "jsonl", "csv"]
FORMATS: Final[tuple[str, ...]] = ("parquet", "jsonl", "csv")
#: Rows per batch and per Parquet row group: a few MB of text, flat memory, efficient reads.
ROWS_PER_BATCH: Final = 5000
CARD_NAME: Final = "README.md"
DATA_STEM: Final = "articles"

#: What each column means, for the dataset card (the long form is docs/schema.md).
FIELD_DOCS: Final[dict[str, str]] = {
    "url": "canonical URL of the article",
    "site": "site config name (sites/<site>.toml) the article was crawled from",
    "body": "body text, one paragraph or sub-heading per line, without the site's chrome",
    "title": "headline; null when the page has none",
    "lead": "lead / summary (导读, 摘要) when the page shows one",
    "published_at": "publication time (UTC instant); null when the page gives none",
    "updated_at": "update time shown by the page (UTC instant)",
    "source": "original publisher (来源), distinct from the site carrying the copy",
    "author": "author / byline",
    "editor": "responsible editor (责任编辑)",
    "category": "section, from the breadcrumb",
    "site_name": "the site's display name",
    "tags": "keywords / tags the page lists (empty list when none)",
    "language": "BCP 47 language tag, when detected",
    "images": "image URLs in the body (empty list when none)",
    "fetched_url": "the URL actually fetched (differs from url when the page names another)",
    "fetched_at": "when the page was fetched (UTC)",
    "first_seen": "when the archive first saw this URL (UTC)",
    "last_seen": "when the archive last saw this URL (UTC)",
    "crawl_run_id": "id of the crawl run that wrote this version",
    "extraction_version": "version of the extractor that produced the record",
    "url_hash": "SHA-1 hex of url: the record's key",
    "content_hash": "SHA-256 hex of the whitespace-normalised title and body",
    "simhash": "64-bit simhash of body as a signed integer (near-duplicate detection)",
    "duplicate_of": "url_hash of the earliest copy of the same story; null for an original",
    "canonical_url": "canonical URL the page declares (another publisher's for a syndicated copy); null if none",
}

Progress = Callable[[int, int], None]
"""Called with (rows written so far, total rows to write) after each batch."""

COMPRESSION_LEVEL: Final = 1
"""zstd level of exported Parquet files (the archive's own files keep the default)."""


class ExportError(Exception):
    """The export cannot be written (bad format, unwritable target)."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    card: Path
    format: str
    rows: int
    per_site: dict[str, int]
    first_published_at: datetime | None
    last_published_at: datetime | None
    without_date: int
    fields: list[str]
    filters: dict[str, Any] = field(default_factory=dict)


def targets(out: str | os.PathLike[str], fmt: str) -> tuple[Path, Path]:
    """(data file, card file) for an ``out`` argument (see the module docstring)."""
    raw = os.fspath(out)
    path = Path(raw)
    if path.is_dir() or raw.endswith(("/", os.sep)):
        return path / f"{DATA_STEM}.{fmt}", path / CARD_NAME
    return path, path.with_name(f"{path.name}.{CARD_NAME}")


def export(
    archive: Archive,
    out: str | os.PathLike[str],
    format: Format,
    *,
    fields: Sequence[str] | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    **filter_args: Unpack[FilterArgs],
) -> ExportResult:
    """Write the matching articles to ``out`` in ``format``, with a dataset card beside it."""
    if format not in FORMATS:
        raise QueryError(f"unknown format {format!r}; one of {', '.join(FORMATS)}")
    chosen = check_fields(fields)
    filters = Filters.build(**filter_args)
    data_path, card_path = targets(out, format)
    folder = data_path.parent
    if not folder.is_dir() and os.fspath(out).endswith(("/", os.sep)) and folder.parent.is_dir():
        # ``--out dataset/`` names a folder to write into: made here (its parent must exist,
        # so that a mistyped path is an error, not a tree of new folders).
        folder.mkdir()
    if not folder.is_dir():
        raise ExportError(f"no folder {folder} to write {data_path.name} into")
    if data_path.is_dir():
        raise ExportError(f"{data_path} is a folder")
    # The card's statistics need the site and date of every row, whatever ``fields`` keeps.
    read = chosen + [f for f in ("site", "published_at") if f not in chosen]
    total = archive.count(filters)
    stats = _Stats()
    batches = _counted(
        archive.batches(filters, read, order="site", size=ROWS_PER_BATCH), stats, total, progress
    )
    writer = _WRITERS[format]
    # What an export killed in this folder left behind (its temp files, unlocked once it died).
    tempfiles.sweep(folder)
    with tempfiles.locked_temp(data_path) as data_tmp, tempfiles.locked_temp(card_path) as card_tmp:
        writer(data_tmp, batches, chosen)
        result = ExportResult(
            path=data_path,
            card=card_path,
            format=format,
            rows=stats.rows,
            per_site=dict(sorted(stats.per_site.items())),
            first_published_at=stats.first,
            last_published_at=stats.last,
            without_date=stats.without_date,
            fields=chosen,
            filters=filters.describe(),
        )
        card_tmp.write_text(dataset_card(result, now or datetime.now(UTC)), encoding="utf-8")
        _fsync(card_tmp)
        testhooks.crashpoint("export.before_rename")
        os.replace(data_tmp, data_path)
        os.replace(card_tmp, card_path)
        _fsync(data_path.parent)
    return result


@dataclass(slots=True)
class _Stats:
    rows: int = 0
    per_site: dict[str, int] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    without_date: int = 0


def _counted(
    batches: Iterator[pa.RecordBatch], stats: _Stats, total: int, progress: Progress | None
) -> Iterator[pa.RecordBatch]:
    """The batches unchanged, with the card's statistics and the progress taken on the way."""
    import pyarrow.compute as pc

    for batch in batches:
        sites = batch.column("site")
        for entry in pc.value_counts(sites).to_pylist():
            stats.per_site[entry["values"]] = stats.per_site.get(entry["values"], 0) + int(
                entry["counts"]
            )
        published = batch.column("published_at")
        stats.without_date += published.null_count
        bounds = pc.min_max(published).as_py()
        if bounds["min"] is not None:
            stats.first = bounds["min"] if stats.first is None else min(stats.first, bounds["min"])
            stats.last = bounds["max"] if stats.last is None else max(stats.last, bounds["max"])
        stats.rows += batch.num_rows
        yield batch
        if progress is not None:
            progress(stats.rows, total)


def _write_parquet(path: Path, batches: Iterator[pa.RecordBatch], fields: list[str]) -> None:
    import pyarrow.parquet as pq

    schema = arrow_schema(fields)
    # zstd level 1: about as small as the default level 3 on text, in less of the export's time.
    with pq.ParquetWriter(
        path, schema, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL
    ) as writer:
        for batch in batches:
            writer.write_batch(batch.select(fields), row_group_size=ROWS_PER_BATCH)
    _fsync(path)


def json_value(value: Any) -> Any:
    """A time or date as ISO 8601 text (with its offset); anything else unchanged."""
    return value.isoformat() if isinstance(value, date | time) else value


def jsonl_lines(batches: Iterator[pa.RecordBatch], fields: list[str]) -> Iterator[str]:
    """The lines of a JSON Lines export (also streamed as they are by ``zhengwen serve``)."""
    for batch in batches:
        for row in batch.select(fields).to_pylist():
            record = {k: json_value(v) for k, v in row.items()}
            yield json.dumps(record, ensure_ascii=False) + "\n"


def _write_jsonl(path: Path, batches: Iterator[pa.RecordBatch], fields: list[str]) -> None:
    with _open_text(path) as f:
        for line in jsonl_lines(batches, fields):
            f.write(line)


def csv_value(value: Any) -> Any:
    """A CSV cell: lists (and any nested value) as JSON text, times as ISO 8601."""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return json_value(value)


def csv_lines(batches: Iterator[pa.RecordBatch], fields: list[str]) -> Iterator[str]:
    """The header and rows of a CSV export, one line (or quoted multi-line cell) at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(fields)
    yield take()
    for batch in batches:
        for row in batch.select(fields).to_pylist():
            writer.writerow([csv_value(row[k]) for k in fields])
            yield take()


def _write_csv(path: Path, batches: Iterator[pa.RecordBatch], fields: list[str]) -> None:
    with _open_text(path, newline="") as f:
        for line in csv_lines(batches, fields):
            f.write(line)


class _open_text:
    """A UTF-8 text file that is flushed and fsynced before it is closed."""

    def __init__(self, path: Path, newline: str | None = None) -> None:
        self._file: IO[str] = open(path, "w", encoding="utf-8", newline=newline)

    def __enter__(self) -> IO[str]:
        return self._file

    def __exit__(self, *_exc: object) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()


_WRITERS: Final[dict[str, Callable[[Path, Iterator[pa.RecordBatch], list[str]], None]]] = {
    "parquet": _write_parquet,
    "jsonl": _write_jsonl,
    "csv": _write_csv,
}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def zhengwen_version() -> str:
    try:
        return version("zhengwen")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def dataset_card(result: ExportResult, exported_at: datetime) -> str:
    """The README shipped with an export: what it holds, how it was cut, what each field is."""
    schema = arrow_schema(result.fields)
    out = io.StringIO()
    w = out.write
    # Front matter a dataset hub reads (Hugging Face dataset cards): which file is the data.
    w(f"---\nconfigs:\n- config_name: default\n  data_files: {result.path.name}\n---\n\n")
    w(f"# zhengwen export: {result.path.name}\n\n")
    w(
        f"{result.rows} news articles exported from a zhengwen (正文) archive as "
        f"{result.format}.\n\n"
    )
    w(f"- File: `{result.path.name}` ({result.format}")
    w(
        {"parquet": ", zstd", "jsonl": ", UTF-8, one JSON object per line", "csv": ", UTF-8"}[
            result.format
        ]
    )
    w(")\n")
    w(f"- Rows: {result.rows}\n")
    w(f"- Exported at: {exported_at.astimezone(UTC).isoformat(timespec='seconds')}\n")
    w(f"- zhengwen version: {zhengwen_version()}\n")
    w("- Order: site, then published_at (oldest first, unknown dates last), then url_hash\n")
    first = result.first_published_at
    last = result.last_published_at
    w("- Published: ")
    if first is None or last is None:
        w("no article has a publication time")
    else:
        w(f"{first.isoformat()} to {last.isoformat()} (UTC)")
    if result.without_date:
        w(f"; {result.without_date} without a publication time")
    w("\n\n## Filters\n\n")
    if result.filters:
        for name, value in result.filters.items():
            w(f"- {name}: `{value}`\n")
    else:
        w("None: every article of the archive.\n")
    w("\n## Articles per site\n\n| site | articles |\n|---|---|\n")
    for site, count in result.per_site.items():
        w(f"| {site} | {count} |\n")
    w("\n## Schema\n\n| field | type | meaning |\n|---|---|---|\n")
    for f in schema:
        w(f"| `{f.name}` | {_type_name(f.type)} | {FIELD_DOCS[f.name]} |\n")
    w(
        "\nTimes are UTC instants (the page's own offset is not kept). In CSV, lists are JSON "
        "text and an empty cell is a null. One row per canonical URL: its current version in "
        "the archive.\n"
    )
    return out.getvalue()


def _type_name(arrow_type: pa.DataType) -> str:
    text = str(arrow_type)
    return {"large_string": "string", "timestamp[us, tz=UTC]": "timestamp (µs, UTC)"}.get(
        text, text.replace("list<element: string>", "list<string>").replace("item: ", "")
    )
