"""Reading web archives made by others: WARC (per-record gzip, whole-file gzip or plain), ARC
and WACZ, as `zhengwen ingest` needs them.

Unlike `storage.raw_read` (our own files, written by one writer), these come from Heritrix,
browsertrix, Common Crawl or anyone: every record is untrusted. What cannot be used becomes a
`Skip` with a short stable reason (`SKIP_REASONS`) and the reading goes on: after a record
that does not parse (garbage, a wrong length), at the next record start found in the bytes;
a file cut short ends at the damage. Nothing here raises for bad input.

warcio parses the records (`bench/ingest.py` measured it against FastWARC). In a file with one
gzip member per record, a record the ingest does not use (a request, an off-site page, a
capture outside the dates) is passed over without inflating it: its WARC header is inflated,
and its member's end is the next gzip header whose preceding trailer holds the record's length
(`_pass_over`). Where that cannot be found, warcio reads the record as any other.
"""

from __future__ import annotations

import gzip
import logging
import mmap
import re
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, Final, cast

import warcio.archiveiterator  # type: ignore[import-untyped]
import warcio.bufferedreaders  # type: ignore[import-untyped]
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed  # type: ignore[import-untyped]

from storage.raw import parse_warc_date
from storage.raw_read import MAX_DECODED_BYTES, RawReadError, decode_content, whole_member_at

logger = logging.getLogger(__name__)

#: A payload larger than this (as stored, or once decoded) is skipped: no news page is near
#: it, and reading it whole would only cost memory.
MAX_PAYLOAD_BYTES: Final = 16 * 1024 * 1024

#: Why a record was not used: the counter keys of `IngestSummary.skipped`.
SKIP_REASONS: Final = {
    "not_html": "the payload is not an HTML page (image, PDF, script, robots.txt, ...)",
    "http_status": "an HTTP status other than 2xx",
    "too_large": f"the payload exceeds {MAX_PAYLOAD_BYTES // 2**20} MiB",
    "content_encoding": "the HTTP body does not decode (gzip, deflate, br) or decodes too large",
    "bad_record": "the record does not parse (garbage, a wrong length); reading resumed after it",
    "truncated": "the file ends inside a record (cut short); what came before was read",
    "bad_http": "the response record holds no parseable HTTP response",
}


class _ToLog:
    """warcio writes its "record not followed by newline" warnings straight to stderr; a
    damaged record is already reported as a `Skip`, so they go to the log instead."""

    def write(self, text: str) -> int:
        logger.debug("warcio: %s", text.strip())
        return len(text)


# warcio.archiveiterator uses ``sys`` for that write only.
warcio.archiveiterator.sys = SimpleNamespace(stderr=_ToLog())
_inflater: Any = zlib
try:  # zlib-ng inflates the same streams with about a third less CPU (bench/ingest.py)
    from zlib_ng import zlib_ng

    warcio.bufferedreaders.zlib = zlib_ng
    _inflater = zlib_ng
except ImportError:  # pragma: no cover - a pinned dependency; the stdlib's zlib still works
    pass
logging.getLogger("warcio").setLevel(logging.ERROR)  # "Replacing spaces in invalid URI"

_GZIP_MAGIC: Final = b"\x1f\x8b\x08"
_RECORD_START: Final = re.compile(rb"(?:^|\n)(WARC/1\.[01]\r?\n)")
_SCAN_CHUNK: Final = 1 << 20
#: warcio's read size (its default, 16 KiB, costs a Python call per 16 KiB).
_BLOCK: Final = 1 << 18
#: How often the pages of the file's mapping already passed are given back (`_release`).
_RELEASE_EVERY: Final = 64 << 20
#: How much of a member is inflated to find its WARC header (compressed in, inflated out):
#: most headers are in the first KiB; a header longer than the last is read by warcio.
_HEAD_TRIES: Final = ((1024, 2048), (4096, 16384))
#: The WARC header fields `_pass_over` reads, and the lines it leaves to warcio (folded, or
#: without a colon).
_FIELDS: Final = re.compile(
    rb"\r\n(WARC-Type|WARC-Target-URI|WARC-Date|Content-Length)[ \t]*:[ \t]*([^\r\n]*)", re.I
)
_ODD_LINE: Final = re.compile(rb"\r\n(?:[ \t]|[^:\r\n]*(?:\r\n|$))")
ARCHIVE_SUFFIXES: Final = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wacz")


