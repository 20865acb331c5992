"""The raw archive: every fetched HTTP exchange, as WARC 1.1 files that any WARC tool reads.

Why keep raw pages at all: extraction improves, and a better extractor should be able to
re-read everything ever fetched without fetching it again (``zhengwen reextract``).

Layout: ``raw/<site>/<site>-<UTC stamp>-<id>.warc.gz`` (gzip per record, so a reader can seek
to any record), plus ``raw/index.sqlite``, the last archived payload of each URL (so a page
fetched again with identical bytes becomes a small *revisit* record, across runs too).

Crash safety: a file is written as ``<name>.warc.gz.open`` and renamed to ``<name>.warc.gz``
only when it is closed (fsynced first), so a name ending in ``.warc.gz`` is always a complete
file. A crash leaves an ``.open`` file whose last record may be cut; `recover_open_files`
(run when a writer opens a site) truncates it after its last whole record and renames it.
The writer holds an exclusive lock on the file it writes, so recovery never touches a file a
live crawl is still writing. The index is committed only after the records it points to are
flushed and fsynced.

This module knows nothing of Scrapy: it takes plain `Exchange` values.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sqlite3
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlsplit

# warcio ships no type information.
from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

from storage.locks import enable_wal
from storage.validation import SITE_NAME_RE

try:  # POSIX: the lock that keeps recovery away from a file a live writer holds
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_MAX_BYTES: Final = 100 * 1024 * 1024
"""Rotate after ~100 MB: large enough that a site's run is a handful of files, small enough to
copy, check or delete one at a time."""
WARC_SUFFIX: Final = ".warc.gz"
OPEN_SUFFIX: Final = ".open"
INDEX_NAME: Final = "index.sqlite"
SOFTWARE: Final = "zhengwen/0.1 (warcio 1.8.1)"

PROFILE_IDENTICAL: Final = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED: Final = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

#: Our own WARC headers (WARC 1.1 allows extension fields; readers ignore what they do not know).
H_SITE: Final = "WARC-Zhengwen-Site"
H_KIND: Final = "WARC-Zhengwen-Kind"
H_RUN: Final = "WARC-Zhengwen-Run"

# Hop-by-hop framing Scrapy has already undone: the stored body is de-chunked, so keeping the
# header would tell readers to de-chunk it again.
_DROPPED_RESPONSE_HEADERS: Final = frozenset({"transfer-encoding"})


@dataclass(frozen=True, slots=True)
class Exchange:
    """One fetched request and its response, as plain values (what the crawler hands over).

    ``body`` is the response entity as received: still compressed when the server sent
    ``Content-Encoding`` (the headers say how to decode it), never de-chunked twice.
    """

    url: str
    site: str
    status: int
    body: bytes
    fetched_at: datetime
    method: str = "GET"
    request_headers: Sequence[tuple[str, str]] = ()
    request_body: bytes = b""
    response_headers: Sequence[tuple[str, str]] = ()
    protocol: str = "HTTP/1.1"
    kind: str | None = None
    """``article``, ``list`` or None (robots.txt, anything else)."""
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """What `RawArchiveWriter.write` did with one exchange."""

    record_type: str
    """``response`` or ``revisit``."""
    profile: str | None
    file: Path
    offset: int
    bytes: int
    """Compressed bytes added to the file (response/revisit and request records)."""


@dataclass(slots=True)
class _Latest:
    digest: str
    record_id: str
    warc_date: str
    file: str
    offset: int
    length: int
    status: int
    site: str


def payload_digest(body: bytes) -> str:
    """The WARC payload digest (``sha1:`` + base32), as warcio and every WARC tool write it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def warc_date(moment: datetime) -> str:
    """WARC 1.1 date with microseconds: re-extraction sets ``fetched_at`` from it exactly."""
    if moment.tzinfo is None:
        raise ValueError(f"fetched_at must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_warc_date(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(UTC)


def site_dir_name(site: str) -> str:
    """A folder name for any site string: valid site names as they are, others made safe.

    Config names are already safe (storage.validation); anything else (a name from another
    tool, an empty string) is reduced to safe characters plus a hash so two names cannot merge.
    """
    if SITE_NAME_RE.match(site):
        return site
    cleaned = re.sub(r"[^a-z0-9_-]+", "_", site.lower()).strip("_")[:40] or "site"
    return f"{cleaned}-{hashlib.sha1(site.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # pragma: no cover - NTFS journals metadata; dirs cannot be opened
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _try_lock(fh: IO[bytes]) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class RawIndex:
    """``raw/index.sqlite``: per URL, the last response record that carried a payload.

    One row per URL (the newest wins), so the index stays as small as the set of URLs, and a
    revisit can name the record it repeats (file, offset, record id, date) without a scan.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Used by one thread at a time (the owner serialises access), not always the creating one.
        self.conn = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        enable_wal(self.conn)  # retried: crawls of several sites open a fresh index at once
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_latest ("
            " url TEXT PRIMARY KEY, site TEXT NOT NULL, payload_digest TEXT NOT NULL,"
            " record_id TEXT NOT NULL, warc_date TEXT NOT NULL, file TEXT NOT NULL,"
            " offset INTEGER NOT NULL, length INTEGER NOT NULL, status INTEGER NOT NULL)"
        )

    def get(self, url: str) -> _Latest | None:
        row = self.conn.execute(
            "SELECT payload_digest, record_id, warc_date, file, offset, length, status, site"
            " FROM raw_latest WHERE url = ?",
            (url,),
        ).fetchone()
        return None if row is None else _Latest(*row)

    def put_many(self, rows: dict[str, _Latest]) -> None:
        if not rows:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                "INSERT OR REPLACE INTO raw_latest (url, site, payload_digest, record_id,"
                " warc_date, file, offset, length, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        u,
                        r.site,
                        r.digest,
                        r.record_id,
                        r.warc_date,
                        r.file,
                        r.offset,
                        r.length,
                        r.status,
                    )
                    for u, r in rows.items()
                ],
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM raw_latest").fetchone()[0])

    def close(self) -> None:
        self.conn.close()


#: zlib level of the per-record gzip members. warcio compresses at 9; on news HTML 6 (gzip's own
#: default) makes files 2 % larger and costs a third less CPU, on the crawler's busiest thread.
GZIP_LEVEL = 6


class _GzipMember:
    """One gzip member around one record: warcio writes the record, then flushes."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.zip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> None:
        self.out.write(self.zip.compress(data))

    def flush(self) -> None:
        self.out.write(self.zip.flush())
        self.out.flush()


class _GzipWARCWriter(WARCWriter):  # type: ignore[misc]
    """warcio's WARC 1.1 writer with our gzip level, one member per record as before."""

    def __init__(self, fh: IO[bytes]) -> None:
        super().__init__(fh, gzip=False, warc_version="1.1")

    def _write_warc_record(self, out: IO[bytes], record: Any) -> Any:
        return super()._write_warc_record(_GzipMember(out), record)


@dataclass(slots=True)
class _OpenFile:
    final: Path
    tmp: Path
    fh: IO[bytes]
    writer: WARCWriter


class RawArchiveWriter:
    """Writes exchanges to rotating per-site WARC files. Use from one thread only.

    `write` buffers in the OS; `flush` makes everything written so far durable (fsync) and
    then commits the index; `close` flushes, closes and renames every open file.
    """

    def __init__(
        self, raw_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES, *, software: str = SOFTWARE
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.raw_dir = Path(raw_dir)
        self.max_bytes = max_bytes
        self.software = software
        #: Final paths of the files closed so far (rotation or close), in order.
        self.closed_files: list[Path] = []
        self._files: dict[str, _OpenFile] = {}
        self._index: RawIndex | None = None
        # Written since the last flush, not yet in the index. Everything older is looked up in
        # the index: a cache of every URL ever written would grow with the crawl (~0.6 KB a URL,
        # 30 MB at 50,000 pages).
        self._pending: dict[str, _Latest] = {}
        self._recovered: set[str] = set()

    @property
    def index(self) -> RawIndex:
        if self._index is None:
            self._index = RawIndex(self.raw_dir / INDEX_NAME)
        return self._index

    # -- writing --------------------------------------------------------------------------

    def write(self, ex: Exchange) -> Written:
        digest = payload_digest(ex.body)
        previous = self._previous(ex.url)
        date = warc_date(ex.fetched_at)
        extra = {H_SITE: ex.site}
        if ex.kind:
            extra[H_KIND] = ex.kind
        if ex.run_id:
            extra[H_RUN] = ex.run_id
        http = StatusAndHeaders(
            _status_line(ex.status),
            [(k, v) for k, v in ex.response_headers if k.lower() not in _DROPPED_RESPONSE_HEADERS],
            protocol=ex.protocol or "HTTP/1.1",
        )
        out = self._file_for(ex.site)
        builder = out.writer
        if ex.status == HTTPStatus.NOT_MODIFIED:
            record = builder.create_warc_record(
                ex.url,
                "revisit",
                http_headers=http,
                warc_headers_dict={"WARC-Date": date, "WARC-Profile": PROFILE_NOT_MODIFIED},
            )
            if previous is not None:
                _add_refers_to(record, ex.url, previous)
        elif previous is not None and ex.body and previous.digest == digest:
            record = builder.create_warc_record(
                ex.url,
                "revisit",
                http_headers=http,
                warc_headers_dict={
                    "WARC-Date": date,
                    "WARC-Profile": PROFILE_IDENTICAL,
                    "WARC-Payload-Digest": digest,
                },
            )
            _add_refers_to(record, ex.url, previous)
        else:
            record = builder.create_warc_record(
                ex.url,
                "response",
                payload=BytesIO(ex.body),
                length=len(ex.body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": digest},
            )
        for key, value in extra.items():
            record.rec_headers.add_header(key, value)
        request = builder.create_warc_record(
            ex.url,
            "request",
            payload=BytesIO(ex.request_body),
            length=len(ex.request_body),
            http_headers=_request_headers(ex),
            warc_headers_dict={"WARC-Date": date},
        )
        for key, value in extra.items():
            request.rec_headers.add_header(key, value)
        start = out.fh.tell()
        builder.write_record(record)
        middle = out.fh.tell()
        # Written after its response and pointing at it: WARC-Concurrent-To links the pair.
        request.rec_headers.add_header(
            "WARC-Concurrent-To", record.rec_headers.get_header("WARC-Record-ID")
        )
        builder.write_record(request)
        end = out.fh.tell()
        if record.rec_type == "response" and ex.body:
            latest = _Latest(
                digest=digest,
                record_id=record.rec_headers.get_header("WARC-Record-ID"),
                warc_date=date,
                file=str(out.final.relative_to(self.raw_dir)),
                offset=start,
                length=middle - start,
                status=ex.status,
                site=ex.site,
            )
            self._pending[ex.url] = latest
        written = Written(
            record_type=record.rec_type,
            profile=record.rec_headers.get_header("WARC-Profile"),
            file=out.final,
            offset=start,
            bytes=end - start,
        )
        if end >= self.max_bytes:
            self._close_file(ex.site)
        return written

    def _previous(self, url: str) -> _Latest | None:
        found = self._pending.get(url)
        return found if found is not None else self.index.get(url)

    def _file_for(self, site: str) -> _OpenFile:
        current = self._files.get(site)
        if current is not None:
            return current
        folder = self.raw_dir / site_dir_name(site)
        if site not in self._recovered:
            self._recovered.add(site)
            recover_open_files(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        final = folder / f"{site_dir_name(site)}-{stamp}-{uuid.uuid4().hex[:8]}{WARC_SUFFIX}"
        tmp = final.with_name(final.name + OPEN_SUFFIX)
        fh = open(tmp, "xb")  # closed in _close_file
        _try_lock(fh)
        writer = _GzipWARCWriter(fh)
        info = writer.create_warcinfo_record(
            final.name,
            {
                "software": self.software,
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "isPartOf": site,
                "description": "zhengwen raw archive: HTTP exchanges as received (see docs/raw-archive.md)",
            },
        )
        writer.write_record(info)
        current = _OpenFile(final=final, tmp=tmp, fh=fh, writer=writer)
        self._files[site] = current
        return current

    # -- durability -----------------------------------------------------------------------

    def flush(self) -> None:
        """Make every record written so far durable, then record them in the index."""
        for f in self._files.values():
            f.fh.flush()
            os.fsync(f.fh.fileno())
        self.index.put_many(self._pending)
        self._pending.clear()

    def _close_file(self, site: str) -> None:
        f = self._files.pop(site)
        f.fh.flush()
        os.fsync(f.fh.fileno())
        f.fh.close()
        os.replace(f.tmp, f.final)
        _fsync_dir(f.final.parent)
        self.closed_files.append(f.final)
        # Index rows point at the final name; commit them only now that it exists.
        self.index.put_many(self._pending)
        self._pending.clear()

    def close(self) -> None:
        try:
            for site in list(self._files):
                self._close_file(site)
            if self._pending:
                self.index.put_many(self._pending)
                self._pending.clear()
        finally:
            if self._index is not None:
                self._index.close()
                self._index = None


def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{status} {phrase}"


def _request_headers(ex: Exchange) -> StatusAndHeaders:
    parts = urlsplit(ex.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = list(ex.request_headers)
    # The download handler adds Host itself; a request record without it would be incomplete.
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    # is_http_request: warcio then writes the line as "GET /path HTTP/1.1", verb first.
    return StatusAndHeaders(f"{ex.method} {target} HTTP/1.1", headers, is_http_request=True)


def _add_refers_to(record: Any, url: str, previous: _Latest) -> None:
    record.rec_headers.add_header("WARC-Refers-To", previous.record_id)
    record.rec_headers.add_header("WARC-Refers-To-Target-URI", url)
    record.rec_headers.add_header("WARC-Refers-To-Date", previous.warc_date)


# -- crash recovery -------------------------------------------------------------------------


def recover_open_files(folder: Path) -> list[Path]:
    """Finish files a crashed writer left as ``.open``: keep every whole record, then rename.

    Each record is its own gzip member, so the whole records are exactly the members that
    decompress completely; the file is cut after the last one. Files another process still
    holds locked are left alone. Returns the recovered final paths.
    """
    recovered: list[Path] = []
    if not folder.is_dir():
        return recovered
    for tmp in sorted(folder.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}")):
        with open(tmp, "r+b") as fh:
            if not _try_lock(fh):
                continue
            good = whole_members_end(fh)
            fh.truncate(good)
            fh.flush()
            os.fsync(fh.fileno())
        final = tmp.with_name(tmp.name[: -len(OPEN_SUFFIX)])
        if good == 0:
            tmp.unlink()
            continue
        os.replace(tmp, final)
        recovered.append(final)
    if recovered:
        _fsync_dir(folder)
    return recovered


def whole_members_end(fh: IO[bytes]) -> int:
    """Offset just after the last gzip member that decompresses completely (streamed).

    Our files hold one record per gzip member, so this is where the whole records end; past
    it lies a record cut by a crash or damaged later (the gzip CRC catches flipped bits).
    """
    fh.seek(0)
    end = 0  # end of the last whole member
    fed = 0  # bytes of the current member consumed so far
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    buf = b""
    while True:
        if not buf:
            buf = fh.read(1 << 20)
            if not buf:
                return end
        try:
            d.decompress(buf)
        except zlib.error:
            return end
        if d.eof:
            end += fed + len(buf) - len(d.unused_data)
            buf, fed = d.unused_data, 0
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            fed += len(buf)
            buf = b""


def iter_warc_files(raw_dir: Path, site: str | None = None) -> Iterator[Path]:
    """Archive files in name (= time) order, ``.open`` ones included so a reader can report them."""
    base = Path(raw_dir)
    folders = [base / site_dir_name(site)] if site is not None else sorted(base.glob("*/"))
    for folder in folders:
        if not folder.is_dir():
            continue
        files = [*folder.glob(f"*{WARC_SUFFIX}"), *folder.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}")]
        yield from sorted(files, key=lambda p: p.name)