@dataclass(frozen=True, slots=True)
class Capture:
    """A 2xx HTML response, its body decoded (chunked and Content-Encoding undone)."""

    source: str
    """The file (for a WACZ, ``file.wacz#archive/member.warc.gz``)."""
    offset: int
    url: str
    date: datetime
    record_id: str | None
    status: int
    content_type: str | None
    body: bytes
    payload_digest: str | None


@dataclass(frozen=True, slots=True)
class Revisit:
    """A revisit record: the same payload as an earlier response (by digest or record id)."""

    source: str
    offset: int
    url: str
    date: datetime
    record_id: str | None
    payload_digest: str | None
    refers_to: str | None


@dataclass(frozen=True, slots=True)
class Skip:
    source: str
    offset: int
    url: str | None
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Position:
    """Where reading stands: every record before ``offset`` has been yielded. ``offset`` is
    None where a file cannot be entered mid-way (one gzip stream over the whole file)."""

    source: str
    offset: int | None
    records: int


Item = Capture | Revisit | Skip | Position


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


#: ``wanted(url, capture time)``: None to read the record's payload, else the reason it is
#: not wanted (a `Skip` with that reason, its payload never read or decoded).
Wanted = Callable[[str, datetime], str | None]


def read_archive(
    path: Path, start: int = 0, wanted: Wanted | None = None
) -> Generator[Item, None, None]:
    """Every usable record of ``path`` from byte ``start`` on, as `Capture`, `Revisit` or
    `Skip`; a `Position` after each record (resume there). A WACZ is read member by member
    (``start`` is ignored: its members are compressed inside the zip)."""
    if path.name.lower().endswith(".wacz"):
        yield from _read_wacz(path, wanted)
        return
    with open(path, "rb") as fh:
        yield from _read_stream(fh, str(path), start, seekable=True, wanted=wanted)


def _read_wacz(path: Path, wanted: Wanted | None) -> Iterator[Item]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        yield Skip(str(path), 0, None, "bad_record", f"not a readable WACZ (zip): {exc}")
        return
    with zf:
        members = sorted(
            n for n in zf.namelist() if n.startswith("archive/") and is_archive(Path(n))
        )
        for name in members:
            with zf.open(name) as fh:
                yield from _read_stream(fh, f"{path}#{name}", 0, seekable=False, wanted=wanted)


def _read_stream(
    fh: IO[bytes], source: str, start: int, *, seekable: bool, wanted: Wanted | None = None
) -> Iterator[Item]:
    mapped = _map(fh) if seekable else None
    try:
        yield from _read_records(fh, source, start, seekable, wanted, mapped)
    finally:
        if mapped is not None:
            mapped.close()


def _map(fh: IO[bytes]) -> mmap.mmap | None:
    """The file's bytes mapped (to pass over members without reading them into Python), or
    None where it cannot be mapped (empty, not a regular file)."""
    try:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError, AttributeError):
        return None


def _release(mapped: mmap.mmap, released: int, at: int) -> int:
    """Pages of the mapping before ``at`` given back (every `_RELEASE_EVERY` bytes): a mapped
    page once read counts in the process's resident memory until then, so a 5 GB file read
    through would show as 5 GB of it (the page cache keeps the pages either way). Returns how
    far the mapping is given back."""
    upto = at - at % mmap.PAGESIZE
    if upto - released < _RELEASE_EVERY:
        return released
    if hasattr(mmap, "MADV_DONTNEED"):  # Linux and most Unixes; elsewhere the OS decides
        mapped.madvise(mmap.MADV_DONTNEED, released, upto - released)
    return upto


def _read_records(
    fh: IO[bytes],
    source: str,
    start: int,
    seekable: bool,
    wanted: Wanted | None,
    mapped: mmap.mmap | None,
) -> Iterator[Item]:
    records = 0
    # Known after the first record: one gzip member per WARC record, mapped, so a record that
    # is not used can be passed over (`_pass_over`); warcio reads the others one at a time.
    members = False
    resumable = seekable
    warc = ".arc" not in source.lower().rsplit("/", 1)[-1]
    gzipped: bool | None = None
    at = start
    size = fh.seek(0, 2) if seekable else 0
    released = start - start % mmap.PAGESIZE
    while True:
        if members and mapped is not None:
            released = _release(mapped, released, at)
            passed = _pass_over(mapped, at, source, wanted)
            if passed is not None:
                end, skip = passed
                records += 1
                if skip is not None:
                    yield skip
                yield Position(source, end, records)
                at = end
                continue
        if seekable:
            fh.seek(at)
            head = fh.read(4)
            if not head:
                return
            fh.seek(at)
            if gzipped is None:
                gzipped = head[:3] == _GZIP_MAGIC
        # ARC records are converted only in an ARC file: in a WARC file, garbage whose first
        # line reads as an ARC header (URL IP DATE TYPE LENGTH) is refused below.
        # HTTP headers are parsed only for the records that are used (`_item`), not for every
        # request and every unwanted response.
        iterator = ArchiveIterator(
            fh, no_record_parse=True, arc2warc=not warc, check_digests=False, block_size=_BLOCK
        )
        damaged: str | None = None
        one_only = False
        try:
            for record in iterator:
                offset = iterator.offset  # get_record_offset() would read the record first
                if warc and record.format != "warc":
                    raise ValueError(f"not a WARC record: {record.format} header")
                item = _item(record, source, offset, wanted, iterator.loader)
                iterator.read_to_end(record)
                records += 1
                end = offset + iterator.get_record_length()
                # The first record tells: one gzip member per record, or one stream.
                if gzipped and resumable and records == 1 and not _gzip_at(fh, end):
                    resumable = False  # one gzip stream: offsets are not record starts
                # (In one gzip stream over the whole file, offsets are not the file's: a cut
                # is seen by the decompressor, below.)
                whole_gzip = bool(gzipped) and not resumable
                if seekable and not whole_gzip and _cut_short(fh, offset, end, bool(gzipped), size):
                    yield Skip(source, offset, None, "truncated", "the file ends in this record")
                    return
                if item is not None:
                    yield item
                yield Position(source, end if resumable else None, records)
                at = end
                members = warc and bool(gzipped) and resumable and mapped is not None
                if members:
                    one_only = True  # the next record may be passed over: see it first
                    break
        except ArchiveLoadFailed as exc:
            if seekable and gzipped and "non-chunked gzip" in str(exc):
                # One gzip stream over the whole file (warcio reads only per-record members):
                # read it again decompressed, from the record after those already given.
                fh.seek(0)
                stream = cast(IO[bytes], gzip.GzipFile(fileobj=fh))
                items = _read_stream(stream, source, 0, seekable=False, wanted=wanted)
                yield from _after(items, records)
                return
            damaged = _one_line(exc)
        except Exception as exc:  # a broken record: note it, go on at the next record start
            damaged = _one_line(exc)
        if damaged is None:
            if one_only:
                continue
            return
        if not seekable:
            yield Skip(source, at, None, "truncated", damaged)
            return
        following = _next_record_start(fh, at + 1, bool(gzipped))
        if following is None:
            yield Skip(source, at, None, "truncated", damaged)
            return
        yield Skip(source, at, None, "bad_record", damaged)
        at = following


def _pass_over(
    mapped: mmap.mmap, at: int, source: str, wanted: Wanted | None
) -> tuple[int, Skip | None] | None:
    """The end of the gzip member at ``at`` and the `Skip` its record makes (None for a record
    that is no capture: a request, metadata), found without inflating the record's block,
    when its record is one the ingest does not use. None for a record to read with warcio: a
    wanted capture or revisit, or anything this header reading is not sure of.

    The member's end: the gzip format ends a member with the length of what it holds (ISIZE,
    modulo 2**32), and a WARC record's length is known from its header (the header, its
    ``Content-Length`` bytes of block, two CRLFs). The first gzip header after ``at`` preceded
    by that length is the next member; a member whose length or end does not agree (a wrong
    Content-Length, a cut-short file) is left to warcio, which reports it as before. A gzip
    header inside a member is taken for the next one only where the four bytes before it are
    also that length (about one chance in 2**32 for bytes not made to fool it; bytes made to
    could as well have been written as records)."""
    if mapped[at : at + 3] != _GZIP_MAGIC:
        return None
    head, stop = b"", -1
    try:
        for compressed, inflated in _HEAD_TRIES:
            head = _inflater.decompressobj(16 + zlib.MAX_WBITS).decompress(
                mapped[at : at + compressed], inflated
            )
            stop = head.find(b"\r\n\r\n")
            if stop >= 0:
                break
    except Exception:  # zlib.error and zlib_ng's own: a damaged member, for warcio to report
        return None
    if stop < 0 or not head.startswith((b"WARC/1.0\r\n", b"WARC/1.1\r\n")):
        return None
    header = head[:stop]
    if not header.isascii() or _ODD_LINE.search(header):
        return None  # another encoding, a folded or malformed line: warcio's reading decides
    fields: dict[bytes, str] = {}
    for name, value in _FIELDS.findall(header):
        fields.setdefault(name.lower(), value.strip().decode("ascii"))
    length = fields.get(b"content-length", "")
    target = fields.get(b"warc-target-uri", "")
    if b"warc-type" not in fields or not length.isdigit() or " " in target:
        return None  # (warcio rewrites a URI's spaces: its reading gives the URL)
    screened = _screen(
        fields[b"warc-type"], target, fields.get(b"warc-date", ""), source, at, wanted
    )
    if isinstance(screened, tuple):
        return None  # a capture to use
    end = _member_end(mapped, at, stop + 4 + int(length) + 4)
    return None if end is None else (end, screened)


def _member_end(mapped: mmap.mmap, at: int, inflated: int) -> int | None:
    """Where the gzip member at ``at``, holding ``inflated`` bytes, ends: the first gzip header
    (or the file's end) after it whose preceding four bytes are that length; None if none is
    found where deflate could have put it (a member is at most a little larger than what it
    holds: stored blocks, the gzip header's optional fields)."""
    isize = (inflated & 0xFFFFFFFF).to_bytes(4, "little")
    size = len(mapped)
    limit = min(size, at + inflated + inflated // 64 + 65_600)
    # The smallest member: a 10-byte header, an empty deflate block, the 8-byte trailer.
    p = at + 14
    while True:
        p = mapped.find(isize + _GZIP_MAGIC, p, limit + 3)
        if p < 0:
            break
        flags = mapped[p + 7 : p + 8]  # the next header's: its reserved bits are clear
        if not flags or not flags[0] & 0xE0:
            return p + 4
        p += 1
    if limit == size and mapped[size - 4 : size] == isize:
        return size
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _after(items: Iterator[Item], records: int) -> Iterator[Item]:
    """``items`` from the record after the first ``records`` on (a `Position` ends each)."""
    seen = 0
    for item in items:
        if seen >= records:
            yield item
        elif isinstance(item, Position):
            seen += 1


def _cut_short(fh: IO[bytes], offset: int, end: int, member: bool, size: int) -> bool:
    """True when the record ending at ``end`` is the file's last (``size``: the file's) and
    incomplete: warcio reads a cut-short last record without complaint (its gzip member or
    its closing CRLFs are missing)."""
    if end < size:
        return False
    here = fh.tell()
    try:
        if member:
            fh.seek(offset)
            return not whole_member_at(fh)
        fh.seek(max(0, size - 4))
        return fh.read(4) != b"\r\n\r\n"
    finally:
        fh.seek(here)


def _gzip_at(fh: IO[bytes], offset: int) -> bool:
    """True when a gzip member starts at ``offset`` or the file ends there."""
    if offset < 0:  # warcio's offsets inside one gzip stream are not the file's
        return False
    here = fh.tell()
    try:
        fh.seek(offset)
        head = fh.read(3)
        return head == _GZIP_MAGIC or head == b""
    finally:
        fh.seek(here)


def _next_record_start(fh: IO[bytes], offset: int, gzipped: bool) -> int | None:
    """The next place after ``offset`` where a record seems to start (a gzip member header
    in a gzipped file, ``WARC/1.x`` at a line start in a plain one)."""
    fh.seek(offset)
    base = offset
    tail = b""
    while True:
        chunk = fh.read(_SCAN_CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        if gzipped:
            k = data.find(_GZIP_MAGIC)
            if k >= 0:
                return base - len(tail) + k
        else:
            m = _RECORD_START.search(data)
            if m is not None:
                return base - len(tail) + m.start(1)
        tail = data[-16:]
        base += len(chunk)


def _screen(
    kind: str, target: str, warc_date: str, source: str, offset: int, wanted: Wanted | None
) -> tuple[str, datetime] | Skip | None:
    """What a record's WARC header alone says of it for the ingest: None for a record that is
    no capture of a page, a `Skip` for one not used, else its URL and capture time (read on).
    Both readers ask it: warcio's records (`_item`) and the members passed over unread."""
    if kind not in ("response", "revisit"):
        return None  # request, warcinfo, metadata, resource: not captures of a page
    url = target.strip("<>")
    if not url.startswith(("http://", "https://")):
        return None  # dns:, whois:, screenshots
    try:
        date = parse_warc_date(warc_date)
    except ValueError:
        return Skip(source, offset, url, "bad_record", "no valid WARC-Date")
    if wanted is not None:
        reason = wanted(url, date)
        if reason is not None:
            return Skip(source, offset, url, reason, "")
    return url, date


def _item(
    record: Any, source: str, offset: int, wanted: Wanted | None, loader: Any
) -> Capture | Revisit | Skip | None:
    """What a record is for the ingest. ``loader``: the iterator's record loader, to parse the
    HTTP headers of a response that is used (the iterator was told not to parse any)."""
    kind = record.rec_type
    h = record.rec_headers
    screened = _screen(
        kind,
        h.get_header("WARC-Target-URI") or "",
        h.get_header("WARC-Date") or "",
        source,
        offset,
        wanted,
    )
    if not isinstance(screened, tuple):
        return screened
    url, date = screened
    record_id = h.get_header("WARC-Record-ID")
    digest = h.get_header("WARC-Payload-Digest")
    if kind == "revisit":
        return Revisit(source, offset, url, date, record_id, digest, h.get_header("WARC-Refers-To"))
    http = loader.load_http_headers(kind, url, record.raw_stream, record.length)
    if http is None or not http.statusline:
        return Skip(source, offset, url, "bad_http", "no HTTP response in the record")
    try:
        status = int(http.get_statuscode())
    except (TypeError, ValueError):
        return Skip(source, offset, url, "bad_http", f"bad status line {http.statusline!r}")
    if not 200 <= status < 300:
        return Skip(source, offset, url, "http_status", f"HTTP {status}")
    content_type = http.get_header("Content-Type")
    declared = h.get_header("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        return Skip(source, offset, url, "too_large", f"record of {int(declared):,} bytes")
    if content_type is not None and not _htmlish(content_type):
        return Skip(source, offset, url, "not_html", content_type[:80])
    raw = record.raw_stream.read(MAX_PAYLOAD_BYTES + 1)
    if len(raw) > MAX_PAYLOAD_BYTES:
        return Skip(source, offset, url, "too_large", f"payload over {MAX_PAYLOAD_BYTES:,} bytes")
    if content_type is None and not _looks_html(raw):
        return Skip(source, offset, url, "not_html", "no Content-Type, and not HTML")
    if "chunked" in (http.get_header("Transfer-Encoding") or "").lower():
        raw = dechunk(raw)
    try:
        body = decode_content(raw, http.get_header("Content-Encoding"))
    except RawReadError as exc:
        return Skip(source, offset, url, "content_encoding", str(exc))
    if len(body) > min(MAX_PAYLOAD_BYTES, MAX_DECODED_BYTES):
        return Skip(source, offset, url, "too_large", f"decoded body of {len(body):,} bytes")
    return Capture(source, offset, url, date, record_id, status, content_type, body, digest)


def _htmlish(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    return main in ("text/html", "application/xhtml+xml", "")


def _looks_html(raw: bytes) -> bool:
    head = raw[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def dechunk(data: bytes) -> bytes:
    """The body of a ``Transfer-Encoding: chunked`` message; as stored where it is not
    validly chunked (archives hold both, whatever the header says)."""
    out: list[bytes] = []
    at = 0
    while True:
        eol = data.find(b"\r\n", at)
        if eol < 0:
            return data
        size_field = data[at:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return data
        if size == 0:
            return b"".join(out)
        start = eol + 2
        if start + size > len(data):
            out.append(data[start:])  # cut short: keep what there is
            return b"".join(out)
        out.append(data[start : start + size])
        at = start + size + 2


def chunked(body: bytes, size: int = 1000) -> bytes:
    """``body`` as a ``Transfer-Encoding: chunked`` message body, ``size`` bytes a chunk (the
    inverse of `dechunk`; the tests and bench/ingest.py write such bodies)."""
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"
